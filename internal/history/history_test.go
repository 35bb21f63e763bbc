package history

import (
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func TestRoundTripAcrossDays(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)

	b1 := backup("pg", "payments", "b1", day0().Add(-2*time.Hour))
	b2 := backup("pg", "payments", "b2", day0().Add(-time.Hour))
	b2.Status, b2.End, b2.StoredBytes = model.StatusRunning, time.Time{}, 0
	b3 := backup("restic", "files", "b3", day0().Add(-30*time.Minute))
	b3.Tags, b3.Detail.Paths, b3.RetainUntil, b3.Release = nil, nil, time.Time{}, ""
	repo := repository("pg", "payments", 100<<30)

	// Day 1: both sources are collected for the first time.
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{b1, b2}, Repositories: []model.Repository{repo}})
	mustAppend(t, w, "restic", &model.Catalog{Backups: []model.Backup{b3}})
	if err := w.AppendProbes(probeResult("run-1", "payments-restore", day0().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}

	// Day 2: b2 finished, b4 is new, b1 was expired, the repository grew.
	c.Set(day0().Add(24 * time.Hour))
	b2done := b2
	b2done.Status, b2done.End, b2done.StoredBytes = model.StatusSucceeded, day0().Add(30*time.Minute), 5<<30
	b4 := backup("pg", "payments", "b4", day0().Add(23*time.Hour))
	repo2 := repository("pg", "payments", 110<<30)
	got := mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{b2done, b4}, Repositories: []model.Repository{repo2}})
	if want := (Stats{Backups: 2, Removed: 1, Repositories: 1}); got != want {
		t.Errorf("day 2 stats = %+v, want %+v", got, want)
	}
	probe2 := probeResult("run-2", "payments-restore", day0().Add(24*time.Hour))
	probe2.Success, probe2.Error, probe2.TablesMismatched = true, "", nil
	if err := w.AppendProbes(probe2); err != nil {
		t.Fatal(err)
	}

	// Day 3: nothing changed; only the daily repository row is due.
	c.Set(day0().Add(48 * time.Hour))
	got = mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{b2done, b4}, Repositories: []model.Repository{repo2}})
	if want := (Stats{Repositories: 1}); got != want {
		t.Errorf("day 3 stats = %+v, want %+v", got, want)
	}

	wantFiles := map[string]map[string]int{
		TableBackups:      {"dt=2025-03-10": 2, "dt=2025-03-11": 1},
		TableRepositories: {"dt=2025-03-10": 1, "dt=2025-03-11": 1, "dt=2025-03-12": 1},
		TableProbes:       {"dt=2025-03-10": 1, "dt=2025-03-11": 1},
	}
	for table, want := range wantFiles {
		gotFiles := map[string]int{}
		for part, names := range files(t, root, table) {
			gotFiles[part] = len(names)
		}
		if !reflect.DeepEqual(gotFiles, want) {
			t.Errorf("files of %s per partition = %v, want %v", table, gotFiles, want)
		}
	}

	// The rows of day 2 carry the removal of b1 with b1's identity.
	var removal *BackupRow
	for _, r := range readRows[BackupRow](t, root, TableBackups) {
		if r.Removed {
			removal = &r
		}
	}
	if removal == nil || removal.ID != "b1" || removal.Dataset != "payments" || !removal.CollectedAt.Equal(day0().Add(24*time.Hour)) ||
		!removal.StartTime.Equal(b1.Start) {
		t.Errorf("removal row = %+v, want b1 removed on day 2", removal)
	}

	// A restarted exporter reads back exactly what it last knew.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	snap, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}
	wantBackups := map[string][]model.Backup{"pg": {b2done, b4}, "restic": {b3}}
	if !reflect.DeepEqual(snap.Backups, wantBackups) {
		t.Errorf("latest backups =\n%+v\nwant\n%+v", snap.Backups, wantBackups)
	}
	repo2.ObservedAt = day0().Add(48 * time.Hour)
	if want := map[string][]model.Repository{"pg": {repo2}}; !reflect.DeepEqual(snap.Repositories, want) {
		t.Errorf("latest repositories = %+v, want %+v", snap.Repositories, want)
	}
	if want := map[string]model.ProbeResult{"payments-restore": probe2}; !reflect.DeepEqual(snap.Probes, want) {
		t.Errorf("latest probes = %+v, want %+v", snap.Probes, want)
	}

	// The restarted writer knows every source: unchanged catalogs append
	// nothing, and a backup pruned now is removed with its identity.
	c.Set(day0().Add(49 * time.Hour))
	if got := mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{b2done, b4}, Repositories: []model.Repository{repo2}}); got != (Stats{}) {
		t.Errorf("pg after restart: stats = %+v, want nothing appended", got)
	}
	if got := mustAppend(t, w, "restic", &model.Catalog{}); got != (Stats{Removed: 1}) {
		t.Errorf("restic after restart: stats = %+v, want b3 removed", got)
	}
	rows := readRows[BackupRow](t, root, TableBackups)
	last := rows[len(rows)-1]
	if want := (BackupRow{
		Source: "restic", Env: "prod", Dataset: "files", ID: "b3", Type: "incr", StartTime: b3.Start, EndTime: b3.End,
		Status: "succeeded", Paths: []string{}, Databases: []string{}, Removed: true, CollectedAt: day0().Add(49 * time.Hour),
	}); last.ContentHash == 0 || !reflect.DeepEqual(last, withHash(want, last.ContentHash)) {
		t.Errorf("removal row after restart = %+v, want %+v", last, want)
	}
}

