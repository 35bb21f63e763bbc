package history

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// A bulk import writes a line only when neither the table (lines the
// exporter's writer appended) nor the import itself holds its id, from
// however many goroutines; nothing is in the table before Commit, and
// afterwards every line is, once, in its month's partition, where the
// writer sees it as held.
func TestCostLineImportWritesEachLineOnce(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	nov, dec := time.Date(2023, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2023, 12, 2, 5, 0, 0, 0, time.UTC)
	w := openTest(t, root, c, 0)
	mustAppend(t, w, "bills", &model.Catalog{CostLines: []model.CostLine{costLine("old", nov, 1)}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	im, err := NewCostLineImport(root, day0())
	if err != nil {
		t.Fatal(err)
	}
	// Four goroutines hand in the same 500 ids, over two months, and the
	// line the writer appended.
	var lines []model.CostLine
	for i := range 500 {
		start := nov
		if i%2 == 1 {
			start = dec
		}
		lines = append(lines, costLine(fmt.Sprint("line-", i), start, float64(i)))
	}
	lines = append(lines, costLine("old", nov, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	written, held := 0, 0
	for range 4 {
		cw := im.Writer()
		wg.Go(func() {
			for i := 0; i < len(lines); i += 37 {
				n, h, err := cw.Write(lines[i:min(i+37, len(lines))])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written, held = written+n, held+h
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if written != 500 || held != 3*500+4 {
		t.Errorf("written %d, held %d: want 500 and %d", written, held, 3*500+4)
	}
	if rows := readRows[CostLineRow](t, root, TableCostLines); len(rows) != 1 {
		t.Fatalf("%d rows in the table before Commit, want the writer's 1", len(rows))
	}
	paths, err := im.Commit()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if part := filepath.Base(filepath.Dir(p)); part != "dt=2023-11-01" && part != "dt=2023-12-01" {
			t.Errorf("file %s outside the months' partitions", p)
		}
	}
	rows := readRows[CostLineRow](t, root, TableCostLines)
	seen := map[string]CostLineRow{}
	for _, r := range rows {
		if _, dup := seen[r.LineID]; dup {
			t.Fatalf("line %s twice in the table", r.LineID)
		}
		seen[r.LineID] = r
	}
	if len(rows) != 501 || seen["line-7"].BilledCost != 7 || !seen["line-7"].PeriodStart.Equal(dec) || !seen["line-7"].CollectedAt.Equal(day0()) {
		t.Errorf("%d rows; line-7 %+v", len(rows), seen["line-7"])
	}
	if leftovers, _ := filepath.Glob(filepath.Join(root, stateDir, "import-*")); len(leftovers) != 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
	if _, err := im.Commit(); err == nil {
		t.Error("a second Commit succeeded")
	}
	w = openTest(t, root, c, 0)
	if st := mustAppend(t, w, "bills", &model.Catalog{CostLines: lines}); st.CostLines != 0 {
		t.Errorf("the writer appended %d of the imported lines", st.CostLines)
	}
}

// An aborted import leaves the table as it was and removes what it
// staged; a line without an id or a period start fails the write.
func TestCostLineImportAbort(t *testing.T) {
	root := t.TempDir()
	im, err := NewCostLineImport(root, day0())
	if err != nil {
		t.Fatal(err)
	}
	cw := im.Writer()
	if _, _, err := cw.Write([]model.CostLine{costLine("a", day0(), 1)}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []model.CostLine{costLine("", day0(), 1), costLine("x", time.Time{}, 1)} {
		if _, _, err := cw.Write([]model.CostLine{l}); err == nil {
			t.Errorf("line %+v written", l)
		}
	}
	if err := im.Abort(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, TableCostLines)); !os.IsNotExist(err) {
		t.Errorf("table after an aborted import: %v", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(root, stateDir, "import-*")); len(leftovers) != 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
}

// A Commit that fails part way (a month's partition cannot be made)
// leaves whole files only, each with lines the table did not hold, and
// removes the rest of what it staged.
func TestCostLineImportCommitFailsPartWay(t *testing.T) {
	root := t.TempDir()
	nov, dec := time.Date(2023, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2023, 12, 2, 5, 0, 0, 0, time.UTC)
	if err := os.MkdirAll(filepath.Join(root, TableCostLines), 0o755); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(root, TableCostLines, partitionOf(MonthOf(dec)))
	if err := os.WriteFile(blocked, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := NewCostLineImport(root, day0())
	if err != nil {
		t.Fatal(err)
	}
	cw := im.Writer()
	if _, _, err := cw.Write([]model.CostLine{costLine("n1", nov, 1), costLine("n2", nov, 2), costLine("d1", dec, 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Commit(); err == nil {
		t.Fatal("Commit succeeded with a month's partition blocked")
	}
	rows := readRows[CostLineRow](t, root, TableCostLines)
	if len(rows) != 0 && len(rows) != 2 {
		t.Errorf("%d rows in the table, want November's whole file or nothing", len(rows))
	}
	for _, r := range rows {
		if r.LineID != "n1" && r.LineID != "n2" {
			t.Errorf("row %s in the table", r.LineID)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(root, stateDir, "import-*")); len(leftovers) != 0 {
		t.Errorf("staging left behind: %v", leftovers)
	}
}
