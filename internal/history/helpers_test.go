package history

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// clock is an injected clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// day0 is the first day of every test's history.
func day0() time.Time { return time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC) }

func openTest(t testing.TB, root string, c *clock, maxFiles int) *Writer {
	t.Helper()
	w, err := Open(root, Options{Now: c.Now, MaxFilesPerPartition: maxFiles})
	if err != nil {
		t.Fatalf("open history: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// backup returns a backup with every field set, so that round trips cover
// every column.
func backup(source, dataset, id string, start time.Time) model.Backup {
	return model.Backup{
		Source:         source,
		Env:            "prod",
		Dataset:        dataset,
		ID:             id,
		Type:           model.BackupIncr,
		Release:        "v1.4.2",
		Parent:         "full-" + dataset,
		Start:          start,
		End:            start.Add(12*time.Minute + 345678*time.Microsecond),
		Status:         model.StatusSucceeded,
		LogicalBytes:   10 << 30,
		StoredBytes:    3 << 30,
		Location:       "s3://acme-backups/" + dataset,
		StorageClass:   "STANDARD_IA",
		Region:         "eu-west-1",
		Encrypted:      true,
		KeyID:          "arn:aws:kms:eu-west-1:111122223333:key/abc",
		Immutable:      true,
		RetainUntil:    start.Add(35 * 24 * time.Hour),
		Classification: "pii",
		Tags:           map[string]string{"app": dataset, "team": "payments"},
		Detail:         &model.BackupDetail{FileCount: 1234, Checksum: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Agent: "pgbackrest", AgentVersion: "2.45", Paths: []string{"/var/lib/postgresql", "/etc/postgresql"}, LSNStart: "0/2000028", LSNStop: "0/2000100", WALStart: "000000010000000000000002", WALStop: "000000010000000000000002", DeltaBytes: 2 << 30, RestoreBytes: 6 << 30, Databases: []string{"payments", "postgres"}},
	}
}

func repository(source, name string, stored int64) model.Repository {
	return model.Repository{
		Source:           source,
		Env:              "prod",
		Dataset:          "payments",
		Name:             name,
		Location:         "s3://acme-backups/" + name,
		StorageClass:     "STANDARD",
		Region:           "eu-west-1",
		StoredBytes:      stored,
		LogicalBytes:     4 * stored,
		DedupRatio:       2.5,
		CompressionRatio: 1.6,
		WALMin:           "000000010000000000000001",
		WALMax:           "000000010000000000000009",
		Healthy:          true,
		StatusCode:       0,
		Status:           "ok",
	}
}

func probeResult(runID, probe string, start time.Time) model.ProbeResult {
	return model.ProbeResult{
		RunID:            runID,
		Probe:            probe,
		Kind:             "postgres-logical",
		Env:              "prod",
		Dataset:          "payments",
		Source:           "pg",
		BackupID:         "20250310-090000F",
		Release:          "v1.4.2",
		RestoredPoint:    start.Add(-90 * time.Minute),
		Start:            start,
		Duration:         17*time.Minute + 250*time.Millisecond,
		Success:          false,
		Error:            "2 tables differ",
		TablesCompared:   42,
		TablesMismatched: []string{"public.orders", "public.refunds"},
		FilesVerified:    7,
		BytesVerified:    1 << 20,
		Details:          "row counts compared",
		RTOTarget:        30 * time.Minute,
	}
}

// bigCatalog returns n backups spread over datasets datasets.
func bigCatalog(source string, n, datasets int) *model.Catalog {
	cat := &model.Catalog{Backups: make([]model.Backup, n)}
	for i := range n {
		ds := fmt.Sprintf("ds-%04d", i%datasets)
		cat.Backups[i] = backup(source, ds, fmt.Sprintf("%s-%07d", ds, i), day0().Add(-time.Duration(i)*time.Minute))
	}
	return cat
}

// readRows returns every row of a table, in file order.
func readRows[T any](t testing.TB, root, table string) []T {
	t.Helper()
	var rows []T
	err := scanTable(filepath.Join(root, table), func(r *T) error {
		rows = append(rows, *r)
		return nil
	})
	if err != nil {
		t.Fatalf("read table %s: %v", table, err)
	}
	return rows
}

// files maps each partition of a table to its *.parquet files.
func files(t testing.TB, root, table string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	parts, err := partitions(filepath.Join(root, table))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range parts {
		l, err := listPartition(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(l.parquet) > 0 {
			out[filepath.Base(dir)] = l.parquet
		}
	}
	return out
}

// tempFiles lists every file under root whose name ends in .tmp.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".tmp") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sortedBackupRows orders rows by key and time, so that two reads of the
// same rows compare equal whatever the file order.
func sortedBackupRows(rows []BackupRow) []BackupRow {
	out := slices.Clone(rows)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.CollectedAt.Before(b.CollectedAt)
	})
	return out
}

func mustAppend(t testing.TB, w *Writer, source string, cat *model.Catalog) Stats {
	t.Helper()
	st, err := w.AppendCatalog(source, cat)
	if err != nil {
		t.Fatalf("append catalog of %s: %v", source, err)
	}
	if want := micros(w.now()); !st.CollectedAt.Equal(want) {
		t.Fatalf("append catalog of %s: collected at %s, want the writer's clock %s", source, st.CollectedAt, want)
	}
	// Callers compare row counts.
	st.CollectedAt = time.Time{}
	return st
}