func withHash(r BackupRow, h int64) BackupRow {
	r.ContentHash = h
	return r
}

func TestUnchangedCatalogAppendsNothing(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	cat := bigCatalog("pg", 50, 5)
	cat.Repositories = []model.Repository{repository("pg", "main", 1<<30)}

	if got, want := mustAppend(t, w, "pg", cat), (Stats{Backups: 50, Repositories: 1}); got != want {
		t.Fatalf("first append = %+v, want %+v", got, want)
	}
	rows := len(readRows[BackupRow](t, root, TableBackups))

	steps := []struct {
		name   string
		change func(*model.Catalog) *model.Catalog
		want   Stats
		rows   int
	}{
		{
			name:   "same catalog again",
			change: func(c *model.Catalog) *model.Catalog { return c },
			want:   Stats{},
		},
		{
			name: "one status changed",
			change: func(c *model.Catalog) *model.Catalog {
				c.Backups[7].Status = model.StatusFailed
				c.Backups[7].Error = "disk full"
				return c
			},
			want: Stats{Backups: 1},
			rows: 1,
		},
		{
			name: "one backup pruned",
			change: func(c *model.Catalog) *model.Catalog {
				c.Backups = append(c.Backups[:3:3], c.Backups[4:]...)
				return c
			},
			want: Stats{Removed: 1},
			rows: 1,
		},
		{
			name:   "pruned catalog again",
			change: func(c *model.Catalog) *model.Catalog { return c },
			want:   Stats{},
		},
		{
			name: "tags in another order are the same tags",
			change: func(c *model.Catalog) *model.Catalog {
				b := &c.Backups[0]
				b.Tags = map[string]string{"team": b.Tags["team"], "app": b.Tags["app"]}
				return c
			},
			want: Stats{},
		},
	}
	for _, s := range steps {
		c.Advance(5 * time.Minute)
		cat = s.change(cat)
		if got := mustAppend(t, w, "pg", cat); got != s.want {
			t.Errorf("%s: stats = %+v, want %+v", s.name, got, s.want)
		}
		rows += s.rows
		if got := len(readRows[BackupRow](t, root, TableBackups)); got != rows {
			t.Errorf("%s: backups table has %d rows, want %d", s.name, got, rows)
		}
	}
	if got := len(readRows[RepositoryRow](t, root, TableRepositories)); got != 1 {
		t.Errorf("repositories table has %d rows, want 1 (nothing changed the same day)", got)
	}

	// After a restart the same catalog still appends nothing, and a
	// backup pruned before the restart is not reported again.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	c.Advance(5 * time.Minute)
	if got := mustAppend(t, w, "pg", cat); got != (Stats{}) {
		t.Errorf("after restart: stats = %+v, want nothing appended", got)
	}
	if got := len(readRows[BackupRow](t, root, TableBackups)); got != rows {
		t.Errorf("after restart: backups table has %d rows, want %d", got, rows)
	}

	// A backup that comes back after its removal gets a row again, and the
	// restarted writer still detects removals.
	c.Advance(5 * time.Minute)
	back := bigCatalog("pg", 50, 5)
	back.Repositories = cat.Repositories
	back.Backups[7] = cat.Backups[6]
	if got, want := mustAppend(t, w, "pg", back), (Stats{Backups: 1, Removed: 0}); got.Backups != want.Backups {
		t.Errorf("after restart: stats = %+v, want the returned backup appended", got)
	}
}

