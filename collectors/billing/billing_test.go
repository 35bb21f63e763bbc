package billing

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	bill "github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func newCollector(t *testing.T, path string) *Collector {
	t.Helper()
	src := &config.Source{Name: "bills", Type: config.TypeBilling, Billing: &config.BillingOptions{Path: path,
		Attribution: &config.CostAttribution{Buckets: map[string]config.AttributionTarget{"acme-prod-backups": {Env: "prod", Dataset: "payments"}}}}}
	c, err := New(src, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Every bill under the path is read, at any depth; hidden files and
// other files are not. An unchanged file is not read again: its lines
// come from the last read, and a changed one is read anew.
func TestCollectReadsBillsOnce(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../../internal/billing/testdata/focus-1.0-sample.csv", filepath.Join(dir, "2024-09", "focus.csv"))
	copyFile(t, "../../internal/billing/testdata/messy-focus.csv", filepath.Join(dir, "messy.csv"))
	copyFile(t, "../../internal/billing/testdata/messy-focus.csv", filepath.Join(dir, ".hidden.csv"))
	copyFile(t, "../../internal/billing/testdata/LICENSE-focus-sample.md", filepath.Join(dir, "LICENSE.md"))
	c := newCollector(t, dir)
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.CostLines) != 48+2 || len(cat.Backups) != 0 {
		t.Fatalf("%d cost lines, %d backups", len(cat.CostLines), len(cat.Backups))
	}
	attributed := 0
	for _, l := range cat.CostLines {
		if l.Source != "bills" {
			t.Fatalf("line of source %q", l.Source)
		}
		if l.Env == "prod" && l.Dataset == "payments" {
			attributed++
		}
	}
	if attributed != 1 {
		t.Errorf("%d lines attributed to the mapped bucket, want the messy bill's one", attributed)
	}
	stats := c.Stats()
	messy := stats[filepath.Join(dir, "messy.csv")]
	if messy.RejectedTotal() != 11 || messy.Rejected[bill.RejectColumns] != 1 {
		t.Errorf("messy bill stats %+v", messy)
	}
	// The catalog carries the counts of both bills, as the parser made
	// them, for the metrics.
	focusStats := stats[filepath.Join(dir, "2024-09", "focus.csv")]
	if b := cat.BillRows; b == nil || b.Rows != focusStats.Rows+messy.Rows || b.Kept != 50 || b.OutOfScope != focusStats.OutOfScope+messy.OutOfScope ||
		b.RejectedTotal() != focusStats.RejectedTotal()+messy.RejectedTotal() || b.Rejected[bill.RejectBadTags] != 2 || b.Rows != b.Kept+b.OutOfScope+b.RejectedTotal() {
		t.Errorf("catalog counts %+v, want the sum of %+v and %+v", b, focusStats, messy)
	}
	// The same files again: the sample is replaced by a file that is not
	// a bill but keeps its size and time, so a re-read would fail.
	focus := filepath.Join(dir, "2024-09", "focus.csv")
	fi, err := os.Stat(focus)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, fi.Size())
	for i := range junk {
		junk[i] = 'x'
	}
	if err := os.WriteFile(focus, junk, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(focus, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	again, err := c.Collect(context.Background())
	if err != nil || len(again.CostLines) != 50 {
		t.Fatalf("unchanged files read again: %v, %d lines", err, len(again.CostLines))
	}
	if again.BillRows == nil || again.BillRows.Rows != cat.BillRows.Rows || again.BillRows.RejectedTotal() != cat.BillRows.RejectedTotal() {
		t.Errorf("counts of unchanged files %+v, want those of the first read %+v", again.BillRows, cat.BillRows)
	}
	// Now its time changes: it is read, and is no bill.
	if err := os.Chtimes(focus, fi.ModTime().Add(time.Hour), fi.ModTime().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Collect(context.Background()); runx.KindOf(err) != runx.KindParse {
		t.Errorf("a changed file that is not a bill: %v (%s), want kind parse", err, runx.KindOf(err))
	}
}

// A single file can be the path; a missing path is an io failure.
func TestCollectPath(t *testing.T) {
	c := newCollector(t, "../../internal/billing/testdata/aws-cur-legacy-sample.csv")
	cat, err := c.Collect(context.Background())
	if err != nil || len(cat.CostLines) != 799 {
		t.Fatalf("%v, %d lines", err, len(cat.CostLines))
	}
	c = newCollector(t, filepath.Join(t.TempDir(), "none"))
	if _, err := c.Collect(context.Background()); runx.KindOf(err) != runx.KindIO {
		t.Errorf("missing path: %v", err)
	}
}

// The catalog's row counts are those of the files under the path now: a
// bill that left it leaves the sums.
func TestCollectCountsFilesThatAreThere(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../../internal/billing/testdata/focus-1.0-sample.csv", filepath.Join(dir, "focus.csv"))
	copyFile(t, "../../internal/billing/testdata/messy-focus.csv", filepath.Join(dir, "messy.csv"))
	c := newCollector(t, dir)
	both, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	focus := c.Stats()[filepath.Join(dir, "focus.csv")]
	if both.BillRows.RejectedTotal() == 0 || both.BillRows.Rows <= focus.Rows {
		t.Fatalf("counts with the messy bill %+v", both.BillRows)
	}
	if err := os.Remove(filepath.Join(dir, "messy.csv")); err != nil {
		t.Fatal(err)
	}
	one, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b := one.BillRows; b.Rows != focus.Rows || b.Kept != focus.Kept || b.OutOfScope != focus.OutOfScope || b.RejectedTotal() != focus.RejectedTotal() {
		t.Errorf("counts after the messy bill left %+v, want the sample's %+v", b, focus)
	}
}

// A bill delivered again beside the first copy (another folder, another
// name) adds no cost: each line id is in the catalog once, as in the
// history, whose cost_lines hold an id once.
func TestCollectCountsRepeatedLinesOnce(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, "../../internal/billing/testdata/focus-1.0-sample.csv", filepath.Join(dir, "a", "focus.csv"))
	c := newCollector(t, dir)
	one, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, "../../internal/billing/testdata/focus-1.0-sample.csv", filepath.Join(dir, "b", "focus-again.csv"))
	two, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sum := func(cat []model.CostLine) (total float64) {
		for _, l := range cat {
			total += l.BilledCost
		}
		return total
	}
	if len(one.CostLines) == 0 || len(two.CostLines) != len(one.CostLines) || sum(two.CostLines) != sum(one.CostLines) {
		t.Errorf("a repeated bill: %d lines costing %v, want %d costing %v", len(two.CostLines), sum(two.CostLines), len(one.CostLines), sum(one.CostLines))
	}
	if two.BillRows.Rows != 2*one.BillRows.Rows {
		t.Errorf("rows read %d, want both files' %d", two.BillRows.Rows, 2*one.BillRows.Rows)
	}
}
