package billing

import (
	"fmt"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// BenchmarkRequestCounts derives the request counts of a month of an
// hourly bill of 1,000,000 lines, a third of them request lines of 50
// buckets, as the exporter's metrics do when a billing source's catalog
// changes.
//
//	go test -run '^$' -bench BenchmarkRequestCounts -benchmem ./internal/billing
func BenchmarkRequestCounts(b *testing.B) {
	const n = 1_000_000
	start := time.Date(2023, 11, 1, 0, 0, 0, 0, time.UTC)
	lines := make([]model.CostLine, n)
	for i := range lines {
		at := start.Add(time.Duration(i%720) * time.Hour)
		l := model.CostLine{Source: "bills", LineID: fmt.Sprintf("line-%d@%d", i, i%720), PeriodStart: at, PeriodEnd: at.Add(time.Hour),
			Resource: fmt.Sprintf("bucket-%d", i%50), Category: model.CostStorage, UsageType: "USW2-TimedStorage-ByteHrs", Unit: "GB-Mo",
			Quantity: float64(i % 1000), BilledCost: 0.001, Currency: "USD", Env: "prod", Dataset: fmt.Sprintf("ds-%d", i%20)}
		if i%3 == 0 {
			l.Category, l.UsageType, l.Unit = model.CostRequests, fmt.Sprintf("USW2-Requests-Tier%d", i%2+1), "Requests"
		}
		lines[i] = l
	}
	b.ResetTimer()
	for b.Loop() {
		if len(RequestCounts(lines)) == 0 {
			b.Fatal("no counts")
		}
	}
}