func TestProbeRunsAreRecordedOnce(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	p1 := probeResult("run-1", "payments-restore", day0())
	p2 := probeResult("run-2", "payments-restore", day0().Add(time.Hour))
	if err := w.AppendProbes(p1, p2, p1); err != nil {
		t.Fatal(err)
	}
	if err := w.AppendProbes(p2); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	if err := w.AppendProbes(p1, p2); err != nil {
		t.Fatal(err)
	}
	rows := readRows[ProbeRow](t, root, TableProbes)
	if len(rows) != 2 {
		t.Fatalf("probes table has %d rows, want 2", len(rows))
	}
	if rows[0].AchievedRPOSeconds == nil || *rows[0].AchievedRPOSeconds != 5400 {
		t.Errorf("achieved_rpo_seconds = %v, want 5400", rows[0].AchievedRPOSeconds)
	}
	if err := w.AppendProbes(model.ProbeResult{Probe: "x", Start: day0()}); err == nil {
		t.Error("a probe result without run id was accepted")
	}
}

func TestRepositoryGetsOneRowPerDay(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0().Truncate(24 * time.Hour))
	w := openTest(t, root, c, 0)
	cat := &model.Catalog{Repositories: []model.Repository{repository("pg", "main", 1<<30)}}
	// Every five minutes for three days from midnight: one row per day.
	for range 3 * 24 * 12 {
		mustAppend(t, w, "pg", cat)
		c.Advance(5 * time.Minute)
	}
	if got := len(readRows[RepositoryRow](t, root, TableRepositories)); got != 3 {
		t.Errorf("repositories table has %d rows, want 3", got)
	}
}

