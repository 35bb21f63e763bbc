package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/billing"
)

// messyBill is the FOCUS bill with every quirk of real exports, one line
// each.
const messyBill = "../../internal/billing/testdata/messy-focus.csv"

// judgeMessyRow decides what the billing docs (docs/billing.md, "Messy
// input, and rejected lines") say becomes of one row of messyBill,
// written from those rules and not from the parser, for the services the
// file has: S3 and Azure Blob lines are in scope, EC2 is not; the first
// reason that applies is counted.
func judgeMessyRow(t *testing.T, col map[string]int, ncols int, row []string) (status, reason string) {
	t.Helper()
	if len(row) != ncols {
		return "rejected", billing.RejectColumns
	}
	get := func(name string) string {
		i, ok := col[name]
		if !ok {
			t.Fatalf("the bill has no %s column", name)
		}
		if v := strings.TrimSpace(row[i]); v != "NULL" {
			return v
		}
		return ""
	}
	switch get("ServiceName") {
	case "Amazon Simple Storage Service":
	case "Storage Accounts":
		if !strings.Contains(get("ChargeDescription"), "Blob") {
			return "out_of_scope", ""
		}
	default:
		return "out_of_scope", ""
	}
	when := func(v string) (time.Time, bool) {
		for _, layout := range []string{time.RFC3339, time.DateTime} {
			if ts, err := time.Parse(layout, v); err == nil {
				return ts, true
			}
		}
		return time.Time{}, false
	}
	number := func(v string) bool {
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
	}
	start, end := get("ChargePeriodStart"), get("ChargePeriodEnd")
	s, sok := when(start)
	e, eok := when(end)
	var tags map[string]any
	switch {
	case start == "":
		return "rejected", billing.RejectNoStart
	case !sok:
		return "rejected", billing.RejectBadStart
	case end == "":
		return "rejected", billing.RejectNoEnd
	case !eok:
		return "rejected", billing.RejectBadEnd
	case e.Before(s):
		return "rejected", billing.RejectEndsEarly
	case get("BilledCost") == "":
		return "rejected", billing.RejectNoBilled
	case !number(get("BilledCost")):
		return "rejected", billing.RejectBadBilled
	case get("ConsumedQuantity") != "" && !number(get("ConsumedQuantity")):
		return "rejected", billing.RejectBadQuantity
	case get("EffectiveCost") != "" && !number(get("EffectiveCost")):
		return "rejected", billing.RejectBadEffective
	case get("ListCost") != "" && !number(get("ListCost")):
		return "rejected", billing.RejectBadList
	case get("BillingCurrency") == "":
		return "rejected", billing.RejectNoCurrency
	case get("Tags") != "" && json.Unmarshal([]byte(get("Tags")), &tags) != nil:
		return "rejected", billing.RejectBadTags
	}
	return "kept", ""
}

// A billing source's rows that cannot be read are metrics, not only a
// log line: the exporter shows the rows of the messy bill by status and
// its rejected rows by reason, every count what the billing docs' rules
// give for the file, and 0 for the reasons no row has.
func TestBillingRejectedRowsMetrics(t *testing.T) {
	f, err := os.Open(messyBill)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // test read
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	statuses, reasons := map[string]float64{}, map[string]float64{}
	for {
		row, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		status, reason := judgeMessyRow(t, col, len(header), row)
		statuses[status]++
		if reason != "" {
			reasons[reason]++
		}
	}
	// The file is worth testing with: rows of every status, and many
	// reasons, one of them twice.
	if statuses["kept"] == 0 || statuses["out_of_scope"] == 0 || len(reasons) < 9 || reasons[billing.RejectBadTags] != 2 {
		t.Fatalf("the messy bill judged as %v, %v: not the fixture the test expects", statuses, reasons)
	}

	dir := t.TempDir()
	path, err := filepath.Abs(messyBill)
	if err != nil {
		t.Fatal(err)
	}
	a, stop := billingApp(t, dir, path)
	deadline := time.Now().Add(time.Minute)
	for !a.store.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the billing source was never collected")
		}
		time.Sleep(5 * time.Millisecond)
	}

	for _, status := range []string{"kept", "out_of_scope", "rejected"} {
		got, ok := metric(t, a, "restorable_billing_rows", map[string]string{"source": "messy-bills", "status": status})
		if !ok || got != statuses[status] {
			t.Errorf("restorable_billing_rows{status=%q} = %v (present %v), want %v", status, got, ok, statuses[status])
		}
	}
	for _, reason := range billing.RejectReasons {
		got, ok := metric(t, a, "restorable_billing_rejected_rows", map[string]string{"source": "messy-bills", "reason": reason})
		if !ok || got != reasons[reason] {
			t.Errorf("restorable_billing_rejected_rows{reason=%q} = %v (present %v), want %v", reason, got, ok, reasons[reason])
		}
	}
	// No reason beyond the documented ones.
	mfs, err := a.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "restorable_billing_rejected_rows" && len(mf.Metric) != len(billing.RejectReasons) {
			t.Errorf("%d rejected-row series, want one per reason (%d)", len(mf.Metric), len(billing.RejectReasons))
		}
	}

	// After a restart the counts are unknown until a collection succeeds:
	// absent, never 0, while the bill cannot be read.
	stop()
	a, _ = billingApp(t, dir, filepath.Join(dir, "gone.csv"))
	deadline = time.Now().Add(time.Minute)
	for {
		if ok, found := metric(t, a, "restorable_collector_success", map[string]string{"source": "messy-bills"}); found {
			if ok != 0 {
				t.Fatal("a bill that does not exist was collected")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the billing source was never tried after the restart")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, name := range []string{"restorable_billing_rows", "restorable_billing_rejected_rows"} {
		if v, ok := metric(t, a, name, map[string]string{"source": "messy-bills"}); ok {
			t.Errorf("%s = %v after a restart whose collection failed, want absent", name, v)
		}
	}
}

// billingApp starts an exporter whose one source is a billing source
// reading path, with its history in dir; stop stops it (also at the end
// of the test).
func billingApp(t *testing.T, dir, path string) (a *app, stop func()) {
	t.Helper()
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments: {prod: {rpo: 1h}}
sources:
  - {name: messy-bills, type: billing, interval: 1h, billing: {path: `+path+`}}
history: {root: history}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, appOptions{ConfigFile: cfg, Logger: slog.New(slog.DiscardHandler), Now: time.Now, Registry: prometheus.NewRegistry()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); a.Close() }) }
	t.Cleanup(stop)
	return a, stop
}

// The demo's messy export is the test bill the counts above are checked
// on, so that what the demo's comment says of it ("two of its lines are
// kept", its broken ones counted by reason) stays true.
func TestDemoMessyExportIsTheTestedBill(t *testing.T) {
	demo, err := os.ReadFile("../../examples/demo/billing/messy-export.csv")
	if err != nil {
		t.Fatal(err)
	}
	tested, err := os.ReadFile(messyBill)
	if err != nil {
		t.Fatal(err)
	}
	if string(demo) != string(tested) {
		t.Error("examples/demo/billing/messy-export.csv differs from " + messyBill + ": copy it again")
	}
	b, err := billing.ReadCSV(context.Background(), strings.NewReader(string(demo)), billing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if b.Stats.Kept != 2 {
		t.Errorf("the demo's messy export keeps %d lines; its comment in examples/demo/restorable.yml says two", b.Stats.Kept)
	}
}
