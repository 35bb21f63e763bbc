package s3requests_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/restorable/restorable/collectors/s3requests"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

func awsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
}

// query is what the server read of one metric query of a request.
type query struct {
	id, metric, bucket, filter, stat string
	period                           uint64
}

// cwRequest is what the server read of one GetMetricData request.
type cwRequest struct {
	queries    []query
	start, end time.Time
	nextToken  string
}

// cwServer replays CloudWatch's protocol in this SDK version: Smithy RPC v2
// CBOR (POST /service/GraniteServiceVersion20100801/operation/GetMetricData,
// application/cbor bodies), query-compatible errors (X-Amzn-Query-Error).
// answer returns the status, extra headers and CBOR body of the n-th
// request (from 1).
type cwServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []cwRequest
}

func newCWServer(t *testing.T, answer func(n int, r cwRequest) (int, http.Header, cbor.Map)) *cwServer {
	s := &cwServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/service/GraniteServiceVersion20100801/operation/GetMetricData" {
			t.Errorf("path %s", r.URL.Path)
		}
		if r.Header.Get("Smithy-Protocol") != "rpc-v2-cbor" || r.Header.Get("Content-Type") != "application/cbor" {
			t.Errorf("headers %v", r.Header)
		}
		data, _ := io.ReadAll(r.Body)
		req := decodeRequest(t, data)
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		n := len(s.reqs)
		s.mu.Unlock()
		status, h, body := answer(n, req)
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Smithy-Protocol", "rpc-v2-cbor")
		w.Header().Set("Content-Type", "application/cbor")
		w.WriteHeader(status)
		_, _ = w.Write(cbor.Encode(body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *cwServer) requests() []cwRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cwRequest(nil), s.reqs...)
}

func decodeRequest(t *testing.T, data []byte) cwRequest {
	v, err := cbor.Decode(data)
	if err != nil {
		t.Fatalf("request is not CBOR: %v", err)
	}
	m := v.(cbor.Map)
	var r cwRequest
	r.start, _ = cbor.AsTime(m["StartTime"])
	r.end, _ = cbor.AsTime(m["EndTime"])
	if tok, ok := m["NextToken"].(cbor.String); ok {
		r.nextToken = string(tok)
	}
	for _, qv := range m["MetricDataQueries"].(cbor.List) {
		q := qv.(cbor.Map)
		stat := q["MetricStat"].(cbor.Map)
		metric := stat["Metric"].(cbor.Map)
		out := query{id: str(q["Id"]), metric: str(metric["MetricName"]), stat: str(stat["Stat"])}
		if p, ok := stat["Period"].(cbor.Uint); ok {
			out.period = uint64(p)
		}
		if ns := str(metric["Namespace"]); ns != "AWS/S3" {
			t.Errorf("namespace %q", ns)
		}
		for _, dv := range metric["Dimensions"].(cbor.List) {
			d := dv.(cbor.Map)
			switch str(d["Name"]) {
			case "BucketName":
				out.bucket = str(d["Value"])
			case "FilterId":
				out.filter = str(d["Value"])
			}
		}
		r.queries = append(r.queries, out)
	}
	return r
}

func str(v cbor.Value) string {
	s, _ := v.(cbor.String)
	return string(s)
}

// result is one MetricDataResult as CloudWatch encodes it: timestamps as
// epoch-seconds CBOR tag 1.
func result(id, status string, at []time.Time, values []float64) cbor.Map {
	ts, vs := cbor.List{}, cbor.List{}
	for i := range at {
		ts = append(ts, &cbor.Tag{ID: 1, Value: cbor.Float64(float64(at[i].Unix()))})
		vs = append(vs, cbor.Float64(values[i]))
	}
	return cbor.Map{"Id": cbor.String(id), "Label": cbor.String(id), "StatusCode": cbor.String(status), "Timestamps": ts, "Values": vs, "Messages": cbor.List{}}
}

func load(t *testing.T, yml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var now = time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)

