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
// billing), one row per line, partitioned by the UTC day of the line's
// period start. A line whose line_id is already in the table is never
// appended again, so re-collecting or re-importing a bill adds nothing.
const TableCostLines = "cost_lines"

// CostLineRow is one cost line. Every column is optional, so that files
// the analyzer's DuckDB import writes (where every column is nullable)
// and files this writer writes have one schema.
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
	Quantity      float64   `parquet:"quantity,optional"`
	Unit          string    `parquet:"unit,optional,dict"`
	BilledCost    float64   `parquet:"billed_cost,optional"`
	EffectiveCost float64   `parquet:"effective_cost,optional"`
	ListCost      float64   `parquet:"list_cost,optional"`
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

// lineKey is what the duplicate filter keeps of a line id: its 64-bit
// hash, so that millions of lines cost megabytes, not their ids' text.
func lineKey(id string) uint64 { return xxhash.Sum64String(id) }

// appendCostLines writes the lines whose LineID the table does not hold
// yet, one file per UTC day of their period start, and returns how many.
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
	for _, day := range byDay(rows, func(r *CostLineRow) time.Time { return r.PeriodStart }) {
		dir := filepath.Join(w.tableDir(TableCostLines), partitionOf(day[0].PeriodStart))
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
	return scanColumns(w.tableDir(TableCostLines), []string{"line_id"}, func(v []parquet.Value) error {
		w.costLines[lineKey(valueString(v[0]))] = struct{}{}
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

// AdoptFile moves a finished Parquet file of a table's rows, written
// elsewhere on the same file system, into the partition of day under a
// name of this package, so that compaction and recovery treat it as their
// own. The rename is atomic: readers see the whole file or none. The
// caller holds ImportLock.
func AdoptFile(root, table string, day time.Time, path string, now time.Time) (string, error) {
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
