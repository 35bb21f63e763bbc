package collectors

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/prices"
)

// A collection's own calls become one request count per operation over
// the collection's span; the price table prices those it lists (per
// metric for GetMetricData), and the others have no cost.
func TestOwnRequests(t *testing.T) {
	start := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	src := &config.Source{Name: "s3", Env: "prod", Dataset: "payments"}
	r := Run{Source: "s3", Start: start, Duration: 2 * time.Second, Calls: map[string]int{"CloudWatch GetMetricData": 2, "restic snapshots": 1}}
	got := OwnRequests(src, r, prices.Default(), map[string]float64{"CloudWatch GetMetricData": 500})
	want := []model.RequestCount{
		{Origin: "exporter", Source: "s3", Env: "prod", Dataset: "payments", Operation: "CloudWatch GetMetricData",
			PeriodStart: start, PeriodEnd: start.Add(2 * time.Second), Count: 2, Cost: 0.01, Currency: "USD", CostKnown: true, CostEstimated: true},
		{Origin: "exporter", Source: "s3", Env: "prod", Dataset: "payments", Operation: "restic snapshots",
			PeriodStart: start, PeriodEnd: start.Add(2 * time.Second), Count: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("count %d\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if OwnRequests(src, Run{Source: "s3"}, prices.Default(), nil) != nil {
		t.Error("a collection without calls has own requests")
	}
}
