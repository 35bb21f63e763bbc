package restic

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/runx"
)

// The operations the collector declares are the ones a real collection
// counts (snapshots, both stats runs and the listing of a new snapshot), so the exporter's call counters
// created at 0 are the series that later increase.
func TestOperationsAreTheCountedCalls(t *testing.T) {
	r := newTestRepo(t)
	r.backup("web-1", time.Now().Add(-time.Hour), nil, r.write("a/file", 4096))
	c := newTestCollector(t, r.source(nil), time.Now)
	var meter runx.Meter
	if _, err := c.Collect(runx.WithMeter(context.Background(), &meter)); err != nil {
		t.Fatal(err)
	}
	declared := c.Operations()
	for op := range meter.Calls() {
		if !slices.Contains(declared, op) {
			t.Errorf("the collection counted operation %q, the collector declares %q", op, declared)
		}
	}
	if n := len(meter.Calls()); n < 2 {
		t.Errorf("counted %v, want snapshots and stats", meter.Calls())
	}
}
