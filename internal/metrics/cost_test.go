package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/model"
)

// The billing metrics sum billed costs of the newest month and day of a
// source's bills by env, category and storage class; a source without
// cost lines has none.
func TestCostMetrics(t *testing.T) {
	line := func(start time.Time, env, class string, cat model.CostCategory, billed float64) model.CostLine {
		return model.CostLine{Source: "db", LineID: start.String() + env + class, PeriodStart: start, PeriodEnd: start.Add(time.Hour),
			Category: cat, StorageClass: class, Currency: "USD", Env: env, BilledCost: billed, EffectiveCost: 0}
	}
	oct := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC)
	nov1, nov3 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 5, 0, 0, 0, time.UTC)
	g, _ := setup(t, &model.Catalog{CostLines: []model.CostLine{
		line(oct, "prod", "GLACIER", model.CostStorage, 100),
		line(nov1, "prod", "GLACIER", model.CostStorage, 1.5),
		line(nov3, "prod", "GLACIER", model.CostStorage, 0.25),
		line(nov3.Add(time.Hour), "prod", "GLACIER", model.CostStorage, 0.25),
		line(nov3, "", "STANDARD", model.CostRequests, 0.125),
		line(nov1, "prod", "GLACIER", model.CostEarlyDelete, 2),
	}})
	want := `
# HELP restorable_billing_cost_last_day Billed cost of the newest UTC day of the source's bills (the day of the newest line's period start), by environment, category and storage class.
# TYPE restorable_billing_cost_last_day gauge
restorable_billing_cost_last_day{category="requests",currency="USD",env="",source="db",storage_class="STANDARD"} 0.125
restorable_billing_cost_last_day{category="storage",currency="USD",env="prod",source="db",storage_class="GLACIER"} 0.5
# HELP restorable_billing_cost_month_to_date Billed cost of the newest month of the source's bills (the month of the newest line's period start, UTC), by environment, category and storage class; env is empty for lines no attribution names. Absent for a source without cost lines.
# TYPE restorable_billing_cost_month_to_date gauge
restorable_billing_cost_month_to_date{category="early_delete",currency="USD",env="prod",source="db",storage_class="GLACIER"} 2
restorable_billing_cost_month_to_date{category="requests",currency="USD",env="",source="db",storage_class="STANDARD"} 0.125
restorable_billing_cost_month_to_date{category="storage",currency="USD",env="prod",source="db",storage_class="GLACIER"} 2
# HELP restorable_billing_period_end_timestamp_seconds End of the newest period the source's bills charge: how far the bills reach.
# TYPE restorable_billing_period_end_timestamp_seconds gauge
restorable_billing_period_end_timestamp_seconds{source="db"} 1.7936892e+09
`
	if err := testutil.GatherAndCompare(g, strings.NewReader(want), "restorable_billing_cost_last_day", "restorable_billing_cost_month_to_date", "restorable_billing_period_end_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	g, _ = setup(t, &model.Catalog{})
	if n, err := testutil.GatherAndCount(g, "restorable_billing_cost_month_to_date", "restorable_billing_period_end_timestamp_seconds"); err != nil || n != 0 {
		t.Errorf("%d billing series without cost lines (%v)", n, err)
	}
}

// The row counts of a billing source's catalog are shown as counted: the
// statuses, and every reason the parser knows (0 when no row had it), a
// reason it does not list included; a catalog without counts (any other
// source, or one read back from history) has no series.
func TestBillRowsMetrics(t *testing.T) {
	rows := &model.BillRows{Rows: 20, Kept: 9, OutOfScope: 4, Rejected: map[string]int{
		billing.RejectBadStart: 3, billing.RejectColumns: 2, "a reason from a newer parser": 2,
	}}
	g, _ := setup(t, &model.Catalog{BillRows: rows})
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "restorable_billing_") {
			continue
		}
		for _, m := range mf.Metric {
			k := mf.GetName()
			for _, l := range m.Label {
				k += " " + l.GetName() + "=" + l.GetValue()
			}
			got[k] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"restorable_billing_rows source=db status=kept":                                  9,
		"restorable_billing_rows source=db status=out_of_scope":                          4,
		"restorable_billing_rows source=db status=rejected":                              7,
		"restorable_billing_rejected_rows reason=a reason from a newer parser source=db": 2,
	}
	for _, r := range billing.RejectReasons {
		want["restorable_billing_rejected_rows reason="+r+" source=db"] = float64(rows.Rejected[r])
	}
	if len(got) != len(want) {
		t.Errorf("%d series, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	g, _ = setup(t, &model.Catalog{})
	if n, err := testutil.GatherAndCount(g, "restorable_billing_rows", "restorable_billing_rejected_rows"); err != nil || n != 0 {
		t.Errorf("%d row series without counts (%v)", n, err)
	}
}
