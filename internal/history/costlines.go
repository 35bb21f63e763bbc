package history

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/model"
)

// TableCostLines holds the lines of bills (billing sources, analyze import
// billing), one row per line. A bill is monthly and lines of a month are
// read together, so the table is partitioned by month: a line is in the
// partition of the first day of its period start's UTC month. A line whose line_id is already in the table is never
// appended again, so re-collecting or re-importing a bill adds nothing.
const TableCostLines = "cost_lines"

// CostLineRow is one cost line. Text and time columns are optional (NULL
// when empty), as in the files earlier analyzers' DuckDB import wrote;
// amounts are required, because a zero cost is a real zero.
type CostLineRow struct {
	Source        string    `parquet:"source,optional,dict"`
	Format        string    `parquet:"format,optional,dict"`
	LineID        string    `parquet:"line_id,optional"`
	PeriodStart   time.Time `parquet:"period_start,optional,timestamp(microsecond:utc)"`
	PeriodEnd     time.Time `parquet:"period_end,optional,timestamp(microsecond:utc)"`
	Provider      string    `parquet:"provider,optional,dict"`
	Account       string    `parquet:"account,optional,dict"`
	Region        string    `parquet:"region,optional,dict"`
	Service       string    `parquet:"service,optional,dict"`
	Resource      string    `parquet:"resource,optional,dict"`
	Category      string    `parquet:"category,optional,dict"`
	StorageClass  string    `parquet:"storage_class,optional,dict"`
	UsageType     string    `parquet:"usage_type,optional,dict"`
	Quantity      float64   `parquet:"quantity"`
	Unit          string    `parquet:"unit,optional,dict"`
	BilledCost    float64   `parquet:"billed_cost"`
	EffectiveCost float64   `parquet:"effective_cost"`
	ListCost      float64   `parquet:"list_cost"`
	Currency      string    `parquet:"currency,optional,dict"`
	// Tags is a JSON object, NULL when the line has none.
	Tags        string    `parquet:"tags,optional"`
	Env         string    `parquet:"env,optional,dict"`
	Dataset     string    `parquet:"dataset,optional,dict"`
	CollectedAt time.Time `parquet:"collected_at,optional,timestamp(microsecond:utc)"`
}

// CostLineRowOf maps a cost line collected at collectedAt to its row.
func CostLineRowOf(l *model.CostLine, collectedAt time.Time) CostLineRow {
	return CostLineRow{
		Source: l.Source, Format: l.Format, LineID: l.LineID,
		PeriodStart: micros(l.PeriodStart), PeriodEnd: micros(l.PeriodEnd),
		Provider: l.Provider, Account: l.Account, Region: l.Region, Service: l.Service, Resource: l.Resource,
		Category: string(l.Category), StorageClass: l.StorageClass, UsageType: l.UsageType,
		Quantity: l.Quantity, Unit: l.Unit,
		BilledCost: l.BilledCost, EffectiveCost: l.EffectiveCost, ListCost: l.ListCost, Currency: l.Currency,
		Tags: tagsJSON(l.Tags), Env: l.Env, Dataset: l.Dataset, CollectedAt: micros(collectedAt),
	}
}

// MonthOf is the first day of t's UTC month: the partition of a cost line
// whose period starts at t.
func MonthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// lineKey is what the duplicate filter keeps of a line id: its 64-bit
// hash, so that millions of lines cost megabytes, not their ids' text.
func lineKey(id string) uint64 { return xxhash.Sum64String(id) }

// appendCostLines writes the lines whose LineID the table does not hold
// yet, one file per UTC month of their period start, and returns how
// many.
// The caller holds the source's lock; costMu guards the filter.
func (w *Writer) appendCostLines(source string, lines []model.CostLine, now time.Time) (int, error) {
	if len(lines) == 0 {
		return 0, nil
	}
	w.costMu.Lock()
	defer w.costMu.Unlock()
	var rows []CostLineRow
	batch := map[uint64]struct{}{}
	for i := range lines {
		l := &lines[i]
		if l.LineID == "" {
			return 0, fmt.Errorf("cost line %d of the catalog has no line id", i)
		}
		if l.PeriodStart.IsZero() {
			return 0, fmt.Errorf("cost line %s has no period start", l.LineID)
		}
		k := lineKey(l.LineID)
		if _, ok := w.costLines[k]; ok {
			continue
		}
		if _, ok := batch[k]; ok {
			continue
		}
		batch[k] = struct{}{}
		row := CostLineRowOf(l, now)
		if row.Source == "" {
			row.Source = source
		}
		rows = append(rows, row)
	}
	n := 0
	for _, day := range byDay(rows, func(r *CostLineRow) time.Time { return MonthOf(r.PeriodStart) }) {
		dir := filepath.Join(w.tableDir(TableCostLines), partitionOf(MonthOf(day[0].PeriodStart)))
		if _, err := writeFile(dir, now, day, nil); err != nil {
			return n, fmt.Errorf("append cost lines of %s: %w", source, err)
		}
		for i := range day {
			w.costLines[lineKey(day[i].LineID)] = struct{}{}
		}
		n += len(day)
	}
	return n, nil
}

