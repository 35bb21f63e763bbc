package events

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of received events and reasons of refused requests, the label
// values of the ingest self-metrics.
const (
	OutcomeAccepted  = "accepted"
	OutcomeDuplicate = "duplicate"
	OutcomeIgnored   = "ignored"

	RefusedInvalid      = "invalid"
	RefusedUnauthorized = "unauthorized"
	RefusedTooLarge     = "too_large"
	RefusedThrottled    = "throttled"
	RefusedUnavailable  = "unavailable"
	// RefusedGone is a request whose client went away (or whose deadline
	// passed) while its events waited for the journal: they may still be
	// written, and a retry with the same delivery id is then a duplicate.
	RefusedGone = "client_gone"
)

type ingestMetrics struct {
	received *prometheus.CounterVec
	refused  *prometheus.CounterVec
	fsync    prometheus.Histogram
	batch    prometheus.Histogram
}

func newIngestMetrics(reg prometheus.Registerer, in *Ingester) *ingestMetrics {
	m := &ingestMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "restorable_events_received_total",
			Help: "Release events received, by sender, kind and outcome (accepted into the journal, duplicate of an event already in it, ignored because its environment is not configured).",
		}, []string{"sender", "kind", "outcome"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "restorable_events_refused_total",
			Help: "Event requests refused before any event was recorded, by sender and reason (invalid, unauthorized, too_large, throttled, unavailable, client_gone).",
		}, []string{"sender", "reason"}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "restorable_events_journal_fsync_duration_seconds",
			Help:    "Time of one fsync of the event journal (one group commit; several may overlap).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "restorable_events_journal_commit_events",
			Help:    "Events written by one group commit (one fsync) of the event journal.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 7),
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.received, m.refused, m.fsync, m.batch,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "restorable_events_queue_length",
			Help: "Event requests waiting for the journal's writer.",
		}, func() float64 { return float64(len(in.queue)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "restorable_events_queue_capacity",
			Help: "Event requests that may wait for the journal; one more is answered 429 (events.queue_size).",
		}, func() float64 { return float64(cap(in.queue)) }),
	)
	return m
}
