package history

import (
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// checkpointIDs maps each checkpoint time of a source to "dataset/id" of
// the backups it holds, sorted.
func checkpointIDs(t *testing.T, root, source string) map[time.Time][]string {
	t.Helper()
	out := map[time.Time][]string{}
	for _, r := range readRows[BackupCheckpointRow](t, root, TableBackupCheckpoints) {
		if r.Source != source {
			continue
		}
		if r.Removed {
			t.Errorf("checkpoint at %s holds a removal row of %s", r.CheckpointAt, r.ID)
		}
		out[r.CheckpointAt] = append(out[r.CheckpointAt], r.Dataset+"/"+r.ID)
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}

func TestCheckpointsHoldTheRetainedBackupsOncePerDay(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	a := backup("pg", "payments", "a", day0().Add(-2*time.Hour))
	// The same label in a second stanza of the source is another backup.
	a2 := backup("pg", "orders", "a", day0().Add(-2*time.Hour))
	b := backup("pg", "payments", "b", day0().Add(-time.Hour))
	b.Status, b.End, b.Release = model.StatusRunning, time.Time{}, "v1.5.0"
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{a, a2, b}})

	// Later the same day b finishes: no second checkpoint that day.
	c.Advance(time.Hour)
	b.Status, b.End = model.StatusSucceeded, day0().Add(5*time.Minute)
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{a, a2, b}})

	// The next day a is expired and c is taken: the checkpoint holds b in
	// its finished version, a2 and c.
	c.Set(day0().Add(24 * time.Hour))
	cb := backup("pg", "payments", "c", day0().Add(23*time.Hour))
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{a2, b, cb}})

	got := checkpointIDs(t, root, "pg")
	want := map[time.Time][]string{
		day0():                     {"orders/a", "payments/a", "payments/b"},
		day0().Add(24 * time.Hour): {"orders/a", "payments/b", "payments/c"},
	}
	if len(got) != len(want) {
		t.Fatalf("checkpoints %v, want %v", got, want)
	}
	for at, ids := range want {
		if !slices.Equal(got[at], ids) {
			t.Errorf("checkpoint at %s holds %v, want %v", at, got[at], ids)
		}
	}
	// Each backup is in its latest version as the backups table has it,
	// collected_at and all.
	latest := map[string]BackupRow{}
	for _, r := range readRows[BackupRow](t, root, TableBackups) {
		if r.CollectedAt.After(latest[r.Dataset+"/"+r.ID].CollectedAt) || latest[r.Dataset+"/"+r.ID].ID == "" {
			latest[r.Dataset+"/"+r.ID] = r
		}
	}
	for _, r := range readRows[BackupCheckpointRow](t, root, TableBackupCheckpoints) {
		if !r.CheckpointAt.Equal(day0().Add(24 * time.Hour)) {
			continue
		}
		want := latest[r.Dataset+"/"+r.ID]
		if r.ContentHash != want.ContentHash || !r.CollectedAt.Equal(want.CollectedAt) || r.Status != want.Status || !slices.Equal(r.Paths, want.Paths) {
			t.Errorf("checkpoint row of %s/%s = %+v, want %+v", r.Dataset, r.ID, r.BackupRow, want)
		}
	}

	// A writer restarted on the same day writes no second checkpoint; on
	// the next day it does, with the summaries of every row so far.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	w = openTest(t, root, c, 0)
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{a2, b, cb}})
	if n := len(checkpointIDs(t, root, "pg")); n != 2 {
		t.Errorf("%d checkpoints after a restart on the same day, want 2", n)
	}
	c.Set(day0().Add(48 * time.Hour))
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{a2, cb}})
	if got := checkpointIDs(t, root, "pg")[day0().Add(48*time.Hour)]; !slices.Equal(got, []string{"orders/a", "payments/c"}) {
		t.Errorf("checkpoint after the restart holds %v", got)
	}
	sums := map[string]SeriesCheckpointRow{}
	for _, r := range readRows[SeriesCheckpointRow](t, root, TableSeriesCheckpoints) {
		if r.CheckpointAt.Equal(day0().Add(48 * time.Hour)) {
			sums[r.Dataset+"/"+r.Release] = r
		}
	}
	v142, v150 := sums["payments/v1.4.2"], sums["payments/v1.5.0"]
	if len(sums) != 3 || !v142.FirstSeen.Equal(micros(a.Start)) || !v142.FirstGood.Equal(micros(a.End)) ||
		!v150.FirstSeen.Equal(micros(b.Start)) || !v150.FirstGood.Equal(micros(b.End)) ||
		!v150.LastCollectedAt.Equal(day0().Add(48*time.Hour)) || !v142.LastCollectedAt.Equal(day0().Add(24*time.Hour)) {
		t.Errorf("series summaries %+v", sums)
	}
}

// Checkpoints written from rows (as benchmarks build histories) hold what
// the writer's would.
func TestCheckpointsFromRowsMatchTheWriter(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	a := backup("pg", "payments", "a", day0().Add(-2*time.Hour))
	b := backup("pg", "payments", "b", day0().Add(-time.Hour))
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{a, b}})
	c.Set(day0().Add(24 * time.Hour))
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{b}})

	other := t.TempDir()
	cps := NewCheckpoints()
	cps.Add(readRows[BackupRow](t, root, TableBackups)...)
	if err := cps.Write(other, "pg", day0().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	mine := readRows[BackupCheckpointRow](t, other, TableBackupCheckpoints)
	var theirs []BackupCheckpointRow
	for _, r := range readRows[BackupCheckpointRow](t, root, TableBackupCheckpoints) {
		if r.CheckpointAt.Equal(day0().Add(24 * time.Hour)) {
			theirs = append(theirs, r)
		}
	}
	if len(mine) != 1 || len(theirs) != 1 || mine[0].ID != "b" || mine[0].ContentHash != theirs[0].ContentHash || !mine[0].CollectedAt.Equal(theirs[0].CollectedAt) {
		t.Errorf("checkpoint from rows %+v, from the writer %+v", mine, theirs)
	}
	sumsOf := func(root string) []SeriesCheckpointRow {
		var out []SeriesCheckpointRow
		for _, r := range readRows[SeriesCheckpointRow](t, root, TableSeriesCheckpoints) {
			if r.CheckpointAt.Equal(day0().Add(24 * time.Hour)) {
				out = append(out, r)
			}
		}
		return out
	}
	if m, w := sumsOf(other), sumsOf(root); !slices.Equal(m, w) {
		t.Errorf("series summaries from rows %+v, from the writer %+v", m, w)
	}
}