// rebuildCostLines reads the line ids back from the files.
func (w *Writer) rebuildCostLines() error {
	return eachLineKey(w.tableDir(TableCostLines), func(k uint64) { w.costLines[k] = struct{}{} })
}

// eachLineKey calls fn with the lineKey of every line id of the
// cost_lines files under dir: the duplicate filter of the Writer and of a
// CostLineImport.
func eachLineKey(dir string, fn func(uint64)) error {
	return scanColumns(dir, []string{"line_id"}, func(v []parquet.Value) error {
		fn(lineKey(valueString(v[0])))
		return nil
	})
}

// ImportLock takes the history's writer lock for an import that writes
// files itself (analyze import billing): an exporter writing the same
// root would not see the imported line ids in its duplicate filter. It
// fails at once when another writer holds the lock.
func ImportLock(root string) (io.Closer, error) {
	dir := filepath.Join(filepath.Clean(root), stateDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lock history %s: %w", root, err)
	}
	f, err := lockRoot(filepath.Join(dir, "writer.lock"))
	if err != nil {
		return nil, fmt.Errorf("lock history %s (stop the exporter writing it, or import into another root): %w", root, err)
	}
	return f, nil
}

// adoptFile moves a finished Parquet file of a table's rows, written
// elsewhere on the same file system, into the partition of day under a
// name of this package, so that compaction and recovery treat it as their
// own. The rename is atomic: readers see the whole file or none. The
// caller holds ImportLock.
func adoptFile(root, table string, day time.Time, path string, now time.Time) (string, error) {
	if table == "" || filepath.Base(table) != table {
		return "", errors.New("adopt file: bad table name")
	}
	dir := filepath.Join(filepath.Clean(root), table, partitionOf(day))
	if err := mkdirSynced(filepath.Join(filepath.Clean(root), table)); err != nil {
		return "", err
	}
	if err := mkdirSynced(dir); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("adopt %s: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("adopt %s: sync: %w", path, err)
	}
	final := filepath.Join(dir, newFileName(now))
	if err := os.Rename(path, final); err != nil {
		return "", fmt.Errorf("adopt %s: %w", path, err)
	}
	return final, syncDir(dir)
}

// costLineColumns are the columns of CostLineRow in its order.
var costLineColumns = []string{
	"source", "format", "line_id", "period_start", "period_end", "provider", "account", "region", "service",
	"resource", "category", "storage_class", "usage_type", "quantity", "unit", "billed_cost", "effective_cost",
	"list_cost", "currency", "tags", "env", "dataset", "collected_at",
}

// readCostLines reads the rows of a cost_lines file column by column, by
// name: files the writer wrote and files earlier analyzers' DuckDB import
// wrote (which histories keep) differ
// in their schema's details (nullability, encodings), not in their
// columns, and a GenericReader refuses (or, across schemas, misreads) the
// other kind.
func readCostLines(path string, fn func([]CostLineRow) error) error {
	batch := make([]CostLineRow, 0, readBatch)
	num := func(v parquet.Value) float64 {
		if v.IsNull() {
			return 0
		}
		return v.Double()
	}
	err := readColumns(path, costLineColumns, func(v []parquet.Value) error {
		batch = append(batch, CostLineRow{
			Source: valueString(v[0]), Format: valueString(v[1]), LineID: valueString(v[2]),
			PeriodStart: valueMicros(v[3]), PeriodEnd: valueMicros(v[4]), Provider: valueString(v[5]),
			Account: valueString(v[6]), Region: valueString(v[7]), Service: valueString(v[8]),
			Resource: valueString(v[9]), Category: valueString(v[10]), StorageClass: valueString(v[11]),
			UsageType: valueString(v[12]), Quantity: num(v[13]), Unit: valueString(v[14]),
			BilledCost: num(v[15]), EffectiveCost: num(v[16]), ListCost: num(v[17]), Currency: valueString(v[18]),
			Tags: valueString(v[19]), Env: valueString(v[20]), Dataset: valueString(v[21]), CollectedAt: valueMicros(v[22]),
		})
		if len(batch) == cap(batch) {
			err := fn(batch)
			batch = batch[:0]
			return err
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = fn(batch)
	}
	return err
}
