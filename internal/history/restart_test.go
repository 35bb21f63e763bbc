package history

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// estate plays the catalogs of several sources day by day: new backups,
// running ones that finish (a new version), tags that change, and the
// oldest ones expiring (removal rows).
type estate struct {
	rng  *rand.Rand
	cats map[string][]model.Backup
	seq  int
}

func newEstate() *estate {
	return &estate{rng: rand.New(rand.NewPCG(1, 2)), cats: map[string][]model.Backup{}}
}

// churn changes the catalog of source as a collection at now would see it.
func (e *estate) churn(source string, now time.Time) *model.Catalog {
	bs := e.cats[source]
	for i := range bs {
		if bs[i].Status == model.StatusRunning {
			bs[i].Status, bs[i].End = model.StatusSucceeded, now.Add(-time.Minute)
		}
	}
	if len(bs) > 0 && e.rng.IntN(3) == 0 {
		b := &bs[e.rng.IntN(len(bs))]
		b.Tags = map[string]string{"app": b.Dataset, "seq": fmt.Sprint(e.seq)}
	}
	for range 1 + e.rng.IntN(3) {
		e.seq++
		ds := fmt.Sprintf("ds-%d", e.rng.IntN(3))
		b := backup(source, ds, fmt.Sprintf("b-%06d", e.seq), now.Add(-30*time.Minute))
		if e.rng.IntN(2) == 0 {
			b.Status, b.End = model.StatusRunning, time.Time{}
		}
		b.Release = fmt.Sprintf("v1.%d", e.seq/40)
		bs = append(bs, b)
	}
	if len(bs) > 12 {
		bs = slices.Delete(bs, 0, 1+e.rng.IntN(2))
	}
	e.cats[source] = bs
	return e.catalog(source)
}

// catalog is the current catalog of source, unchanged.
func (e *estate) catalog(source string) *model.Catalog {
	return &model.Catalog{
		Backups:      slices.Clone(e.cats[source]),
		Repositories: []model.Repository{repository(source, source+"-repo", int64(len(e.cats[source])))},
	}
}

// writerState is what a writer rebuilt from the files, in comparable form.
type writerState struct {
	Sources map[string]sourceView
	Probes  map[string]struct{}
}

type sourceView struct {
	Backups       map[backupID]backupState
	Sums          map[seriesRelease]seriesSummary
	Repos         map[string]repoState
	CheckpointDay string
}

func stateOf(w *Writer) writerState {
	out := writerState{Sources: map[string]sourceView{}, Probes: w.probeRuns}
	for name, st := range w.sources {
		v := sourceView{Backups: map[backupID]backupState{}, Sums: map[seriesRelease]seriesSummary{}, Repos: st.repos, CheckpointDay: st.checkpointDay}
		for k, b := range st.backups {
			v.Backups[k] = *b
		}
		for k, s := range st.sums {
			v.Sums[k] = *s
		}
		out.Sources[name] = v
	}
	return out
}

// reopen opens root twice, from the checkpoints and from the full history,
// checks that both rebuild the same state and that Latest equals the full
// history's, and returns the checkpoint-based writer, open.
func reopen(t *testing.T, root string, c *clock, when string) *Writer {
	t.Helper()
	full, err := open(root, Options{Now: c.Now}, true)
	if err != nil {
		t.Fatalf("%s: open from full history: %v", when, err)
	}
	want := stateOf(full)
	wantLatest, err := full.latest(true)
	if err != nil {
		t.Fatalf("%s: latest from full history: %v", when, err)
	}
	if err := full.Close(); err != nil {
		t.Fatal(err)
	}
	w := openTest(t, root, c, 3)
	if got := stateOf(w); !reflect.DeepEqual(got, want) {
		for name := range want.Sources {
			if !reflect.DeepEqual(got.Sources[name], want.Sources[name]) {
				t.Errorf("%s: rebuilt state of %s\n got %+v\nwant %+v", when, name, got.Sources[name], want.Sources[name])
			}
		}
		t.Fatalf("%s: rebuilt state differs from the full history's (sources %d, want %d)", when, len(got.Sources), len(want.Sources))
	}
	got, err := w.Latest()
	if err != nil {
		t.Fatalf("%s: latest: %v", when, err)
	}
	if !reflect.DeepEqual(got, wantLatest) {
		for name := range wantLatest.Backups {
			if !reflect.DeepEqual(got.Backups[name], wantLatest.Backups[name]) {
				t.Errorf("%s: latest backups of %s\n got %v\nwant %v", when, name, got.Backups[name], wantLatest.Backups[name])
			}
		}
		t.Fatalf("%s: latest differs from the full history's", when)
	}
	return w
}