func TestBadCatalogsAreRejected(t *testing.T) {
	w := openTest(t, t.TempDir(), newClock(day0()), 0)
	cases := map[string]*model.Catalog{
		"backup without id":         {Backups: []model.Backup{{Source: "pg"}}},
		"backup of another source":  {Backups: []model.Backup{backup("other", "d", "x", day0())}},
		"repository without name":   {Repositories: []model.Repository{{Source: "pg"}}},
		"repository of another one": {Repositories: []model.Repository{repository("other", "r", 1)}},
		"no catalog":                nil,
	}
	for name, cat := range cases {
		if _, err := w.AppendCatalog("pg", cat); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if got := files(t, w.Root(), TableBackups); len(got) != 0 {
		t.Errorf("rejected catalogs wrote files: %v", got)
	}
}

func TestConcurrentSourcesAndCompaction(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 2)
	sources := []string{"a", "b", "c", "d"}
	const rounds = 6
	var wg sync.WaitGroup
	errs := make(chan error, len(sources)*rounds+rounds)
	for _, src := range sources {
		wg.Go(func() {
			cat := bigCatalog(src, 30, 3)
			for i := range rounds {
				cat.Backups[i].Status = model.StatusFailed
				if _, err := w.AppendCatalog(src, cat); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for range rounds {
			if err := w.Compact(); err != nil {
				errs <- err
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Each source appended 30 rows, then one changed row per later round.
	want := len(sources) * (30 + rounds - 1)
	if got := len(readRows[BackupRow](t, root, TableBackups)); got != want {
		t.Errorf("backups table has %d rows, want %d", got, want)
	}
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	for part, names := range files(t, root, TableBackups) {
		if len(names) > 2 {
			t.Errorf("%s holds %d files after compaction, want at most 2", part, len(names))
		}
	}
	if got := len(readRows[BackupRow](t, root, TableBackups)); got != want {
		t.Errorf("after compaction the backups table has %d rows, want %d", got, want)
	}
	if tmp := tempFiles(t, filepath.Join(root, TableBackups)); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func TestOneWriterPerRoot(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	if _, err := Open(root, Options{Now: c.Now}); err == nil {
		t.Fatal("a second writer opened a root that is in use")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendCatalog("pg", &model.Catalog{}); err == nil {
		t.Error("a closed writer appended")
	}
	openTest(t, root, c, 0)
}

func TestWriteRowsBuildsAHistoryTheWriterKnows(t *testing.T) {
	root := t.TempDir()
	cat := bigCatalog("pg", 10, 2)
	var rows []BackupRow
	for i := range cat.Backups {
		rows = append(rows, BackupRowOf(&cat.Backups[i], day0().Add(time.Duration(i)*6*time.Hour)))
	}
	paths, err := WriteRows(root, rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 3 {
		t.Errorf("wrote %d files, want one for each of 3 days: %v", len(paths), paths)
	}
	probes := []ProbeRow{ProbeRowOf(new(probeResult("r1", "p", day0())))}
	if _, err := WriteRows(root, probes); err != nil {
		t.Fatal(err)
	}
	w := openTest(t, root, newClock(day0().Add(72*time.Hour)), 0)
	if got := mustAppend(t, w, "pg", cat); got != (Stats{}) {
		t.Errorf("catalog that WriteRows recorded: stats = %+v, want nothing appended", got)
	}
	if err := w.AppendProbes(probeResult("r1", "p", day0())); err != nil {
		t.Fatal(err)
	}
	if got := len(readRows[ProbeRow](t, root, TableProbes)); got != 1 {
		t.Errorf("probes table has %d rows, want 1", got)
	}
}

// pgBackRest labels are start times, so two stanzas of one source can share
// a backup id: they are two backups, not a duplicate, also after a restart.
func TestSameIDInTwoDatasets(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	cat := &model.Catalog{Backups: []model.Backup{
		backup("pg", "orders", "20250310-020000F", day0()),
		backup("pg", "payments", "20250310-020000F", day0()),
	}}
	if got := mustAppend(t, w, "pg", cat); got.Backups != 2 {
		t.Fatalf("first append = %+v, want 2 backups", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	if got := mustAppend(t, w, "pg", cat); got != (Stats{}) {
		t.Errorf("same catalog after a restart = %+v, want nothing appended", got)
	}
	c.Advance(time.Hour)
	cat.Backups = cat.Backups[:1]
	if got := mustAppend(t, w, "pg", cat); got.Removed != 1 {
		t.Errorf("dropping one dataset's backup = %+v, want 1 removed", got)
	}
	snap, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Backups["pg"]; len(got) != 1 || got[0].Dataset != "orders" {
		t.Errorf("latest = %+v, want only orders' backup", got)
	}
}

// After a restart the last good restore is still known when the newest run
// failed.
func TestLatestKeepsLastProbeSuccess(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	ok := probeResult("run-1", "payments-restore", day0())
	ok.Success = true
	failed := probeResult("run-2", "payments-restore", day0().Add(time.Hour))
	failed.Success, failed.Error = false, "checksum mismatch"
	if err := w.AppendProbes(ok, failed); err != nil {
		t.Fatal(err)
	}
	snap, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Probes["payments-restore"]; got.RunID != "run-2" || got.Success {
		t.Errorf("latest = %+v, want the failed run-2", got)
	}
	if got := snap.ProbeSuccesses["payments-restore"]; got.RunID != "run-1" || !got.Success {
		t.Errorf("latest success = %+v, want run-1", got)
	}
}
