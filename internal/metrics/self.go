package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

// Self holds the exporter's own counters: what collections, history writes
// and reloads happened since the start.
type Self struct {
	runs, errors, calls, readBytes *prometheus.CounterVec
	historyRows                    *prometheus.CounterVec
	historyErrors                  prometheus.Counter
	reloadOK                       prometheus.Gauge
	reloadTime                     prometheus.Gauge
	api                            *apiCost
}

// NewSelf registers the exporter's own metrics with reg.
func NewSelf(reg prometheus.Registerer) *Self {
	s := &Self{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("collector", "runs_total"), Help: "Collections of the source since the exporter started.",
		}, sourceLabels),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("collector", "errors_total"), Help: "Failed collections of the source, by kind of failure (not_found, timeout, exit, parse, io, config, canceled, limit, other).",
		}, append(sourceLabels, "kind")),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("collector", "external_calls_total"), Help: "External calls (programs run, API requests) the collections of the source made, by operation.",
		}, append(sourceLabels, "operation")),
		readBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("collector", "read_bytes_total"), Help: "Bytes the programs run by the collections of the source read.",
		}, sourceLabels),
		historyRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: name("history", "rows_written_total"), Help: "Rows appended to the long-term history, by table.",
		}, []string{"table"}),
		historyErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: name("history", "write_errors_total"), Help: "Failed appends to the long-term history.",
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: name("config", "last_reload_successful"), Help: "1 if the last configuration reload succeeded.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: name("config", "last_reload_success_timestamp_seconds"), Help: "Time of the last successful configuration reload.",
		}),
	}
	s.api = newAPICost()
	reg.MustRegister(s.runs, s.errors, s.calls, s.readBytes, s.historyRows, s.historyErrors, s.reloadOK, s.reloadTime)
	reg.MustRegister(s.api.collectors()...)
	for _, t := range []string{"backups", "repositories", "probes", "request_counts", "cost_lines"} {
		s.historyRows.WithLabelValues(t)
	}
	return s
}

// Declare creates every counter of the configured sources at 0: runs, read
// bytes, errors of every failure kind (runx.Kinds), and external calls of
// every operation the source's collector declares
// (collectors.OperationDeclarer). A counter that appears only with its
// first increment makes increase() and rate() miss that increment, so an
// alert or panel on the first error of a source would never see it.
// Counters of sources removed by a reload are kept: they are still true
// totals since the start. It also takes the price table, the API budgets
// and the intervals the API cost metrics are estimated with.
func (s *Self) Declare(cfg *config.Config, cs map[string]collectors.Collector) {
	s.api.configure(cfg, cs)
	for _, src := range cfg.Sources {
		s.runs.WithLabelValues(src.Name, src.Type)
		s.readBytes.WithLabelValues(src.Name, src.Type)
		for _, k := range runx.Kinds {
			s.errors.WithLabelValues(src.Name, src.Type, string(k))
		}
		if d, ok := cs[src.Name].(collectors.OperationDeclarer); ok {
			for _, op := range d.Operations() {
				s.calls.WithLabelValues(src.Name, src.Type, op)
			}
		}
	}
}

// ObserveRun counts one collection.
func (s *Self) ObserveRun(r collectors.Run) {
	s.runs.WithLabelValues(r.Source, r.Type).Inc()
	if r.Err != nil {
		s.errors.WithLabelValues(r.Source, r.Type, string(r.Kind)).Inc()
	}
	for op, n := range r.Calls {
		s.calls.WithLabelValues(r.Source, r.Type, op).Add(float64(n))
	}
	s.readBytes.WithLabelValues(r.Source, r.Type).Add(float64(r.ReadBytes))
	s.api.observe(r)
}

// HistoryWritten counts rows appended to a history table.
func (s *Self) HistoryWritten(table string, rows int) {
	s.historyRows.WithLabelValues(table).Add(float64(rows))
}

// HistoryFailed counts a failed history append.
func (s *Self) HistoryFailed() { s.historyErrors.Inc() }

// Reloaded records the outcome of a configuration (re)load.
func (s *Self) Reloaded(ok bool, at time.Time) {
	if !ok {
		s.reloadOK.Set(0)
		return
	}
	s.reloadOK.Set(1)
	s.reloadTime.Set(float64(at.UnixNano()) / 1e9)
}
