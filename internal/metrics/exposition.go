package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Exposition is everything /metrics serves, in its two parts: Own, the
// exporter's registry (build info, go_ and process_ metrics, its counters),
// small and different at every scrape, and Derived, the metrics derived from
// state, large and unchanged until the state changes. The /metrics route
// encodes Own at every scrape and reuses the encoded body of Derived while
// its version stays the same.
type Exposition struct {
	Own     prometheus.Gatherer
	Derived *Collector
}

var _ prometheus.Gatherer = Exposition{}

// Gather merges both parts, sorted and checked for consistency as
// prometheus.Gatherers does.
func (e Exposition) Gather() ([]*dto.MetricFamily, error) {
	return prometheus.Gatherers{e.Own, e.Derived}.Gather()
}
