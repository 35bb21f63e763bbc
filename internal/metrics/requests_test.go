package metrics

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// The request counts of a source become metrics of the latest period of
// each resource and operation; a count nothing prices has no cost series
// (unknown is absent, never 0).
func TestRequestMetrics(t *testing.T) {
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	count := func(op string, start time.Time, n, cost float64, known bool) model.RequestCount {
		r := model.RequestCount{Origin: "cloudwatch", Source: "db", Env: "prod", Dataset: "payments", Resource: "acme-restic", Operation: op,
			PeriodStart: start, PeriodEnd: start.Add(24 * time.Hour), Count: n}
		if known {
			r.Cost, r.Currency, r.CostKnown, r.CostEstimated = cost, "USD", true, true
		}
		return r
	}
	reg, _ := setup(t, &model.Catalog{Requests: []model.RequestCount{
		count("GetRequests", day.Add(24*time.Hour), 12000, 0.0048, true),
		count("GetRequests", day, 10000, 0.004, true),
		count("AllRequests", day.Add(24*time.Hour), 16000, 0, false),
	}})
	want := `
# HELP restorable_requests Requests against a store in the latest period its source reported, by operation: S3 request metrics from CloudWatch (origin cloudwatch; resource a bucket, or bucket/filter; operation the metric name), or a bill's request lines (origin bill; resource the bucket the line names, operation its usage type without region prefix); collected in the background. Absent when the source reported no count.
# TYPE restorable_requests gauge
restorable_requests{dataset="payments",env="prod",operation="AllRequests",origin="cloudwatch",resource="acme-restic",source="db"} 16000
restorable_requests{dataset="payments",env="prod",operation="GetRequests",origin="cloudwatch",resource="acme-restic",source="db"} 12000
# HELP restorable_requests_cost Cost of the requests of restorable_requests: estimated from the price table for origin cloudwatch, billed for origin bill. Absent when nothing prices them (AllRequests mixes tiers).
# TYPE restorable_requests_cost gauge
restorable_requests_cost{currency="USD",dataset="payments",env="prod",operation="GetRequests",origin="cloudwatch",resource="acme-restic",source="db"} 0.0048
# HELP restorable_requests_period_end_timestamp_seconds End of the period restorable_requests counts.
# TYPE restorable_requests_period_end_timestamp_seconds gauge
restorable_requests_period_end_timestamp_seconds{dataset="payments",env="prod",operation="AllRequests",origin="cloudwatch",resource="acme-restic",source="db"} 1.7959968e+09
restorable_requests_period_end_timestamp_seconds{dataset="payments",env="prod",operation="GetRequests",origin="cloudwatch",resource="acme-restic",source="db"} 1.7959968e+09
# HELP restorable_requests_period_seconds Length of the period restorable_requests counts.
# TYPE restorable_requests_period_seconds gauge
restorable_requests_period_seconds{dataset="payments",env="prod",operation="AllRequests",origin="cloudwatch",resource="acme-restic",source="db"} 86400
restorable_requests_period_seconds{dataset="payments",env="prod",operation="GetRequests",origin="cloudwatch",resource="acme-restic",source="db"} 86400
`
	names := []string{"restorable_requests", "restorable_requests_cost", "restorable_requests_period_end_timestamp_seconds", "restorable_requests_period_seconds"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if lint, err := testutil.GatherAndLint(reg, names...); err != nil || len(lint) > 0 {
		t.Errorf("lint: %v %v", lint, err)
	}
	// A source that reported no count has no request series.
	empty, _ := setup(t, &model.Catalog{})
	if n, err := testutil.GatherAndCount(empty, names...); err != nil || n != 0 {
		t.Errorf("%d request series without counts (%v)", n, err)
	}
}

// A billing source's request lines become request metrics of origin bill:
// the latest period of each bucket, operation and attribution, the lines
// of that period summed, their billed cost as the cost. Lifecycle
// transitions, lines in units that are not a request count and other
// categories make no series; an unattributed line keeps an empty env.
func TestBillRequestMetrics(t *testing.T) {
	h := time.Date(2023, 11, 1, 5, 0, 0, 0, time.UTC)
	line := func(id, usage, env string, cat model.CostCategory, unit string, at time.Time, qty, cost float64) model.CostLine {
		return model.CostLine{Source: "db", Format: "cur", LineID: id, PeriodStart: at, PeriodEnd: at.Add(time.Hour), Provider: "AWS",
			Service: "AmazonS3", Resource: "acme-restic", Category: cat, UsageType: usage, Unit: unit, Quantity: qty, BilledCost: cost,
			Currency: "USD", Env: env, Dataset: map[string]string{"prod": "payments"}[env]}
	}
	reg, _ := setup(t, &model.Catalog{CostLines: []model.CostLine{
		line("1", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", h.Add(-time.Hour), 400, 0.002),
		line("2", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", h, 100, 0.5),
		line("3", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", h, 60, 0.25),
		line("4", "Requests-Tier2", "", model.CostRequests, "Requests", h.Add(-2*time.Hour), 2500, 0.001),
		line("5", "USW2-Requests-Tier3", "prod", model.CostTransition, "Requests", h, 10, 0.0005),
		line("6", "Blob Write Operations", "prod", model.CostRequests, "Units", h, 0.0004, 0.00002),
		line("7", "USW2-TimedStorage-ByteHrs", "prod", model.CostStorage, "GB-Mo", h, 1, 0.023),
	}})
	want := `
# HELP restorable_requests_cost Cost of the requests of restorable_requests: estimated from the price table for origin cloudwatch, billed for origin bill. Absent when nothing prices them (AllRequests mixes tiers).
# TYPE restorable_requests_cost gauge
restorable_requests_cost{currency="USD",dataset="",env="",operation="Requests-Tier2",origin="bill",resource="acme-restic",source="db"} 0.001
restorable_requests_cost{currency="USD",dataset="payments",env="prod",operation="Requests-Tier1",origin="bill",resource="acme-restic",source="db"} 0.75
# HELP restorable_requests_period_seconds Length of the period restorable_requests counts.
# TYPE restorable_requests_period_seconds gauge
restorable_requests_period_seconds{dataset="",env="",operation="Requests-Tier2",origin="bill",resource="acme-restic",source="db"} 3600
restorable_requests_period_seconds{dataset="payments",env="prod",operation="Requests-Tier1",origin="bill",resource="acme-restic",source="db"} 3600
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "restorable_requests_cost", "restorable_requests_period_seconds"); err != nil {
		t.Error(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() != "restorable_requests" && mf.GetName() != "restorable_requests_period_end_timestamp_seconds" {
				continue
			}
			var op string
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					op = l.GetValue()
				}
			}
			got[mf.GetName()+" "+op] = m.GetGauge().GetValue()
		}
	}
	for k, v := range map[string]float64{
		"restorable_requests Requests-Tier1": 160, "restorable_requests Requests-Tier2": 2500,
		"restorable_requests_period_end_timestamp_seconds Requests-Tier1": float64(h.Add(time.Hour).Unix()),
		"restorable_requests_period_end_timestamp_seconds Requests-Tier2": float64(h.Add(-time.Hour).Unix()),
	} {
		if math.Abs(got[k]-v) > 1e-9 {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != 4 {
		t.Errorf("series %v", got)
	}
}

type unitDeclaring struct {
	declaring
	units map[string]float64
}

func (u unitDeclaring) UnitsPerCall() map[string]float64 { return u.units }

// The exporter's own API requests are priced per source and operation from
// the price table (CloudWatch GetMetricData per metric requested), and the
// recommended interval follows the documented formula: 730 h × the last
// successful collection's cost / the monthly budget.
func TestAPICostMetrics(t *testing.T) {
	cfg, err := config.Parse("t.yml", []byte(`
environments: {prod: {rpo: 1h}}
collection: {api_budget: {monthly: 1}}
sources:
  - {name: costs, type: costexplorer, interval: 6h, api_budget: {monthly: 5, currency: USD}}
  - {name: requests, type: s3requests, interval: 1h, s3requests: {region: eu-west-1, buckets: [{name: a}, {name: b}]}}
  - {name: files, type: manifest, manifest: {dir: x}}
`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	s := NewSelf(reg)
	s.Declare(cfg, map[string]collectors.Collector{
		"costs":    declaring{ops: []string{"Cost Explorer GetCostAndUsage"}},
		"requests": unitDeclaring{declaring{ops: []string{"CloudWatch GetMetricData"}}, map[string]float64{"CloudWatch GetMetricData": 14}},
		"files":    declaring{},
	})
	names := []string{"restorable_collector_api_cost_estimated_total", "restorable_collector_api_cost_per_run_estimated",
		"restorable_collector_api_cost_monthly_projected", "restorable_collector_api_budget_monthly", "restorable_collector_recommended_interval_seconds"}
	before := `
# HELP restorable_collector_api_budget_monthly Configured monthly budget for the API requests of the source (api_budget); absent without one.
# TYPE restorable_collector_api_budget_monthly gauge
restorable_collector_api_budget_monthly{currency="USD",source="costs",type="costexplorer"} 5
restorable_collector_api_budget_monthly{currency="USD",source="files",type="manifest"} 1
restorable_collector_api_budget_monthly{currency="USD",source="requests",type="s3requests"} 1
# HELP restorable_collector_api_cost_estimated_total Estimated cost of the API requests the collections of the source made since the exporter started, by operation: requests (or metrics requested, for operations billed per metric) times the price table's price. Only for operations the price table prices.
# TYPE restorable_collector_api_cost_estimated_total counter
restorable_collector_api_cost_estimated_total{currency="USD",operation="CloudWatch GetMetricData",source="requests",type="s3requests"} 0
restorable_collector_api_cost_estimated_total{currency="USD",operation="Cost Explorer GetCostAndUsage",source="costs",type="costexplorer"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(before), names...); err != nil {
		t.Errorf("before the first collection: %v", err)
	}
	// The worked example of docs/collectors.md: three requests (two pages
	// and a retry) of Cost Explorer; one of CloudWatch for 14 metrics.
	run := func(source, typ string, calls map[string]int, units map[string]float64, err error) collectors.Run {
		r := collectors.Run{Source: source, Type: typ, Calls: calls, Err: err}
		if err == nil {
			r.Catalog = &model.Catalog{}
		}
		r.Own = collectors.OwnRequests(cfg.Source(source), r, cfg.Prices(), units)
		return r
	}
	s.ObserveRun(run("costs", "costexplorer", map[string]int{"Cost Explorer GetCostAndUsage": 3}, nil, nil))
	s.ObserveRun(run("requests", "s3requests", map[string]int{"CloudWatch GetMetricData": 1}, map[string]float64{"CloudWatch GetMetricData": 14}, nil))
	s.ObserveRun(run("files", "manifest", nil, nil, nil))
	after := `
# HELP restorable_collector_api_cost_estimated_total Estimated cost of the API requests the collections of the source made since the exporter started, by operation: requests (or metrics requested, for operations billed per metric) times the price table's price. Only for operations the price table prices.
# TYPE restorable_collector_api_cost_estimated_total counter
restorable_collector_api_cost_estimated_total{currency="USD",operation="CloudWatch GetMetricData",source="requests",type="s3requests"} 0.00014000000000000001
restorable_collector_api_cost_estimated_total{currency="USD",operation="Cost Explorer GetCostAndUsage",source="costs",type="costexplorer"} 0.03
# HELP restorable_collector_api_cost_monthly_projected Cost of the source's API requests in a month (730 h) at its configured interval, if every collection cost what the last successful one did.
# TYPE restorable_collector_api_cost_monthly_projected gauge
restorable_collector_api_cost_monthly_projected{currency="USD",source="costs",type="costexplorer"} 3.65
restorable_collector_api_cost_monthly_projected{currency="USD",source="requests",type="s3requests"} 0.10220000000000001
# HELP restorable_collector_api_cost_per_run_estimated Estimated cost of the API requests of the source's last successful collection; absent until one made only priced requests.
# TYPE restorable_collector_api_cost_per_run_estimated gauge
restorable_collector_api_cost_per_run_estimated{currency="USD",source="costs",type="costexplorer"} 0.03
restorable_collector_api_cost_per_run_estimated{currency="USD",source="requests",type="s3requests"} 0.00014000000000000001
# HELP restorable_collector_recommended_interval_seconds Shortest interval at which the source's collections stay within its monthly API budget: 730 h × the last successful collection's estimated cost / the budget. Absent without a budget or a known, non-zero cost.
# TYPE restorable_collector_recommended_interval_seconds gauge
restorable_collector_recommended_interval_seconds{source="costs",type="costexplorer"} 15768
restorable_collector_recommended_interval_seconds{source="requests",type="s3requests"} 368
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(after), names[:3]...); err != nil {
		t.Errorf("after a collection: %v", err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(after), names[4]); err != nil {
		t.Errorf("after a collection: %v", err)
	}
	if lint, err := testutil.GatherAndLint(reg, names...); err != nil || len(lint) > 0 {
		t.Errorf("lint: %v %v", lint, err)
	}
	// A failed collection costs (the counter grows) but leaves the
	// per-run estimate of the last successful one.
	s.ObserveRun(run("costs", "costexplorer", map[string]int{"Cost Explorer GetCostAndUsage": 1}, nil, errString("throttled")))
	if v := testutil.ToFloat64(s.api.spent.WithLabelValues("costs", "costexplorer", "Cost Explorer GetCostAndUsage", "USD")); v < 0.0399 || v > 0.0401 {
		t.Errorf("spent %v after a failed run, want 0.04", v)
	}
	if v := testutil.ToFloat64(s.api.perRun.WithLabelValues("costs", "costexplorer", "USD")); v != 0.03 {
		t.Errorf("per run %v after a failed run, want the last success's 0.03", v)
	}
	// A reload keeps the last collection's cost and recomputes the rest
	// with the new interval and budget at once; the gauges of a source
	// removed, and of a budget dropped, go.
	cfg2, err := config.Parse("t.yml", []byte(`
environments: {prod: {rpo: 1h}}
sources:
  - {name: costs, type: costexplorer, interval: 12h}
`))
	if err != nil {
		t.Fatal(err)
	}
	s.Declare(cfg2, map[string]collectors.Collector{"costs": declaring{ops: []string{"Cost Explorer GetCostAndUsage"}}})
	reloaded := `
# HELP restorable_collector_api_cost_monthly_projected Cost of the source's API requests in a month (730 h) at its configured interval, if every collection cost what the last successful one did.
# TYPE restorable_collector_api_cost_monthly_projected gauge
restorable_collector_api_cost_monthly_projected{currency="USD",source="costs",type="costexplorer"} 1.825
# HELP restorable_collector_api_cost_per_run_estimated Estimated cost of the API requests of the source's last successful collection; absent until one made only priced requests.
# TYPE restorable_collector_api_cost_per_run_estimated gauge
restorable_collector_api_cost_per_run_estimated{currency="USD",source="costs",type="costexplorer"} 0.03
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(reloaded), names[1:]...); err != nil {
		t.Errorf("after a reload: %v", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// The request counts of a source's bill lines follow its catalog: a later
// collection's lines replace the counts of the one before, however many
// scrapes came between.
func TestBillRequestMetricsFollowTheCatalog(t *testing.T) {
	day := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	bill := func(id string, n float64) *model.Catalog {
		return &model.Catalog{CostLines: []model.CostLine{{
			Source: "db", Format: "cur", LineID: id, PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Provider: "AWS",
			Service: "AmazonS3", Resource: "acme-restic", Category: model.CostRequests, UsageType: "USE1-Requests-Tier1",
			Quantity: n, Unit: "Requests", BilledCost: n * 5e-6, Currency: "USD",
		}}}
	}
	reg, store := setup(t, bill("a", 1000))
	value := func() float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "restorable_requests" {
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "origin" && l.GetValue() == "bill" {
							return m.GetGauge().GetValue()
						}
					}
				}
			}
		}
		return -1
	}
	if got := value(); got != 1000 {
		t.Fatalf("requests %v, want 1000", got)
	}
	if got := value(); got != 1000 {
		t.Fatalf("second scrape: requests %v, want 1000", got)
	}
	store.Record(collectors.Run{Source: "db", Type: "manifest", Start: t0.Add(time.Hour), Duration: time.Second, Catalog: bill("b", 2500)})
	if got := value(); got != 2500 {
		t.Errorf("after a new collection: requests %v, want 2500", got)
	}
}
