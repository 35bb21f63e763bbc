package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
)

// requestFixture are the daily counts the replayed CloudWatch reports for
// every bucket, by S3 request metric.
var requestFixture = map[string]float64{
	"AllRequests": 1500, "GetRequests": 1000, "PutRequests": 200, "ListRequests": 100,
	"DeleteRequests": 50, "HeadRequests": 100, "PostRequests": 50,
}

// awsReplay serves the fixture's AWS sources: Cost Explorer (JSON 1.1) and
// CloudWatch GetMetricData (Smithy RPC v2 CBOR), each in the shape its
// documentation and the SDK's snapshots give, and points the exporter's
// AWS SDK at static test credentials. It returns the server's URL.
func awsReplay(t *testing.T) string {
	t.Helper()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret-test", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull, "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		if r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
			w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
			w.Header().Set("Content-Type", "application/cbor")
			_, _ = w.Write(cbor.Encode(metricData(t, data)))
			return
		}
		day := time.Now().UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = fmt.Fprintf(w, `{"GroupDefinitions":[{"Type":"DIMENSION","Key":"SERVICE"},{"Type":"DIMENSION","Key":"USAGE_TYPE"}],
"ResultsByTime":[{"TimePeriod":{"Start":%q,"End":%q},"Total":{},"Groups":[
{"Keys":["Amazon Simple Storage Service","EU-TimedStorage-ByteHrs"],"Metrics":{"AmortizedCost":{"Amount":"0.77","Unit":"USD"},"UnblendedCost":{"Amount":"0.77","Unit":"USD"},"UsageQuantity":{"Amount":"33.5","Unit":"GB-Mo"}}}],
"Estimated":true}],"DimensionValueAttributes":[]}`, day.Format(time.DateOnly), day.Add(24*time.Hour).Format(time.DateOnly))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// metricData answers a GetMetricData request with one datapoint per query,
// for the last period of the request's window.
func metricData(t *testing.T, body []byte) cbor.Map {
	v, err := cbor.Decode(body)
	if err != nil {
		t.Errorf("GetMetricData request is not CBOR: %v", err)
		return cbor.Map{}
	}
	req := v.(cbor.Map)
	end, _ := cbor.AsTime(req["EndTime"])
	var results cbor.List
	for _, qv := range req["MetricDataQueries"].(cbor.List) {
		q := qv.(cbor.Map)
		stat := q["MetricStat"].(cbor.Map)
		period, _ := stat["Period"].(cbor.Uint)
		name, _ := stat["Metric"].(cbor.Map)["MetricName"].(cbor.String)
		at := end.Add(-time.Duration(period) * time.Second)
		results = append(results, cbor.Map{
			"Id": q["Id"], "Label": name, "StatusCode": cbor.String("Complete"),
			"Timestamps": cbor.List{&cbor.Tag{ID: 1, Value: cbor.Float64(float64(at.Unix()))}},
			"Values":     cbor.List{cbor.Float64(requestFixture[string(name)])},
			"Messages":   cbor.List{},
		})
	}
	return cbor.Map{"MetricDataResults": results, "Messages": cbor.List{}}
}