func newCollector(t *testing.T, cfg *config.Config, name string) *s3requests.Collector {
	t.Helper()
	c, err := s3requests.New(cfg.Source(name), cfg.Prices(), slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const twoBuckets = `
environments: {prod: {rpo: 1h}, staging: {rpo: 1d}}
sources:
  - name: bucket-requests
    type: s3requests
    env: prod
    s3requests:
      region: eu-west-1
      endpoint: "%s"
      lookback: 2d
      buckets:
        - {name: acme-restic}
        - {name: acme-pgbackrest, filter_id: backups, storage_class: STANDARD_IA, env: staging, dataset: payments}
`

// Every bucket and metric is one query of the request; the answer comes
// in two pages, the second asked with the first's NextToken; each page is
// one counted request; every datapoint becomes a count of its period,
// priced at its bucket's storage class.
func TestPaginationAndMapping(t *testing.T) {
	awsEnv(t)
	day1 := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	srv := newCWServer(t, func(n int, r cwRequest) (int, http.Header, cbor.Map) {
		if n == 1 {
			return 200, nil, cbor.Map{"MetricDataResults": cbor.List{
				// q1 (acme-restic GetRequests) goes on in the next page.
				result("q1", "PartialData", []time.Time{day1}, []float64{10000}),
				result("q2", "Complete", []time.Time{day1, day2}, []float64{2000, 4000}),
			}, "NextToken": cbor.String("page-2"), "Messages": cbor.List{}}
		}
		return 200, nil, cbor.Map{"MetricDataResults": cbor.List{
			result("q0", "Complete", []time.Time{day2}, []float64{16000}),
			result("q1", "Complete", []time.Time{day2}, []float64{12000}),
			result("q4", "Complete", []time.Time{day2}, []float64{300}),
			result("q8", "Complete", []time.Time{day2}, []float64{1000}),
		}, "Messages": cbor.List{}}
	})
	cfg := load(t, fmt.Sprintf(twoBuckets, srv.URL))
	meter := &runx.Meter{}
	c := newCollector(t, cfg, "bucket-requests")
	cat, err := c.Collect(runx.WithMeter(context.Background(), meter))
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 || meter.Calls()[s3requests.Operation] != 2 {
		t.Fatalf("%d requests, counted %v; want 2 pages", len(reqs), meter.Calls())
	}
	if reqs[0].nextToken != "" || reqs[1].nextToken != "page-2" {
		t.Errorf("tokens %q, %q", reqs[0].nextToken, reqs[1].nextToken)
	}
	// Two whole days before today.
	if !reqs[0].start.Equal(day1) || !reqs[0].end.Equal(day2.Add(24*time.Hour)) {
		t.Errorf("window %s to %s", reqs[0].start, reqs[0].end)
	}
	qs := reqs[0].queries
	if len(qs) != 14 || c.UnitsPerCall()[s3requests.Operation] != 14 {
		t.Fatalf("%d queries (units per call %v), want 2 buckets × 7 metrics", len(qs), c.UnitsPerCall())
	}
	if q := qs[0]; q.id != "q0" || q.metric != "AllRequests" || q.bucket != "acme-restic" || q.filter != "EntireBucket" || q.stat != "Sum" || q.period != 86400 {
		t.Errorf("first query %+v", q)
	}
	if q := qs[8]; q.metric != "GetRequests" || q.bucket != "acme-pgbackrest" || q.filter != "backups" {
		t.Errorf("query 8 %+v", q)
	}
	got := map[string]model.RequestCount{}
	for _, r := range cat.Requests {
		got[fmt.Sprintf("%s %s %s", r.Resource, r.Operation, r.PeriodStart.Format(time.DateOnly))] = r
	}
	if len(cat.Requests) != 7 {
		t.Errorf("%d counts, want 7: %+v", len(cat.Requests), cat.Requests)
	}
	for _, tc := range []struct {
		key, env, dataset string
		count, cost       float64
		costKnown         bool
	}{
		{"acme-restic AllRequests 2026-11-29", "prod", "acme-restic", 16000, 0, false},
		{"acme-restic GetRequests 2026-11-28", "prod", "acme-restic", 10000, 0.004, true},
		{"acme-restic GetRequests 2026-11-29", "prod", "acme-restic", 12000, 0.0048, true},
		{"acme-restic PutRequests 2026-11-28", "prod", "acme-restic", 2000, 0.01, true},
		{"acme-restic PutRequests 2026-11-29", "prod", "acme-restic", 4000, 0.02, true},
		{"acme-restic DeleteRequests 2026-11-29", "prod", "acme-restic", 300, 0, true},
		{"acme-pgbackrest/backups GetRequests 2026-11-29", "staging", "payments", 1000, 0.001, true},
	} {
		r, ok := got[tc.key]
		if !ok {
			t.Errorf("no count %s", tc.key)
			continue
		}
		if r.Origin != "cloudwatch" || r.Source != "bucket-requests" || r.Env != tc.env || r.Dataset != tc.dataset || r.Count != tc.count ||
			r.CostKnown != tc.costKnown || math.Abs(r.Cost-tc.cost) > 1e-12 || r.CostEstimated != tc.costKnown || r.PeriodEnd.Sub(r.PeriodStart) != 24*time.Hour {
			t.Errorf("%s: %+v", tc.key, r)
		}
		if tc.costKnown && r.Currency != "USD" || !tc.costKnown && r.Currency != "" {
			t.Errorf("%s: currency %q", tc.key, r.Currency)
		}
	}
}

// More than 500 queries go in several requests of at most 500 each.
func TestBatches(t *testing.T) {
	awsEnv(t)
	var buckets []string
	for i := range 80 {
		buckets = append(buckets, fmt.Sprintf("{name: b%02d}", i))
	}
	srv := newCWServer(t, func(n int, r cwRequest) (int, http.Header, cbor.Map) {
		return 200, nil, cbor.Map{"MetricDataResults": cbor.List{}}
	})
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - name: many
    type: s3requests
    s3requests: {region: eu-west-1, endpoint: "`+srv.URL+`", buckets: [`+strings.Join(buckets, ", ")+`]}
`)
	c := newCollector(t, cfg, "many")
	if _, err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 || len(reqs[0].queries) != 500 || len(reqs[1].queries) != 60 {
		t.Fatalf("%d requests", len(reqs))
	}
	if u := c.UnitsPerCall()[s3requests.Operation]; u != 280 {
		t.Errorf("units per call %v, want 560 metrics / 2 requests", u)
	}
}

// CloudWatch throttles with 400 and the query error Throttling; the
// request is retried and each attempt counted.
func TestThrottlingIsRetried(t *testing.T) {
	awsEnv(t)
	srv := newCWServer(t, func(n int, r cwRequest) (int, http.Header, cbor.Map) {
		if n == 1 {
			return 400, http.Header{"X-Amzn-Query-Error": {"Throttling;Sender"}}, cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#ThrottlingException"), "message": cbor.String("Rate exceeded")}
		}
		return 200, nil, cbor.Map{"MetricDataResults": cbor.List{result("q0", "Complete", []time.Time{now.Truncate(24 * time.Hour).Add(-24 * time.Hour)}, []float64{5})}}
	})
	cfg := load(t, fmt.Sprintf(twoBuckets, srv.URL))
	meter := &runx.Meter{}
	cat, err := newCollector(t, cfg, "bucket-requests").Collect(runx.WithMeter(context.Background(), meter))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Requests) != 1 || len(srv.requests()) != 2 || meter.Calls()[s3requests.Operation] != 2 {
		t.Errorf("%d counts after %d requests, counted %v", len(cat.Requests), len(srv.requests()), meter.Calls())
	}
}

// Expired credentials are a configuration error naming the source, and
// are not retried.
func TestExpiredToken(t *testing.T) {
	awsEnv(t)
	srv := newCWServer(t, func(n int, r cwRequest) (int, http.Header, cbor.Map) {
		return 403, http.Header{"X-Amzn-Query-Error": {"ExpiredToken;Sender"}}, cbor.Map{"__type": cbor.String("com.amazon.coral.service#ExpiredTokenException"), "message": cbor.String("The security token included in the request is expired")}
	})
	cfg := load(t, fmt.Sprintf(twoBuckets, srv.URL))
	_, err := newCollector(t, cfg, "bucket-requests").Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(fmt.Sprint(err), "source bucket-requests") || !strings.Contains(fmt.Sprint(err), "ExpiredToken") {
		t.Errorf("err %v (kind %s)", err, runx.KindOf(err))
	}
	if len(srv.requests()) != 1 {
		t.Errorf("%d requests, want 1", len(srv.requests()))
	}
}

// A query CloudWatch could not answer fails the collection with its
// messages; an answer to a query never asked is a parse error.
func TestBadAnswers(t *testing.T) {
	awsEnv(t)
	for _, tc := range []struct {
		name string
		res  cbor.Map
		kind runx.Kind
		msg  string
	}{
		{"forbidden", cbor.Map{"Id": cbor.String("q0"), "StatusCode": cbor.String("Forbidden"), "Timestamps": cbor.List{}, "Values": cbor.List{},
			"Messages": cbor.List{cbor.Map{"Code": cbor.String("Forbidden"), "Value": cbor.String("not authorized")}}}, runx.KindIO, "status Forbidden; Forbidden: not authorized"},
		{"unasked", result("q99", "Complete", nil, nil), runx.KindParse, `query "q99"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newCWServer(t, func(n int, r cwRequest) (int, http.Header, cbor.Map) {
				return 200, nil, cbor.Map{"MetricDataResults": cbor.List{tc.res}}
			})
			cfg := load(t, fmt.Sprintf(twoBuckets, srv.URL))
			_, err := newCollector(t, cfg, "bucket-requests").Collect(context.Background())
			if runx.KindOf(err) != tc.kind || !strings.Contains(fmt.Sprint(err), tc.msg) {
				t.Errorf("err %v (kind %s)", err, runx.KindOf(err))
			}
		})
	}
}

// The window holds complete periods only, aligned to the period: a
// re-collection within the same period asks for the same counts.
func TestWindow(t *testing.T) {
	o := &config.S3RequestsOptions{Period: config.Duration(time.Hour), Lookback: config.Duration(3 * time.Hour)}
	start, end := s3requests.Window(time.Date(2026, 11, 30, 13, 59, 0, 0, time.UTC), o)
	if !start.Equal(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("window %s to %s", start, end)
	}
}

// CloudWatch metrics are regional: a source without a region (and no
// AWS_REGION) fails at start with a configuration error that says so.
func TestNoRegion(t *testing.T) {
	awsEnv(t)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - {name: s3, type: s3requests, s3requests: {buckets: [{name: b}]}}
`)
	_, err := s3requests.New(cfg.Source("s3"), nil, slog.New(slog.DiscardHandler), time.Now)
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(fmt.Sprint(err), "no region (set region: or AWS_REGION)") {
		t.Errorf("err %v", err)
	}
}
