package metrics

import (
	"cmp"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/model"
)

var costLabels = []string{"source", "env", "category", "storage_class", "currency"}

// costDescs are the descriptors of the billing metrics.
type costDescs struct {
	monthToDate, lastDay, periodEnd *prometheus.Desc
	rows, rejected                  *prometheus.Desc
}

func newCostDescs() *costDescs {
	return &costDescs{
		monthToDate: prometheus.NewDesc(name("billing", "cost_month_to_date"),
			"Billed cost of the newest month of the source's bills (the month of the newest line's period start, UTC), by environment, category and storage class; env is empty for lines no attribution names. Absent for a source without cost lines.", costLabels, nil),
		lastDay: prometheus.NewDesc(name("billing", "cost_last_day"),
			"Billed cost of the newest UTC day of the source's bills (the day of the newest line's period start), by environment, category and storage class.", costLabels, nil),
		periodEnd: prometheus.NewDesc(name("billing", "period_end_timestamp_seconds"),
			"End of the newest period the source's bills charge: how far the bills reach.", []string{"source"}, nil),
		rows: prometheus.NewDesc(name("billing", "rows"),
			"Rows of the bill files the source holds, as its last successful collection counted them, by status: kept (cost lines), out_of_scope (services no mapping rule names) or rejected (restorable_billing_rejected_rows has why); the statuses sum to the rows read. Absent until the source's first successful collection since the exporter started.", []string{"source", "status"}, nil),
		rejected: prometheus.NewDesc(name("billing", "rejected_rows"),
			"Rows of the bill files the source holds that could not be read, by reason (the reasons analyze import billing prints), as its last successful collection counted them; 0 for a reason no row had. Their cost is missing from the billing metrics.", []string{"source", "reason"}, nil),
	}
}

// The statuses of restorable_billing_rows.
const (
	billRowsKept       = "kept"
	billRowsOutOfScope = "out_of_scope"
	billRowsRejected   = "rejected"
)

// appendBillRows derives the row counts of one billing source's bills
// from the counts the parser made while reading them: every reason the
// parser knows is shown, at 0 when no row had it.
func (c *Collector) appendBillRows(out []prometheus.Metric, source string, r *model.BillRows) []prometheus.Metric {
	if r == nil {
		return out
	}
	out = append(out,
		gauge(c.d.cost.rows, float64(r.Kept), source, billRowsKept),
		gauge(c.d.cost.rows, float64(r.OutOfScope), source, billRowsOutOfScope),
		gauge(c.d.cost.rows, float64(r.RejectedTotal()), source, billRowsRejected))
	for _, reason := range billing.RejectReasons {
		out = append(out, gauge(c.d.cost.rejected, float64(r.Rejected[reason]), source, reason))
	}
	// A reason the list does not name (none today) is still shown rather
	// than lost from the sum.
	var extra []string
	for reason := range r.Rejected {
		if !slices.Contains(billing.RejectReasons, reason) {
			extra = append(extra, reason)
		}
	}
	slices.Sort(extra)
	for _, reason := range extra {
		out = append(out, gauge(c.d.cost.rejected, float64(r.Rejected[reason]), source, reason))
	}
	return out
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
