package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

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
