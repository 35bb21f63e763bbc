package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/duck"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// costHistory writes a history with two months of cost lines of
// prod/payments (Glacier storage doubling from October to November, an
// early-delete fee in November), an unattributed request line, and four
// restore probes of prod/payments, three of them verified.
func costHistory(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	w, err := history.Open(root, history.Options{Now: func() time.Time { return estateEnd() }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	oct, nov := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 5, 0, 0, 0, 0, time.UTC)
	line := func(id string, at time.Time, env, dataset, class string, cat model.CostCategory, qty, billed float64) model.CostLine {
		unit := "Requests"
		if cat == model.CostStorage || cat == model.CostEarlyDelete {
			unit = "GB-Mo"
		}
		return model.CostLine{Source: "bills", Format: "cur", LineID: id, PeriodStart: at, PeriodEnd: at.Add(24 * time.Hour),
			Provider: "AWS", Service: "AmazonS3", Resource: "acme-prod-backups", Category: cat, StorageClass: class,
			Quantity: qty, Unit: unit, BilledCost: billed, Currency: "USD", Env: env, Dataset: dataset}
	}
	cat := &model.Catalog{CostLines: []model.CostLine{
		line("o1", oct, "prod", "payments", "GLACIER", model.CostStorage, 1000, 3.6),
		line("n1", nov, "prod", "payments", "GLACIER", model.CostStorage, 2000, 7.2),
		line("n2", nov, "prod", "payments", "GLACIER", model.CostEarlyDelete, 100, 0.8),
		line("n3", nov, "", "", "STANDARD", model.CostRequests, 5000, 0.025),
	}}
	if _, err := w.AppendCatalog("bills", cat); err != nil {
		t.Fatal(err)
	}
	for i, ok := range []bool{true, true, false, true} {
		if err := w.AppendProbes(model.ProbeResult{RunID: string(rune('a' + i)), Probe: "payments-restore", Kind: "artifact", Env: "prod", Dataset: "payments",
			Start: nov.Add(time.Duration(i) * time.Hour), Duration: time.Minute, Success: ok, BytesVerified: 2 << 30}); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// analyze cost answers the review's questions from the history: spend by
// month, env, dataset and class with cost per GB-month; spend beside
// verified restores; the month whose spend doubled; the early-delete fee.
func TestCost(t *testing.T) {
	root := costHistory(t)
	code, out, errs := runIn(t, "--history", root, "cost", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep costReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var novGlacier *spendRow
	for i, r := range rep.Spend {
		if r.Group["month"] == "2026-11" && r.Group["class"] == "GLACIER" {
			novGlacier = &rep.Spend[i]
		}
	}
	if len(rep.Spend) != 3 || novGlacier == nil || !near(novGlacier.Spend, 8.0) || !near(novGlacier.GBMonths, 2000) || novGlacier.PerGBMonth == nil || !near(*novGlacier.PerGBMonth, 0.0036) {
		t.Errorf("spend %+v", rep.Spend)
	}
	var pay *recoveryRow
	for i, r := range rep.Recovery {
		if r.Env == "prod" && r.Dataset == "payments" {
			pay = &rep.Recovery[i]
		}
	}
	if pay == nil || !near(pay.Spend, 11.6) || pay.Runs != 4 || pay.Restores != 3 || !near(*pay.SuccessRate, 0.75) ||
		!near(*pay.PerRestore, 11.6/3) || pay.VerifiedBytes != 6<<30 || !near(*pay.PerVerifiedGB, 11.6/6) {
		t.Errorf("recovery %+v", rep.Recovery)
	}
	// Storage went from 3.60 to 7.20 (+100%); the early-delete fee is new
	// in November (0.80, under the 1.00 minimum: not an anomaly).
	if len(rep.Anomalies) != 1 || rep.Anomalies[0].Category != "storage" || rep.Anomalies[0].Month != "2026-11" || !near(rep.Anomalies[0].Change, 3.6) {
		t.Errorf("anomalies %+v", rep.Anomalies)
	}
	if len(rep.EarlyDelete) != 1 || !near(rep.EarlyDelete[0].Fees, 0.8) || rep.EarlyDelete[0].MinStorageDays != 90 || !near(rep.EarlyDelete[0].Storage, 7.2) {
		t.Errorf("early deletes %+v", rep.EarlyDelete)
	}

	// The table fits 80 columns; csv writes the part it is asked for.
	code, out, errs = runIn(t, "--history", root, "cost")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, l := range strings.Split(out, "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("line of %d columns: %q", len([]rune(l)), l)
		}
	}
	if !strings.Contains(out, "3/4") || !strings.Contains(out, "+100%") {
		t.Errorf("table output:\n%s", out)
	}
	code, out, _ = runIn(t, "--history", root, "cost", "--format", "csv", "--view", "recovery")
	if code != exitOK || !strings.HasPrefix(out, "env,dataset,currency,spend,probe_runs,verified_restores") {
		t.Errorf("csv: %d %q", code, out)
	}
	if code, _, errs := runIn(t, "--history", root, "cost", "--format", "csv"); code != exitError || !strings.Contains(errs, "--view") {
		t.Errorf("csv of every part: exit %d, %s", code, errs)
	}
	code, out, _ = runIn(t, "--history", root, "cost", "--view", "spend", "--by", "env", "--from", "2026-11-01", "--format", "json")
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil || len(rep.Spend) != 2 {
		t.Errorf("--from and --by env: %d %+v", code, rep.Spend)
	}
}

// analyze cost --view requests counts the API requests of every origin by
// month: the bills' request lines (the CUR sample, imported) as the
// exporter's metrics count them, at their billed cost; S3's CloudWatch
// request metrics at the newest revision of each period, their cost
// marked estimated; the exporter's own priced requests. A history of
// request counts without bills has the view too.
func TestCostRequests(t *testing.T) {
	const sample = "../../internal/billing/testdata/aws-cur-legacy-sample.csv"
	root := t.TempDir()
	if code, _, errs := runIn(t, "--history", root, "import", "billing", sample); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errs)
	}
	f, err := os.Open(sample)
	if err != nil {
		t.Fatal(err)
	}
	bill, err := billing.ReadCSV(context.Background(), f, billing.Options{Source: "import"})
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]float64{}
	for _, r := range billing.RequestCounts(bill.Lines) {
		s := want[r.Operation]
		want[r.Operation] = [2]float64{s[0] + r.Count, s[1] + r.Cost}
	}
	if len(want) != 2 {
		t.Fatalf("the sample's request counts: %v", want)
	}

	day := time.Date(2023, 11, 20, 0, 0, 0, 0, time.UTC)
	at := day.Add(30 * time.Hour)
	w, err := history.Open(root, history.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	cw := func(n, cost float64) *model.Catalog {
		return &model.Catalog{Requests: []model.RequestCount{{Origin: "cloudwatch", Source: "s3", Env: "prod", Dataset: "payments", Resource: "acme",
			Operation: "GetRequests", PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Count: n, Cost: cost, Currency: "USD", CostKnown: true, CostEstimated: true}}}
	}
	if _, err := w.AppendCatalog("s3", cw(1000, 0.0004)); err != nil {
		t.Fatal(err)
	}
	at = at.Add(time.Hour)
	if _, err := w.AppendCatalog("s3", cw(1200, 0.00048)); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendRequests("s3", []model.RequestCount{{Origin: "exporter", Source: "s3", Env: "prod", Operation: "CloudWatch GetMetricData",
		PeriodStart: at, PeriodEnd: at.Add(time.Second), Count: 7, Cost: 0.00007, Currency: "USD", CostKnown: true, CostEstimated: true}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	code, out, errs := runIn(t, "--history", root, "cost", "--view", "requests", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rep costReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	got := map[string]requestRow{}
	for _, r := range rep.Requests {
		got[r.Origin+" "+r.Operation] = r
	}
	if len(got) != 4 || len(rep.Requests) != 4 {
		t.Fatalf("rows %+v", rep.Requests)
	}
	for op, w := range want {
		r := got["bill "+op]
		if r.Month != "2023-11" || r.Env != "" || r.Currency != "USD" || r.Estimated || r.Cost == nil ||
			math.Abs(r.Requests-w[0]) > 1e-9 || math.Abs(*r.Cost-w[1]) > 1e-12 {
			t.Errorf("bill %s: %+v, the exporter counts %v costing %v", op, r, w[0], w[1])
		}
	}
	if r := got["cloudwatch GetRequests"]; r.Requests != 1200 || r.Cost == nil || !near(*r.Cost, 0.00048) || !r.Estimated || r.Env != "prod" || r.Dataset != "payments" {
		t.Errorf("cloudwatch: %+v", r)
	}
	if r := got["exporter CloudWatch GetMetricData"]; r.Requests != 7 || r.Cost == nil || !r.Estimated {
		t.Errorf("exporter: %+v", r)
	}
	code, out, _ = runIn(t, "--history", root, "cost", "--view", "requests")
	if code != exitOK || !strings.Contains(out, "~0.00048") || !strings.Contains(out, "Requests-Tier1") || !strings.Contains(out, "46536") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	// --env keeps the env's counts: not the sample's, which no attribution names.
	code, out, _ = runIn(t, "--history", root, "cost", "--view", "requests", "--env", "prod", "--format", "json")
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil || len(rep.Requests) != 2 {
		t.Errorf("--env prod: exit %d %+v", code, rep.Requests)
	}
	code, out, _ = runIn(t, "--history", root, "cost", "--view", "requests", "--format", "csv")
	if code != exitOK || !strings.HasPrefix(out, "month,origin,env,dataset,operation,requests,currency,cost,cost_estimated\n") {
		t.Errorf("csv: exit %d %q", code, out)
	}

	// Without bills: the request counts alone.
	only := t.TempDir()
	w, err = history.Open(only, history.Options{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendCatalog("s3", cw(5, 0.000002)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runIn(t, "--history", only, "cost", "--view", "requests", "--format", "json")
	if err := json.Unmarshal([]byte(out), &rep); code != exitOK || err != nil || len(rep.Requests) != 1 || rep.Requests[0].Requests != 5 {
		t.Errorf("without bills: exit %d %s %+v", code, errs, rep.Requests)
	}
}

// With a bill in the history, tiering prices storage at the billed rate
// of each class the bill prices, and says so.
func TestTieringUsesBilledRates(t *testing.T) {
	root := costHistory(t)
	r, err := duck.ParseRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	db, err := duck.Open(context.Background(), r, duck.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prices, err := loadPrices("")
	if err != nil {
		t.Fatal(err)
	}
	prices.Classes["GLACIER"].StorageGBMonth = 1
	if err := useBilledRates(context.Background(), db, prices, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if g := prices.Classes["GLACIER"].StorageGBMonth; !near(g, 0.0036) {
		t.Errorf("GLACIER at %v a GB-month, the bill charged 0.0036", g)
	}
	if prices.Classes["STANDARD"].StorageGBMonth != 0.023 || !strings.Contains(prices.Source, "GLACIER 0.0036") {
		t.Errorf("STANDARD %v, source %q", prices.Classes["STANDARD"].StorageGBMonth, prices.Source)
	}
}

// Without cost lines, analyze cost says how to get them.
func TestCostNeedsBills(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "backups"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runIn(t, "--history", root, "cost")
	if code != exitError || !strings.Contains(errs, "analyze import billing") {
		t.Errorf("exit %d: %s", code, errs)
	}
}

// Every table of analyze cost fits 80 columns with the long dataset names
// real bills carry: dataset cells wrap instead.
func TestCostTablesFit80(t *testing.T) {
	long := "LeadConceptInfinityPlatformAnalytics"
	pct := 0.75
	cost := 1234.5678
	rep := &costReport{
		By:          []string{"month", "env", "dataset", "class"},
		Spend:       []spendRow{{Group: map[string]string{"month": "2026-11", "env": "staging", "dataset": long, "class": "DEEP_ARCHIVE"}, Currency: "USD", Spend: 123456.78, GBMonths: 98765.4, PerGBMonth: &pct}},
		Recovery:    []recoveryRow{{Env: "staging", Dataset: long, Currency: "USD", Spend: 123456.78, Runs: 1200, Restores: 1100, SuccessRate: &pct, VerifiedBytes: 5 << 40, PerRestore: &cost, PerVerifiedGB: &cost}},
		Anomalies:   []anomalyRow{{Month: "2026-11", Env: "staging", Dataset: long, Category: "early_delete", Currency: "USD", Previous: 1234.5, Spend: 123456.7, Change: 99.9}},
		EarlyDelete: []earlyDeleteRow{{Month: "2026-11", Env: "staging", Dataset: long, Class: "DEEP_ARCHIVE", Currency: "USD", Fees: 12345.6, Storage: 123456.7, MinStorageDays: 180}},
	}
	rep.Requests = []requestRow{{Month: "2026-11", Origin: "cloudwatch", Env: "staging", Dataset: long,
		Operation: "$0.004 per 10,000 GET and all other requests to Intelligent-Tiering", Requests: 123456789, Currency: "USD", Cost: &cost, Estimated: true}}
	for name, tb := range map[string]*table{"spend": spendTable(rep, false), "recovery": recoveryTable(rep, false),
		"anomalies": anomalyTable(rep, false), "early-delete": earlyDeleteTable(rep, false), "requests": requestTable(rep, false)} {
		var b strings.Builder
		if err := tb.writeText(&b, false, 80); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if n := len([]rune(l)); n > 80 {
				t.Errorf("%s: line of %d columns: %q", name, n, l)
			}
		}
		// The dataset cell and its continuation lines spell the name: the
		// word that starts where the DATASET header does, on each line
		// that has one there.
		lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		from := strings.Index(lines[0], "DATASET")
		got := ""
		for _, l := range lines[1:] {
			if len(l) > from && l[from] != ' ' {
				got += strings.Fields(l[from:])[0]
			}
		}
		if got != long {
			t.Errorf("%s: the dataset reads %q:\n%s", name, got, b.String())
		}
	}
}

// Amounts below a cent keep three significant digits in plain decimals:
// a reader of the table never meets an exponent.
func TestMoneyHasNoExponent(t *testing.T) {
	for v, want := range map[float64]string{0: "0.00", 6.48e-05: "0.0000648", 4e-07: "0.0000004", 0.00019: "0.00019",
		0.009999: "0.01", -3.2e-06: "-0.0000032", 12.5: "12.50"} {
		if got := money(v); got != want {
			t.Errorf("money(%v) = %q, want %q", v, got, want)
		}
	}
}
