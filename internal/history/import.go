package history

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/model"
)

// CostLineImport writes the lines of bills into the cost_lines table in
// bulk (analyze import billing), from several goroutines at once: each
// has its own CostLineWriter, which writes its own file for each month
// into a staging directory; Commit moves the files into the table, Abort
// removes them. Like the Writer, it writes a line only when the table
// does not hold its LineID (nor did this import write it), comparing the
// ids' 64-bit hashes. The caller holds the root's writer lock (ImportLock)
// from before NewCostLineImport to after Commit or Abort.
type CostLineImport struct {
	root    string
	staging string
	now     time.Time
	held    [heldShards]heldShard

	mu      sync.Mutex
	writers []*CostLineWriter
	done    bool
}

const heldShards = 64

type heldShard struct {
	mu  sync.Mutex
	ids map[uint64]struct{}
}

// NewCostLineImport starts an import into the history at root, whose
// lines are collected at now. It reads the line ids the table holds.
func NewCostLineImport(root string, now time.Time) (*CostLineImport, error) {
	im := &CostLineImport{root: filepath.Clean(root), now: now.UTC().Truncate(time.Microsecond)}
	for i := range im.held {
		im.held[i].ids = map[uint64]struct{}{}
	}
	err := eachLineKey(filepath.Join(im.root, TableCostLines), func(k uint64) { im.held[k%heldShards].ids[k] = struct{}{} })
	if err != nil {
		return nil, fmt.Errorf("read the line ids of %s: %w", TableCostLines, err)
	}
	if err := os.MkdirAll(filepath.Join(im.root, stateDir), 0o755); err != nil {
		return nil, err
	}
	if im.staging, err = os.MkdirTemp(filepath.Join(im.root, stateDir), "import-"); err != nil {
		return nil, fmt.Errorf("import cost lines: %w", err)
	}
	return im, nil
}

// claim reports whether the line id is new, and holds it from now on.
func (im *CostLineImport) claim(id string) bool {
	k := lineKey(id)
	s := &im.held[k%heldShards]
	s.mu.Lock()
	n := len(s.ids)
	s.ids[k] = struct{}{} // one probe of the map, not a lookup and an insert
	added := len(s.ids) > n
	s.mu.Unlock()
	return added
}

// Writer returns a writer for one goroutine.
func (im *CostLineImport) Writer() *CostLineWriter {
	w := &CostLineWriter{im: im, months: map[time.Time]*monthFile{}}
	im.mu.Lock()
	im.writers = append(im.writers, w)
	im.mu.Unlock()
	return w
}

// CostLineWriter writes the lines one goroutine hands it.
type CostLineWriter struct {
	im     *CostLineImport
	months map[time.Time]*monthFile
	rows   []CostLineRow
}

type monthFile struct {
	path string
	f    *os.File
	w    *parquet.GenericWriter[CostLineRow]
}

// Write writes the lines whose line id is new and returns how many it
// wrote and how many it left out as held. Lines need a LineID and a
// period start.
func (w *CostLineWriter) Write(lines []model.CostLine) (written, held int, err error) {
	w.rows = w.rows[:0]
	flush := func() error {
		if len(w.rows) == 0 {
			return nil
		}
		month := MonthOf(w.rows[0].PeriodStart)
		mf, err := w.month(month)
		if err != nil {
			return err
		}
		if _, err := mf.w.Write(w.rows); err != nil {
			return fmt.Errorf("write cost lines to %s: %w", mf.path, err)
		}
		w.rows = w.rows[:0]
		return nil
	}
	for i := range lines {
		l := &lines[i]
		if l.LineID == "" || l.PeriodStart.IsZero() {
			return written, held, fmt.Errorf("cost line %q without a line id or a period start", l.LineID)
		}
		if !w.im.claim(l.LineID) {
			held++
			continue
		}
		if len(w.rows) > 0 && !MonthOf(l.PeriodStart).Equal(MonthOf(w.rows[0].PeriodStart)) {
			if err := flush(); err != nil {
				return written, held, err
			}
		}
		w.rows = append(w.rows, CostLineRowOf(l, w.im.now))
		written++
	}
	return written, held, flush()
}

// month returns the file of a month, created on first use.
func (w *CostLineWriter) month(m time.Time) (*monthFile, error) {
	if mf, ok := w.months[m]; ok {
		return mf, nil
	}
	f, err := os.CreateTemp(w.im.staging, "part-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("import cost lines: %w", err)
	}
	mf := &monthFile{path: f.Name(), f: f, w: parquet.NewGenericWriter[CostLineRow](f, writerOptions(nil)...)}
	w.months[m] = mf
	return mf, nil
}

// close finishes the writer's files.
func (w *CostLineWriter) close() error {
	var errs []error
	for _, mf := range w.months {
		if mf.w != nil {
			errs = append(errs, mf.w.Close())
			mf.w = nil
		}
		if mf.f != nil {
			errs = append(errs, mf.f.Close())
			mf.f = nil
		}
	}
	return errors.Join(errs...)
}

// Commit finishes every writer's files and moves them into the table,
// each synced before it is renamed into its month's partition. It
// returns the files' paths in the table. A Commit that fails part way
// leaves the files it moved: each is whole, and holds lines the table did
// not; the others are removed.
func (im *CostLineImport) Commit() ([]string, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.done {
		return nil, errors.New("import already committed or aborted")
	}
	im.done = true
	defer os.RemoveAll(im.staging) //nolint:errcheck // our own scratch directory
	var errs []error
	for _, w := range im.writers {
		errs = append(errs, w.close())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("finish staged cost lines: %w", err)
	}
	var paths []string
	for _, w := range im.writers {
		for month, mf := range w.months {
			p, err := adoptFile(im.root, TableCostLines, month, mf.path, im.now)
			if err != nil {
				return paths, err
			}
			paths = append(paths, p)
		}
	}
	return paths, nil
}

// Abort removes what the import staged; the table is as it was.
func (im *CostLineImport) Abort() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.done {
		return nil
	}
	im.done = true
	var errs []error
	for _, w := range im.writers {
		errs = append(errs, w.close())
	}
	return errors.Join(append(errs, os.RemoveAll(im.staging))...)
}
