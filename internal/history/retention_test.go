package history

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// wantCheckpointDays is the checkpoint partitions Compact keeps when the
// writer checkpointed on days and its clock reads now: the last 14 days,
// and before them the first day with a checkpoint of each ISO week.
func wantCheckpointDays(days []time.Time, now time.Time) []string {
	cutoff := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -14)
	var out []string
	seen := map[string]bool{}
	for _, d := range days {
		year, week := d.ISOWeek()
		k := fmt.Sprint(year, week)
		if !d.Before(cutoff) || !seen[k] {
			out = append(out, partitionOf(d))
		}
		seen[k] = true
	}
	return out
}

// Two months of collections of several sources, with a week in which the
// writer did not run on Monday to Wednesday: Compact keeps the daily
// checkpoints of the last two weeks and one a week before them, and a
// restart still rebuilds the state of the full history.
func TestCompactThinsOldCheckpoints(t *testing.T) {
	root := t.TempDir()
	start := day0() // a Monday
	c := newClock(start)
	e := newEstate()
	w := openTest(t, root, c, 3)
	sources := []string{"pg", "restic", "mysql"}
	var collected []time.Time
	const days = 60
	for d := range days {
		if d >= 21 && d < 24 {
			continue
		}
		morning := start.AddDate(0, 0, d)
		collected = append(collected, morning)
		for hour := range 2 {
			c.Set(morning.Add(time.Duration(6*hour) * time.Hour))
			for _, s := range sources {
				// mysql is collected from the third week on only, so the
				// first checkpoint day of its first week has none of it.
				if s == "mysql" && d < 16 {
					continue
				}
				mustAppend(t, w, s, e.churn(s, c.Now()))
			}
		}
		if d%10 == 5 {
			if err := w.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A file another program put in a partition that this compaction
	// thins stays, and so does its partition.
	foreignPart := partitionOf(start.AddDate(0, 0, 44))
	foreign := filepath.Join(root, TableBackupCheckpoints, foreignPart, "imported.parquet")
	if err := os.WriteFile(foreign, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}

	beforeBackups := sortedBackupRows(readOurRows[BackupRow](t, root, TableBackups))
	beforeRepos := readOurRows[RepositoryRow](t, root, TableRepositories)
	backupParts := slices.Sorted(maps.Keys(files(t, root, TableBackups)))
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}

	want := wantCheckpointDays(collected, c.Now())
	if len(want) >= len(collected) || len(want) < 14 {
		t.Fatalf("the test expects %d of %d checkpoint days kept; it needs a history old enough to thin", len(want), len(collected))
	}
	for _, table := range checkpointTables() {
		got := map[string]bool{}
		for part, names := range files(t, root, table) {
			for _, n := range names {
				if isDataName(n) {
					got[part] = true
				}
			}
		}
		if g := slices.Sorted(maps.Keys(got)); !slices.Equal(g, want) {
			t.Errorf("%s partitions after compaction:\n got %v\nwant %v", table, g, want)
		}
		dirs, err := os.ReadDir(filepath.Join(root, table))
		if err != nil {
			t.Fatal(err)
		}
		if len(dirs) != len(want)+1 && table == TableBackupCheckpoints || len(dirs) != len(want) && table == TableSeriesCheckpoints {
			t.Errorf("%s holds %d partition directories; want the %d kept and, for backup checkpoints, the one with a foreign file", table, len(dirs), len(want))
		}
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Errorf("thinning touched a file that is not its own: %v", err)
	}
	if got := sortedBackupRows(readOurRows[BackupRow](t, root, TableBackups)); !rowsEqual(got, beforeBackups) {
		t.Errorf("backup rows changed by thinning: %d rows, want %d", len(got), len(beforeBackups))
	}
	if got := slices.Sorted(maps.Keys(files(t, root, TableBackups))); !slices.Equal(got, backupParts) {
		t.Errorf("backups partitions changed by thinning:\n got %v\nwant %v", got, backupParts)
	}
	if got := readOurRows[RepositoryRow](t, root, TableRepositories); len(got) != len(beforeRepos) {
		t.Errorf("repository rows changed by thinning: %d rows, want %d", len(got), len(beforeRepos))
	}

	// A restart reads the recent, daily checkpoints and gets the state of
	// the full history.
	c.Advance(time.Hour)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = reopen(t, root, c, "after thinning")

	// The writer then stays down for a month: its last checkpoints are
	// thinned to one a week, and a restart starts from the newest kept
	// one and the rows since.
	c.Advance(30 * 24 * time.Hour)
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want = wantCheckpointDays(collected, c.Now())
	if got := slices.Sorted(maps.Keys(files(t, root, TableSeriesCheckpoints))); !slices.Equal(got, want) {
		t.Errorf("series checkpoint partitions a month later:\n got %v\nwant %v", got, want)
	}
	r, err := findRestart(root)
	if err != nil {
		t.Fatal(err)
	}
	last := want[len(want)-1]
	for _, s := range sources {
		if got := partitionOf(r.at[s]); got != last {
			t.Errorf("%s restarts from a checkpoint of %s, want the newest kept one, of %s", s, got, last)
		}
	}
	if last == partitionOf(collected[len(collected)-1]) {
		t.Fatalf("the newest kept checkpoint is of the last day; the test needs rows after it")
	}
	w = reopen(t, root, c, "a month later")
	for _, s := range sources {
		if st := mustAppend(t, w, s, e.catalog(s)); st.Backups+st.Removed != 0 {
			t.Errorf("unchanged catalog of %s appended %+v after a restart", s, st)
		}
	}
}

func TestKeptCheckpointDays(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		backups, series, cutoff string
		wantBackups, wantSeries string
	}{{
		name:    "recent days are all kept",
		backups: "2025-03-10 2025-03-11", series: "2025-03-10 2025-03-11", cutoff: "2025-03-10",
		wantBackups: "2025-03-10 2025-03-11", wantSeries: "2025-03-10 2025-03-11",
	}, {
		name:    "the oldest day of each old week",
		backups: "2025-03-15 2025-03-16 2025-03-17 2025-03-18 2025-03-30", series: "2025-03-15 2025-03-16 2025-03-17 2025-03-18 2025-03-30", cutoff: "2025-03-30",
		wantBackups: "2025-03-15 2025-03-17 2025-03-30", wantSeries: "2025-03-15 2025-03-17 2025-03-30",
	}, {
		name:    "ISO weeks across a year's end",
		backups: "2024-12-30 2025-01-01 2025-01-06", series: "2024-12-30 2025-01-01 2025-01-06", cutoff: "2025-02-01",
		wantBackups: "2024-12-30 2025-01-06", wantSeries: "2024-12-30 2025-01-06",
	}, {
		name:    "a day in both tables wins over an older one in one",
		backups: "2025-03-10 2025-03-11", series: "2025-03-11", cutoff: "2025-04-01",
		wantBackups: "2025-03-11", wantSeries: "2025-03-11",
	}, {
		name:    "a table keeps its own oldest day when no day is in both",
		backups: "2025-03-10 2025-03-11", series: "2025-03-12", cutoff: "2025-04-01",
		wantBackups: "2025-03-10", wantSeries: "2025-03-12",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			parts := func(days string) []string {
				var out []string
				for _, d := range strings.Fields(days) {
					out = append(out, partitionPrefix+d)
				}
				return out
			}
			kept := keptCheckpointDays(map[string][]string{
				TableBackupCheckpoints: parts(tc.backups),
				TableSeriesCheckpoints: parts(tc.series),
			}, partitionPrefix+tc.cutoff)
			for table, want := range map[string]string{TableBackupCheckpoints: tc.wantBackups, TableSeriesCheckpoints: tc.wantSeries} {
				if got := slices.Sorted(maps.Keys(kept[table])); !slices.Equal(got, parts(want)) {
					t.Errorf("%s kept %v, want %v", table, got, parts(want))
				}
			}
		})
	}
}
