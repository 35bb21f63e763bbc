// Package collectors holds the contract every backup-catalog collector
// fulfils, the explicit list of collectors, and the scheduler that runs them
// in the background.
//
// A collector reads one source and normalises it into model records. It
// never publishes metrics or writes history itself: those are derived from
// the records it returns, each in one place.
package collectors

import (
	"context"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/prices"
)

// Collector reads one configured source.
type Collector interface {
	// Collect reads the source once and returns its whole current catalog.
	// It must return promptly once ctx is done, and must not keep state
	// that makes a later call return less than the source holds. Errors
	// should carry a runx kind (runx.Errorf, runx.ParseError) so that the
	// exporter's self-metrics can say why the source failed.
	Collect(ctx context.Context) (*model.Catalog, error)
}

// OperationDeclarer is implemented by collectors that make external calls.
// Operations returns every operation label (runx.Count's operation: the
// program's base name and its subcommand, such as "pgbackrest info") a
// Collect of this source can count, so that the exporter can expose each
// call counter at 0 before the first call. A collector that makes no
// external call need not implement it.
type OperationDeclarer interface {
	Operations() []string
}

// UnitDeclarer is implemented by collectors some of whose operations are
// billed per unit other than the request: CloudWatch GetMetricData is
// billed per metric each request asks for. UnitsPerCall returns, by
// operation label, the units one call asks for on average; the exporter
// prices its own calls with it (a price table entry with unit: metric).
type UnitDeclarer interface {
	UnitsPerCall() map[string]float64
}

// CallEstimator is implemented by collectors whose calls per collection
// can be told before any collection: MinCalls returns, by operation label,
// the fewest calls one collection makes (one page per query). The
// configuration check estimates API costs with it; the exporter's metrics
// use the calls really counted.
type CallEstimator interface {
	MinCalls() map[string]int
}

// Deps are what the exporter hands every collector.
type Deps struct {
	Logger *slog.Logger
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// StateDir is where collectors keep what must survive a restart (the
	// restic collector: figures and snapshot contents that spare an
	// unchanged repository a rescan), one file per source; "" keeps it in
	// memory only. It never lies inside the history's Parquet tables.
	StateDir string
	// Prices is the price table in force (the configuration's); sources
	// that price what they report (s3requests) use it.
	Prices *prices.Table
}

// StateDir returns the directory of collector state next to the history
// rooted at historyRoot: a directory of its own at the top of the root,
// beside the table directories and never inside them, so that the history
// writer, its compaction and its retention never see it, and a backup of
// the history directory takes the state along.
func StateDir(historyRoot string) string {
	if historyRoot == "" {
		return ""
	}
	return filepath.Join(historyRoot, "_collectors")
}

// Factory builds a collector for one configured source.
type Factory func(src *config.Source, deps Deps) (Collector, error)
