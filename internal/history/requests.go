package history

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/model"
)

// TableRequestCounts holds request counts: one row per source, resource,
// operation and period, and a new row only when a re-collection reports a
// different count or cost for the same period (CloudWatch revises late
// data); readers take the row with the latest collected_at of each period.
// It is partitioned by the day the period starts.
const TableRequestCounts = "request_counts"

// RequestCountRow is one request count in the request_counts table.
type RequestCountRow struct {
	Origin      string    `parquet:"origin,dict"`
	Source      string    `parquet:"source,dict"`
	Env         string    `parquet:"env,dict"`
	Dataset     string    `parquet:"dataset,dict"`
	Resource    string    `parquet:"resource,optional,dict"`
	Operation   string    `parquet:"operation,dict"`
	PeriodStart time.Time `parquet:"period_start,timestamp(microsecond:utc)"`
	PeriodEnd   time.Time `parquet:"period_end,timestamp(microsecond:utc)"`
	Count       float64   `parquet:"count"`
	// Cost is NULL when nothing prices the requests; a pointer keeps a
	// known zero (DELETE requests are free) apart from unknown.
	Cost          *float64  `parquet:"cost,optional"`
	Currency      string    `parquet:"currency,optional,dict"`
	CostEstimated bool      `parquet:"cost_estimated"`
	CollectedAt   time.Time `parquet:"collected_at,timestamp(microsecond:utc)"`
	ContentHash   int64     `parquet:"content_hash"`
}

// RequestCountRowOf maps a request count to its row.
func RequestCountRowOf(r *model.RequestCount, collectedAt time.Time) RequestCountRow {
	row := RequestCountRow{
		Origin: r.Origin, Source: r.Source, Env: r.Env, Dataset: r.Dataset, Resource: r.Resource, Operation: r.Operation,
		PeriodStart: micros(r.PeriodStart), PeriodEnd: micros(r.PeriodEnd), Count: r.Count,
		CollectedAt: micros(collectedAt),
	}
	if r.CostKnown {
		c := r.Cost
		row.Cost, row.Currency, row.CostEstimated = &c, r.Currency, r.CostEstimated
	}
	row.ContentHash = row.contentHash()
	return row
}

// RequestCount maps a row back to the request count.
func (r *RequestCountRow) RequestCount() model.RequestCount {
	out := model.RequestCount{
		Origin: r.Origin, Source: r.Source, Env: r.Env, Dataset: r.Dataset, Resource: r.Resource, Operation: r.Operation,
		PeriodStart: utc(r.PeriodStart), PeriodEnd: utc(r.PeriodEnd), Count: r.Count,
	}
	if r.Cost != nil {
		out.Cost, out.Currency, out.CostKnown, out.CostEstimated = *r.Cost, r.Currency, true, r.CostEstimated
	}
	return out
}

// requestKey identifies a counted period.
type requestKey struct {
	origin, source, env, dataset, resource, operation string
	start, end                                        int64
}

func (r *RequestCountRow) key() requestKey {
	return requestKey{r.Origin, r.Source, r.Env, r.Dataset, r.Resource, r.Operation, r.PeriodStart.UnixMicro(), r.PeriodEnd.UnixMicro()}
}

// contentHash covers what a re-collection may change: the count and its
// cost.
func (r *RequestCountRow) contentHash() int64 {
	var h hasher
	h.reset()
	h.u64(math.Float64bits(r.Count))
	if r.Cost != nil {
		h.u64(1)
		h.u64(math.Float64bits(*r.Cost))
	} else {
		h.u64(0)
	}
	h.str(r.Currency)
	h.bool(r.CostEstimated)
	return int64(h.sum())
}

// requestState is the newest version of each counted period.
type requestState struct {
	hash        int64
	collectedAt time.Time
}

// AppendRequests records request counts outside a catalog: the
// exporter's own calls of a collection (origin exporter), failed
// collections' included. Like the counts of a catalog, a counted period
// already recorded with the same count and cost adds nothing.
func (w *Writer) AppendRequests(source string, counts []model.RequestCount) (int, error) {
	if len(counts) == 0 {
		return 0, nil
	}
	if err := w.begin(); err != nil {
		return 0, fmt.Errorf("append request counts of %s: %w", source, err)
	}
	defer w.life.RUnlock()
	return w.appendRequests(source, counts, micros(w.now()))
}

// appendRequests records the request counts of one collection of source:
// a row for each period that is new or whose count or cost changed.
func (w *Writer) appendRequests(source string, counts []model.RequestCount, now time.Time) (int, error) {
	if len(counts) == 0 {
		return 0, nil
	}
	w.requestMu.Lock()
	defer w.requestMu.Unlock()
	var rows []RequestCountRow
	batch := map[requestKey]bool{}
	for i := range counts {
		row := RequestCountRowOf(&counts[i], now)
		if row.PeriodStart.IsZero() {
			return 0, fmt.Errorf("append request counts of %s: a count of %s %s without a period", source, row.Resource, row.Operation)
		}
		k := row.key()
		if prev, ok := w.requests[k]; ok && prev.hash == row.ContentHash || batch[k] {
			continue
		}
		batch[k] = true
		rows = append(rows, row)
	}
	for _, day := range byDay(rows, func(r *RequestCountRow) time.Time { return r.PeriodStart }) {
		dir := filepath.Join(w.tableDir(TableRequestCounts), partitionOf(day[0].PeriodStart))
		if _, err := writeFile(dir, now, day, nil); err != nil {
			return 0, fmt.Errorf("append request counts of %s: %w", source, err)
		}
		for i := range day {
			w.requests[day[i].key()] = requestState{hash: day[i].ContentHash, collectedAt: day[i].CollectedAt}
		}
	}
	return len(rows), nil
}

// requestKeyColumns are the columns the duplicate filter of the request
// counts is rebuilt from.
func requestKeyColumns() []string {
	return []string{"origin", "source", "env", "dataset", "resource", "operation", "period_start", "period_end", "collected_at", "content_hash"}
}

// rebuildRequests reads the newest version of every counted period back
// from the files.
func (w *Writer) rebuildRequests() error {
	err := scanColumns(w.tableDir(TableRequestCounts), requestKeyColumns(), func(v []parquet.Value) error {
		k := requestKey{valueString(v[0]), valueString(v[1]), valueString(v[2]), valueString(v[3]), valueString(v[4]), valueString(v[5]),
			valueMicros(v[6]).UnixMicro(), valueMicros(v[7]).UnixMicro()}
		at := valueMicros(v[8])
		if prev, ok := w.requests[k]; ok && prev.collectedAt.After(at) {
			return nil
		}
		w.requests[k] = requestState{hash: v[9].Int64(), collectedAt: at}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild request count state: %w", err)
	}
	return nil
}
