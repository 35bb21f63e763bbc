package history

import (
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func TestCompactionKeepsRowsAndBoundsFiles(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 3)

	// Two days of frequent collections in which something always changes,
	// plus probe runs and repository observations.
	cat := bigCatalog("pg", 40, 4)
	for i := range 24 {
		cat.Backups[i%len(cat.Backups)].Status = model.StatusFailed
		cat.Backups[i%len(cat.Backups)].Error = "attempt " + time.Duration(i).String()
		cat.Repositories = []model.Repository{repository("pg", "main", int64(i+1)<<20)}
		mustAppend(t, w, "pg", cat)
		if err := w.AppendProbes(probeResult("run-"+time.Duration(i).String(), "p", c.Now())); err != nil {
			t.Fatal(err)
		}
		c.Advance(2 * time.Hour)
	}
	// A file in a partition that is not ours stays where it is.
	foreign := filepath.Join(root, TableBackups, partitionOf(day0()), "imported.parquet")
	if err := os.WriteFile(foreign, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}

	beforeBackups := sortedBackupRows(readOurRows[BackupRow](t, root, TableBackups))
	beforeRepos := readOurRows[RepositoryRow](t, root, TableRepositories)
	beforeProbes := readOurRows[ProbeRow](t, root, TableProbes)
	beforeFiles := files(t, root, TableBackups)
	if n := len(beforeFiles[partitionOf(day0())]); n <= 3 {
		t.Fatalf("the test wrote only %d files to a partition; it needs more than the threshold", n)
	}
	snapBefore, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}

	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}

	for _, table := range []string{TableBackups, TableRepositories, TableProbes} {
		for part, names := range files(t, root, table) {
			ours := 0
			for _, n := range names {
				if isDataName(n) {
					ours++
				}
			}
			if ours != 1 {
				t.Errorf("%s/%s holds %d files after compaction, want 1", table, part, ours)
			}
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("compaction touched a file that is not its own: %v", err)
	}
	if got := sortedBackupRows(readOurRows[BackupRow](t, root, TableBackups)); !rowsEqual(got, beforeBackups) {
		t.Errorf("backup rows changed by compaction: %d rows, want %d", len(got), len(beforeBackups))
	}
	if got := readOurRows[RepositoryRow](t, root, TableRepositories); !reflect.DeepEqual(got, beforeRepos) {
		t.Errorf("repository rows changed by compaction:\n%+v\nwant\n%+v", got, beforeRepos)
	}
	if got := readOurRows[ProbeRow](t, root, TableProbes); !reflect.DeepEqual(got, beforeProbes) {
		t.Errorf("probe rows changed by compaction:\n%+v\nwant\n%+v", got, beforeProbes)
	}
	snapAfter, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snapAfter, snapBefore) {
		t.Error("latest state changed by compaction")
	}

	// The duplicate filter still holds after compaction and a restart.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 3)
	c.Advance(24 * time.Hour)
	if got := mustAppend(t, w, "pg", cat); got != (Stats{Repositories: 1}) {
		t.Errorf("after compaction and restart: stats = %+v, want only the new day's repository row", got)
	}
}

// readOurRows reads the rows of the files this package wrote, skipping
// foreign files that the test put next to them.
func readOurRows[T any](t testing.TB, root, table string) []T {
	t.Helper()
	var rows []T
	byPart := files(t, root, table)
	for _, part := range slices.Sorted(maps.Keys(byPart)) {
		for _, name := range byPart[part] {
			if !isDataName(name) {
				continue
			}
			err := readFile(filepath.Join(root, table, part, name), func(batch []T) error {
				rows = append(rows, batch...)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return rows
}

func rowsEqual(a, b []BackupRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			return false
		}
	}
	return true
}
