package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/prices"
)

// apiCost estimates what the exporter's own API requests cost, per source
// and operation, from the calls every collection counted and the price
// table, and recommends an interval per source for its monthly budget.
// The formula is prices.RunCost, prices.MonthlyCost and
// prices.RecommendedInterval (docs/collectors.md, API budget).
type apiCost struct {
	spent       *prometheus.CounterVec
	perRun      *prometheus.GaugeVec
	projected   *prometheus.GaugeVec
	budget      *prometheus.GaugeVec
	recommended *prometheus.GaugeVec

	mu      sync.Mutex
	table   *prices.Table
	sources map[string]*sourceBudget
}

// sourceBudget is what the estimate needs of one configured source, and
// the calls of its last successful collection.
type sourceBudget struct {
	typ       string
	units     map[string]float64
	budget    *config.APIBudget
	interval  time.Duration
	lastCalls map[string]int
}

func newAPICost() *apiCost {
	withCurrency := append(append([]string(nil), sourceLabels...), "currency")
	return &apiCost{
		spent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("collector", "api_cost_estimated_total"),
			Help: "Estimated cost of the API requests the collections of the source made since the exporter started, by operation: requests (or metrics requested, for operations billed per metric) times the price table's price. Only for operations the price table prices.",
		}, append(append([]string(nil), sourceLabels...), "operation", "currency")),
		perRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("collector", "api_cost_per_run_estimated"),
			Help: "Estimated cost of the API requests of the source's last successful collection; absent until one made only priced requests.",
		}, withCurrency),
		projected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("collector", "api_cost_monthly_projected"),
			Help: "Cost of the source's API requests in a month (730 h) at its configured interval, if every collection cost what the last successful one did.",
		}, withCurrency),
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("collector", "api_budget_monthly"),
			Help: "Configured monthly budget for the API requests of the source (api_budget); absent without one.",
		}, withCurrency),
		recommended: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: name("collector", "recommended_interval_seconds"),
			Help: "Shortest interval at which the source's collections stay within its monthly API budget: 730 h × the last successful collection's estimated cost / the budget. Absent without a budget or a known, non-zero cost.",
		}, sourceLabels),
		sources: map[string]*sourceBudget{},
	}
}

func (a *apiCost) collectors() []prometheus.Collector {
	return []prometheus.Collector{a.spent, a.perRun, a.projected, a.budget, a.recommended}
}

// configure takes a new configuration: its price table, every source's
// budget, interval and units per call. The gauges of sources no longer
// configured are removed (they describe a source that is gone); the
// counters stay, being totals since the start. The gauges of a source kept
// by a reload are recomputed at once from its last successful collection,
// with the new prices, interval and budget.
func (a *apiCost) configure(cfg *config.Config, cs map[string]collectors.Collector) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.table = cfg.Prices()
	old := a.sources
	a.sources = map[string]*sourceBudget{}
	for _, src := range cfg.Sources {
		sb := &sourceBudget{typ: src.Type, budget: cfg.Budget(src), interval: collectors.ScheduleInterval(src)}
		if u, ok := cs[src.Name].(collectors.UnitDeclarer); ok {
			sb.units = u.UnitsPerCall()
		}
		if prev := old[src.Name]; prev != nil && prev.typ == src.Type {
			sb.lastCalls = prev.lastCalls
		} else if prev != nil {
			a.clear(src.Name, prev.typ)
		}
		a.sources[src.Name] = sb
		if d, ok := cs[src.Name].(collectors.OperationDeclarer); ok {
			for _, op := range d.Operations() {
				if _, priced := a.table.CallCost(op, 0, 0); priced {
					a.spent.WithLabelValues(src.Name, src.Type, op, a.table.Currency)
				}
			}
		}
		a.publish(src.Name, sb)
	}
	for name, sb := range old {
		if _, kept := a.sources[name]; !kept {
			a.clear(name, sb.typ)
		}
	}
}

// clear removes the gauges of a source.
func (a *apiCost) clear(source, typ string) {
	l := prometheus.Labels{"source": source, "type": typ}
	a.perRun.DeletePartialMatch(l)
	a.projected.DeletePartialMatch(l)
	a.budget.DeletePartialMatch(l)
	a.recommended.DeletePartialMatch(l)
}

// publish sets the gauges of a source from its budget and the calls of its
// last successful collection; a gauge whose value is unknown is removed.
func (a *apiCost) publish(name string, sb *sourceBudget) {
	a.clear(name, sb.typ)
	cur := a.table.Currency
	if sb.budget != nil {
		a.budget.WithLabelValues(name, sb.typ, sb.budget.Currency).Set(sb.budget.Monthly)
	}
	cost, known := a.table.RunCost(sb.lastCalls, sb.units)
	if !known {
		return
	}
	a.perRun.WithLabelValues(name, sb.typ, cur).Set(cost)
	if sb.interval > 0 {
		a.projected.WithLabelValues(name, sb.typ, cur).Set(prices.MonthlyCost(cost, sb.interval))
	}
	if sb.budget != nil {
		if d, ok := prices.RecommendedInterval(cost, sb.budget.Monthly); ok {
			a.recommended.WithLabelValues(name, sb.typ).Set(d.Seconds())
		}
	}
}

// observe adds the cost of one collection's own calls (priced once, by
// collectors.OwnRequests); a successful collection whose calls are all
// priced becomes the source's last collection.
func (a *apiCost) observe(r collectors.Run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	sb := a.sources[r.Source]
	if a.table == nil || sb == nil {
		return
	}
	for i := range r.Own {
		if o := &r.Own[i]; o.CostKnown {
			a.spent.WithLabelValues(r.Source, r.Type, o.Operation, o.Currency).Add(o.Cost)
		}
	}
	if r.Err != nil {
		return
	}
	if _, known := a.table.RunCost(r.Calls, sb.units); !known {
		return
	}
	sb.lastCalls = r.Calls
	a.publish(r.Source, sb)
}
