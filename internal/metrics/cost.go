package metrics

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/model"
)

var costLabels = []string{"source", "env", "category", "storage_class", "currency"}

// costDescs are the descriptors of the billing metrics.
type costDescs struct {
	monthToDate, lastDay, periodEnd *prometheus.Desc
}

func newCostDescs() *costDescs {
	return &costDescs{
		monthToDate: prometheus.NewDesc(name("billing", "cost_month_to_date"),
			"Billed cost of the newest month of the source's bills (the month of the newest line's period start, UTC), by environment, category and storage class; env is empty for lines no attribution names. Absent for a source without cost lines.", costLabels, nil),
		lastDay: prometheus.NewDesc(name("billing", "cost_last_day"),
			"Billed cost of the newest UTC day of the source's bills (the day of the newest line's period start), by environment, category and storage class.", costLabels, nil),
		periodEnd: prometheus.NewDesc(name("billing", "period_end_timestamp_seconds"),
			"End of the newest period the source's bills charge: how far the bills reach.", []string{"source"}, nil),
	}
}

// appendCosts derives the billing metrics of one source's cost lines.
func (c *Collector) appendCosts(out []prometheus.Metric, source string, lines []model.CostLine) []prometheus.Metric {
	if len(lines) == 0 {
		return out
	}
	var newest, end time.Time
	for i := range lines {
		if lines[i].PeriodStart.After(newest) {
			newest = lines[i].PeriodStart
		}
		if lines[i].PeriodEnd.After(end) {
			end = lines[i].PeriodEnd
		}
	}
	newest = newest.UTC()
	month := time.Date(newest.Year(), newest.Month(), 1, 0, 0, 0, 0, time.UTC)
	day := time.Date(newest.Year(), newest.Month(), newest.Day(), 0, 0, 0, 0, time.UTC)
	type key struct{ env, category, class, currency string }
	mtd, last := map[key]float64{}, map[key]float64{}
	for i := range lines {
		l := &lines[i]
		start := l.PeriodStart.UTC()
		if start.Before(month) {
			continue
		}
		k := key{l.Env, string(l.Category), l.StorageClass, l.Currency}
		mtd[k] += l.BilledCost
		if !start.Before(day) {
			last[k] += l.BilledCost
		}
	}
	emit := func(d *prometheus.Desc, m map[key]float64) {
		keys := make([]key, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b key) int {
			return cmp.Or(cmp.Compare(a.env, b.env), cmp.Compare(a.category, b.category), cmp.Compare(a.class, b.class), cmp.Compare(a.currency, b.currency))
		})
		for _, k := range keys {
			out = append(out, gauge(d, m[k], source, k.env, k.category, k.class, k.currency))
		}
	}
	emit(c.d.cost.monthToDate, mtd)
	emit(c.d.cost.lastDay, last)
	out = append(out, gauge(c.d.cost.periodEnd, ts(end), source))
	return out
}
