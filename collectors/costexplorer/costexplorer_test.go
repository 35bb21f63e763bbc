package costexplorer_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/collectors/costexplorer"
	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// awsEnv gives the SDK static test credentials and keeps it away from the
// machine's own AWS files and instance metadata.
func awsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_PROFILE", "")
}

// ceRequest is what the replaying server saw of one request.
type ceRequest struct {
	Target string
	Body   map[string]any
}

// ceServer replays Cost Explorer's JSON 1.1 protocol: every request is a
// POST of application/x-amz-json-1.1 with X-Amz-Target
// AWSInsightsIndexService.GetCostAndUsage; answer returns the status and
// body of the n-th request (from 1).
type ceServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []ceRequest
}

func newCEServer(t *testing.T, answer func(n int, body map[string]any) (int, string)) *ceServer {
	s := &ceServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(data, &body); err != nil {
			t.Errorf("request body is not JSON: %v", err)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("Content-Type %q", ct)
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, ceRequest{Target: r.Header.Get("X-Amz-Target"), Body: body})
		n := len(s.reqs)
		s.mu.Unlock()
		status, resp := answer(n, body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *ceServer) requests() []ceRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ceRequest(nil), s.reqs...)
}

func fixture(t *testing.T, name string) string {
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
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

func newCollector(t *testing.T, cfg *config.Config, name string) *costexplorer.Collector {
	t.Helper()
	c, err := costexplorer.New(cfg.Source(name), slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Two pages: the second request carries the first answer's NextPageToken,
// each page is one request the meter counts, and every group becomes a cost
// line with its fields mapped.
func TestPaginationAndMapping(t *testing.T) {
	awsEnv(t)
	srv := newCEServer(t, func(n int, body map[string]any) (int, string) {
		if n == 1 {
			return 200, fixture(t, "page1.json")
		}
		return 200, fixture(t, "page2.json")
	})
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - name: aws-costs
    type: costexplorer
    env: prod
    costexplorer: {endpoint: "`+srv.URL+`", lookback: 3d}
`)
	meter := &runx.Meter{}
	cat, err := newCollector(t, cfg, "aws-costs").Collect(runx.WithMeter(context.Background(), meter))
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (one per page)", len(reqs))
	}
	if got := meter.Calls()[costexplorer.Operation]; got != 2 {
		t.Errorf("meter counted %v, want 2 %s", meter.Calls(), costexplorer.Operation)
	}
	for _, r := range reqs {
		if r.Target != "AWSInsightsIndexService.GetCostAndUsage" {
			t.Errorf("X-Amz-Target %q", r.Target)
		}
	}
	first, second := reqs[0].Body, reqs[1].Body
	if _, ok := first["NextPageToken"]; ok {
		t.Errorf("first request has a NextPageToken: %v", first)
	}
	if second["NextPageToken"] != "AAMA-EFRSURBSGhB" {
		t.Errorf("second request's NextPageToken = %v", second["NextPageToken"])
	}
	// Whole days up to and excluding today, lookback 3 days back.
	tp := first["TimePeriod"].(map[string]any)
	if tp["Start"] != "2026-11-27" || tp["End"] != "2026-11-30" || first["Granularity"] != "DAILY" {
		t.Errorf("time period %v granularity %v", tp, first["Granularity"])
	}
	if got, _ := json.Marshal(first["Metrics"]); string(got) != `["UnblendedCost","AmortizedCost","UsageQuantity"]` {
		t.Errorf("metrics %s", got)
	}
	if got, _ := json.Marshal(first["GroupBy"]); string(got) != `[{"Key":"SERVICE","Type":"DIMENSION"},{"Key":"USAGE_TYPE","Type":"DIMENSION"}]` {
		t.Errorf("group by %s", got)
	}
	if got, _ := json.Marshal(first["Filter"]); string(got) != `{"Dimensions":{"Key":"SERVICE","Values":["Amazon Simple Storage Service","AWS Backup"]}}` {
		t.Errorf("filter %s", got)
	}

	if len(cat.CostLines) != 4 {
		t.Fatalf("%d cost lines, want 4: %+v", len(cat.CostLines), cat.CostLines)
	}
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	want := []model.CostLine{
		{Source: "aws-costs", Format: "costexplorer", LineID: "2026-11-29/2026-11-30/Amazon Simple Storage Service/USW2-TimedStorage-ByteHrs",
			PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Provider: "AWS", Region: "us-west-2", Service: "Amazon Simple Storage Service",
			Category: model.CostStorage, StorageClass: "STANDARD", UsageType: "USW2-TimedStorage-ByteHrs", Quantity: 32.1913043478, Unit: "GB-Mo",
			BilledCost: 0.7404, EffectiveCost: 0.7404, ListCost: 0.7404, Currency: "USD", Env: "prod"},
		{Source: "aws-costs", Format: "costexplorer", LineID: "2026-11-29/2026-11-30/Amazon Simple Storage Service/USW2-Requests-Tier1",
			PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Provider: "AWS", Region: "us-west-2", Service: "Amazon Simple Storage Service",
			Category: model.CostRequests, StorageClass: "STANDARD", UsageType: "USW2-Requests-Tier1", Quantity: 2500, Unit: "Requests",
			BilledCost: 0.0125, EffectiveCost: 0.0125, ListCost: 0.0125, Currency: "USD", Env: "prod"},
		{Source: "aws-costs", Format: "costexplorer", LineID: "2026-11-29/2026-11-30/AWS Backup/EUC1-WarmStorage-ByteHrs-EFS",
			PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Provider: "AWS", Region: "eu-central-1", Service: "AWS Backup",
			Category: model.CostStorage, StorageClass: "WARM", UsageType: "EUC1-WarmStorage-ByteHrs-EFS", Quantity: 30, Unit: "GB-Mo",
			BilledCost: 1.6, EffectiveCost: 1.5, ListCost: 1.6, Currency: "USD", Env: "prod"},
		// A zero is a real zero; Cost Explorer's "N/A" unit is no unit.
		{Source: "aws-costs", Format: "costexplorer", LineID: "2026-11-29/2026-11-30/Amazon Simple Storage Service/EarlyDelete-SIA",
			PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Provider: "AWS", Region: "us-east-1", Service: "Amazon Simple Storage Service",
			Category: model.CostEarlyDelete, StorageClass: "STANDARD_IA", UsageType: "EarlyDelete-SIA", Currency: "USD", Env: "prod"},
	}
	for i := range want {
		got, _ := json.Marshal(cat.CostLines[i])
		exp, _ := json.Marshal(want[i])
		if string(got) != string(exp) {
			t.Errorf("line %d\n got %s\nwant %s", i, got, exp)
		}
	}
	// Its request line, in Requests, is a day's request count of origin
	// bill (docs/metrics.md): Cost Explorer's unit counts requests.
	rc := billing.RequestCounts(cat.CostLines)
	if len(rc) != 1 || rc[0].Operation != "Requests-Tier1" || rc[0].Count != 2500 || rc[0].Cost != 0.0125 || !rc[0].CostKnown ||
		rc[0].Env != "prod" || !rc[0].PeriodStart.Equal(day) || !rc[0].PeriodEnd.Equal(day.Add(24*time.Hour)) {
		t.Errorf("request counts %+v", rc)
	}
}

// With a tag, the service is a filter: one query per service, grouped by
// usage type and the tag, whose value becomes the line's tag ("app$" is
// the untagged group). MONTHLY periods start on the first of the month.
func TestGroupByTagMonthly(t *testing.T) {
	awsEnv(t)
	srv := newCEServer(t, func(n int, body map[string]any) (int, string) { return 200, fixture(t, "tag.json") })
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - name: aws-costs
    type: costexplorer
    costexplorer:
      endpoint: "`+srv.URL+`"
      granularity: MONTHLY
      lookback: 20d
      services: [Amazon Simple Storage Service]
      metrics: [UnblendedCost]
      group_by_tag: app
`)
	cat, err := newCollector(t, cfg, "aws-costs").Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	b := reqs[0].Body
	if tp := b["TimePeriod"].(map[string]any); tp["Start"] != "2026-11-01" || tp["End"] != "2026-11-30" || b["Granularity"] != "MONTHLY" {
		t.Errorf("time period %v, granularity %v", tp, b["Granularity"])
	}
	if got, _ := json.Marshal(b["GroupBy"]); string(got) != `[{"Key":"USAGE_TYPE","Type":"DIMENSION"},{"Key":"app","Type":"TAG"}]` {
		t.Errorf("group by %s", got)
	}
	if len(cat.CostLines) != 2 {
		t.Fatalf("%d lines", len(cat.CostLines))
	}
	tagged, untagged := cat.CostLines[0], cat.CostLines[1]
	if tagged.Tags["app"] != "payments" || untagged.Tags != nil || tagged.Service != "Amazon Simple Storage Service" ||
		tagged.StorageClass != "GLACIER" || tagged.Region != "eu-west-1" || tagged.BilledCost != 3.6 || tagged.EffectiveCost != 3.6 {
		t.Errorf("lines %+v", cat.CostLines)
	}
	if tagged.LineID == untagged.LineID {
		t.Errorf("tagged and untagged lines share the id %s", tagged.LineID)
	}
}

// Cost Explorer throttles with 400 LimitExceededException; the request is
// retried, and every attempt is counted, being billed.
func TestThrottlingIsRetried(t *testing.T) {
	awsEnv(t)
	srv := newCEServer(t, func(n int, body map[string]any) (int, string) {
		if n == 1 {
			return 400, `{"__type":"LimitExceededException","Message":"Rate exceeded"}`
		}
		return 200, fixture(t, "page2.json")
	})
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - {name: aws-costs, type: costexplorer, costexplorer: {endpoint: "`+srv.URL+`"}}
`)
	meter := &runx.Meter{}
	cat, err := newCollector(t, cfg, "aws-costs").Collect(runx.WithMeter(context.Background(), meter))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.CostLines) != 2 || len(srv.requests()) != 2 || meter.Calls()[costexplorer.Operation] != 2 {
		t.Errorf("%d lines after %d requests, counted %v", len(cat.CostLines), len(srv.requests()), meter.Calls())
	}
}

// Expired credentials fail the source with a configuration error that
// names it and says what to do; another source collected by the same
// scheduler is not affected.
func TestExpiredTokenFailsOnlyItsSource(t *testing.T) {
	awsEnv(t)
	expired := newCEServer(t, func(n int, body map[string]any) (int, string) {
		return 400, `{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"The security token included in the request is expired"}`
	})
	good := newCEServer(t, func(n int, body map[string]any) (int, string) { return 200, fixture(t, "page2.json") })
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
collection: {jitter: 0s}
sources:
  - {name: old-keys, type: costexplorer, costexplorer: {endpoint: "`+expired.URL+`"}}
  - {name: aws-costs, type: costexplorer, costexplorer: {endpoint: "`+good.URL+`"}}
`)
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	runs := make(chan collectors.Run, 2)
	sched, err := collectors.NewScheduler(cfg, cs, collectors.SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(r collectors.Run) { runs <- r }})
	if err != nil {
		t.Fatal(err)
	}
	sched.Start(context.Background())
	defer sched.Stop()
	got := map[string]collectors.Run{}
	for range 2 {
		select {
		case r := <-runs:
			got[r.Source] = r
		case <-time.After(30 * time.Second):
			t.Fatal("no collection within 30s")
		}
	}
	bad := got["old-keys"]
	if bad.Err == nil || bad.Kind != runx.KindConfig || !strings.Contains(bad.Err.Error(), "source old-keys") || !strings.Contains(bad.Err.Error(), "ExpiredTokenException") || !strings.Contains(bad.Err.Error(), "renew them") {
		t.Errorf("expired credentials gave kind %q: %v", bad.Kind, bad.Err)
	}
	if len(expired.requests()) != 1 {
		t.Errorf("expired credentials were tried %d times, want once (not retried)", len(expired.requests()))
	}
	if ok := got["aws-costs"]; ok.Err != nil || len(ok.Catalog.CostLines) != 2 {
		t.Errorf("the other source: %v, %+v", ok.Err, ok.Catalog)
	}
}