func TestRestartFromCheckpointsMatchesFullHistory(t *testing.T) {
	root := t.TempDir()
	start := day0()
	e := newEstate()

	// A source recorded before checkpoints existed: rows only.
	var legacy []BackupRow
	for d := range 5 {
		at := start.Add(time.Duration(d-6) * 24 * time.Hour)
		for _, b := range e.churn("legacy", at).Backups {
			row := BackupRowOf(&b, at)
			row.ContentHash = backupHash("legacy", &b)
			legacy = append(legacy, row)
		}
	}
	if _, err := WriteRows(root, legacy); err != nil {
		t.Fatal(err)
	}

	c := newClock(start)
	w := openTest(t, root, c, 3)
	const days = 30
	for d := range days {
		morning := start.Add(time.Duration(d) * 24 * time.Hour)
		if d%9 == 3 {
			// A restart on a later day, before its first collection.
			c.Set(morning.Add(-2 * time.Hour))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w = reopen(t, root, c, fmt.Sprintf("morning of day %d", d))
		}
		// The first collection of the day writes the checkpoint; the
		// later ones remove, change and add backups after it.
		for hour := range 2 {
			c.Set(morning.Add(time.Duration(6*hour) * time.Hour))
			sources := []string{"pg", "restic"}
			// This source stops being collected: its checkpoints end,
			// and after a week it is read from its full history.
			if d < 10 {
				sources = append(sources, "stopped")
			}
			for _, s := range sources {
				mustAppend(t, w, s, e.churn(s, c.Now()))
			}
			if err := w.AppendProbes(probeResult(fmt.Sprintf("run-%d-%d", d, hour), "pg-restore", c.Now())); err != nil {
				t.Fatal(err)
			}
		}
		if d%6 == 5 {
			if err := w.Compact(); err != nil {
				t.Fatal(err)
			}
		}
		if d%5 == 0 || d == days-1 {
			// A restart on the day of the checkpoint, after rows that
			// changed, removed and added backups since.
			c.Advance(time.Hour)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			w = reopen(t, root, c, fmt.Sprintf("evening of day %d", d))
			for _, s := range []string{"pg", "restic"} {
				if st := mustAppend(t, w, s, e.catalog(s)); st != (Stats{}) {
					t.Fatalf("day %d: unchanged catalog of %s appended %+v after a restart", d, s, st)
				}
			}
		}
	}

	// The restart did start from checkpoints: the collected sources from
	// today's, the stopped and the legacy source from their full history.
	r, err := findRestart(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pg", "restic"} {
		if at := r.at[s]; partitionOf(at) != partitionOf(c.Now()) {
			t.Errorf("%s restarts from its checkpoint at %s, want one of %s", s, at, partitionOf(c.Now()))
		}
	}
	for _, s := range []string{"stopped", "legacy"} {
		if at, ok := r.at[s]; ok {
			t.Errorf("%s restarts from a checkpoint at %s, want its full history", s, at)
		}
	}
	snap, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pg", "restic", "stopped", "legacy"} {
		if len(snap.Backups[s]) == 0 {
			t.Errorf("latest has no backups of %s", s)
		}
	}
}

// A checkpoint whose series file is missing (the writer died between the
// two files) is not used: the source starts from its previous checkpoint.
func TestRestartSkipsAHalfWrittenCheckpoint(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	e := newEstate()
	w := openTest(t, root, c, 0)
	mustAppend(t, w, "pg", e.churn("pg", c.Now()))
	c.Advance(24 * time.Hour)
	mustAppend(t, w, "pg", e.churn("pg", c.Now()))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for part := range files(t, root, TableSeriesCheckpoints) {
		if part == partitionOf(c.Now()) {
			if err := os.RemoveAll(filepath.Join(root, TableSeriesCheckpoints, part)); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.Advance(time.Hour)
	w = reopen(t, root, c, "after a half-written checkpoint")
	r, err := findRestart(root)
	if err != nil {
		t.Fatal(err)
	}
	if !r.at["pg"].Equal(day0()) {
		t.Errorf("pg restarts from its checkpoint at %s, want the one at %s", r.at["pg"], day0())
	}
	if st := mustAppend(t, w, "pg", e.catalog("pg")); st != (Stats{}) {
		t.Errorf("unchanged catalog appended %+v after a restart", st)
	}
}

// A compacted file holds several sources; the dictionary of its source
// column tells which, so that a restart skips it when it is older than
// all their checkpoints, and reads it when one of them has none.
func TestRestartSkipsCompactedFilesOlderThanTheCheckpoints(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	e := newEstate()
	w := openTest(t, root, c, 2)
	for range 3 {
		c.Advance(time.Hour)
		for _, s := range []string{"pg", "restic"} {
			mustAppend(t, w, s, e.churn(s, c.Now()))
		}
	}
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	old := files(t, root, TableBackups)[partitionOf(day0())]
	if len(old) != 1 {
		t.Fatalf("compaction left %v", old)
	}
	c.Set(day0().Add(24 * time.Hour))
	for _, s := range []string{"pg", "restic"} {
		mustAppend(t, w, s, e.churn(s, c.Now()))
	}
	r, err := findRestart(root)
	if err != nil {
		t.Fatal(err)
	}
	skipped := func(r restart) (n int) {
		t.Helper()
		f, pf, err := openParquet(filepath.Join(root, TableBackups, partitionOf(day0()), old[0]))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close() //nolint:errcheck // read only
		for _, rg := range pf.RowGroups() {
			sources, ok, err := groupStrings(rg, "source")
			if err != nil || !ok || !slices.Equal(slices.Sorted(slices.Values(sources)), []string{"pg", "restic"}) {
				t.Fatalf("sources of the compacted row group: %v, %v, %v", sources, ok, err)
			}
			skip, err := r.skipBackups(rg)
			if err != nil {
				t.Fatal(err)
			}
			if skip {
				n++
			}
		}
		return n
	}
	if n := skipped(r); n != 1 {
		t.Errorf("restart skips %d row groups of the compacted file, want 1", n)
	}
	delete(r.at, "restic")
	if n := skipped(r); n != 0 {
		t.Errorf("restart without a checkpoint of restic skips %d row groups, want 0", n)
	}
}