// A page token that comes back again would page forever (and bill each
// page): it is an error.
func TestRepeatedTokenStops(t *testing.T) {
	awsEnv(t)
	srv := newCEServer(t, func(n int, body map[string]any) (int, string) { return 200, fixture(t, "page1.json") })
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - {name: aws-costs, type: costexplorer, costexplorer: {endpoint: "`+srv.URL+`"}}
`)
	_, err := newCollector(t, cfg, "aws-costs").Collect(context.Background())
	if err == nil || runx.KindOf(err) != runx.KindParse || len(srv.requests()) != 2 {
		t.Errorf("err %v after %d requests", err, len(srv.requests()))
	}
}

// A malformed amount is a parse error naming the usage type.
func TestBadAmount(t *testing.T) {
	awsEnv(t)
	srv := newCEServer(t, func(n int, body map[string]any) (int, string) {
		return 200, strings.Replace(fixture(t, "page2.json"), `"1.6"`, `"1,6"`, 1)
	})
	cfg := load(t, `
environments: {prod: {rpo: 1h}}
sources:
  - {name: aws-costs, type: costexplorer, costexplorer: {endpoint: "`+srv.URL+`"}}
`)
	_, err := newCollector(t, cfg, "aws-costs").Collect(context.Background())
	var re *runx.Error
	if !errors.As(err, &re) || re.Kind != runx.KindParse || !strings.Contains(err.Error(), "EUC1-WarmStorage-ByteHrs-EFS") {
		t.Errorf("err %v", err)
	}
}

// The usage types of the AWS documentation ("Understanding your AWS
// billing and usage reports for Amazon S3", AWS Backup's) map to a
// category, a storage class and a region.
func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		usage, category, class, region string
		service                        string
	}{
		{"USW2-TimedStorage-GlacierByteHrs", "storage", "GLACIER", "us-west-2", "Amazon Simple Storage Service"},
		{"TimedStorage-ByteHrs", "storage", "STANDARD", "us-east-1", "Amazon Simple Storage Service"},
		{"EU-TimedStorage-SIA-ByteHrs", "storage", "STANDARD_IA", "eu-west-1", "Amazon Simple Storage Service"},
		{"TimedStorage-SIA-SmObjects", "storage", "STANDARD_IA", "us-east-1", "Amazon Simple Storage Service"},
		{"TimedStorage-ZIA-ByteHrs", "storage", "ONEZONE_IA", "us-east-1", "Amazon Simple Storage Service"},
		{"EUC1-TimedStorage-GDA-ByteHrs", "storage", "DEEP_ARCHIVE", "eu-central-1", "Amazon Simple Storage Service"},
		{"TimedStorage-GDA-Staging", "storage", "DEEP_ARCHIVE", "us-east-1", "Amazon Simple Storage Service"},
		{"TimedStorage-GIR-ByteHrs", "storage", "GLACIER_IR", "us-east-1", "Amazon Simple Storage Service"},
		{"TimedStorage-GlacierStaging", "storage", "GLACIER", "us-east-1", "Amazon Simple Storage Service"},
		{"TimedStorage-INT-FA-ByteHrs", "storage", "INTELLIGENT_TIERING", "us-east-1", "Amazon Simple Storage Service"},
		{"TimedStorage-RRS-ByteHrs", "storage", "REDUCED_REDUNDANCY", "us-east-1", "Amazon Simple Storage Service"},
		{"Requests-Tier1", "requests", "STANDARD", "us-east-1", "Amazon Simple Storage Service"},
		{"USW2-Requests-Tier2", "requests", "STANDARD", "us-west-2", "Amazon Simple Storage Service"},
		{"APN1-Requests-SIA-Tier2", "requests", "STANDARD_IA", "ap-northeast-1", "Amazon Simple Storage Service"},
		{"Requests-GIR-Tier1", "requests", "GLACIER_IR", "us-east-1", "Amazon Simple Storage Service"},
		{"Requests-Tier3", "transition", "GLACIER", "us-east-1", "Amazon Simple Storage Service"},
		{"Requests-Tier4", "requests", "", "us-east-1", "Amazon Simple Storage Service"},
		{"EarlyDelete-ByteHrs", "early_delete", "GLACIER", "us-east-1", "Amazon Simple Storage Service"},
		{"USW2-EarlyDelete-SIA", "early_delete", "STANDARD_IA", "us-west-2", "Amazon Simple Storage Service"},
		{"EarlyDelete-GDA", "early_delete", "DEEP_ARCHIVE", "us-east-1", "Amazon Simple Storage Service"},
		{"Retrieval-SIA", "retrieval", "STANDARD_IA", "us-east-1", "Amazon Simple Storage Service"},
		{"USE2-DataTransfer-Out-Bytes", "transfer", "", "us-east-2", "Amazon Simple Storage Service"},
		{"USE1-EUC1-AWS-Out-Bytes", "transfer", "", "us-east-1", "Amazon Simple Storage Service"},
		{"USE1-WarmStorage-ByteHrs-EFS", "storage", "WARM", "us-east-1", "AWS Backup"},
		{"EUC1-ColdStorage-ByteHrs-EFS", "storage", "COLD", "eu-central-1", "AWS Backup"},
		{"TagStorage-TagHrs", "other", "", "us-east-1", "Amazon Simple Storage Service"},
	} {
		cat, class, region := costexplorer.Classify(tc.service, tc.usage)
		if string(cat) != tc.category || class != tc.class || region != tc.region {
			t.Errorf("Classify(%s, %s) = %s %q %s, want %s %q %s", tc.service, tc.usage, cat, class, region, tc.category, tc.class, tc.region)
		}
		if !cat.Valid() {
			t.Errorf("Classify(%s): invalid category %s", tc.usage, cat)
		}
	}
}
