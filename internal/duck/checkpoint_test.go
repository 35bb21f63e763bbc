package duck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// monthsOfHistory records three months of two sources through the real
// writer, collected every six hours, after a week that a writer without
// checkpoints recorded (rows only). Source pg has two stanzas whose
// backups share labels; source files stops being collected after a month,
// so later checkpoints do not cover it.
func monthsOfHistory(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	start := t0().Add(-7 * 24 * time.Hour)
	const days = 90
	label := func(h int) string {
		return fmt.Sprintf("%s-%04dF", start.Add(time.Duration(h)*time.Hour).Format("20060102"), h%10000)
	}
	// catalog is what a source lists after hour now: hourly backups, the
	// last 12 kept and one a day for 20 days; the newest still runs, one
	// in 13 failed, and the release changes every 10 days.
	catalog := func(source string, datasets []string, now int) []model.Backup {
		var out []model.Backup
		for _, ds := range datasets {
			for h := max(0, now-20*24); h <= now; h++ {
				if now-h >= 12 && h%24 != 0 {
					continue
				}
				end := start.Add(time.Duration(h)*time.Hour + 20*time.Minute)
				b := model.Backup{Source: source, Env: "prod", Dataset: ds, ID: label(h), Type: model.BackupFull,
					Release: fmt.Sprintf("v%d", h/(24*10)), Start: end.Add(-20 * time.Minute), End: end,
					Detail: &model.BackupDetail{Paths: []string{"/" + ds}},
					Status: model.StatusSucceeded, StoredBytes: int64(h), Encrypted: h%2 == 0}
				if h == now {
					b.Status, b.End, b.StoredBytes = model.StatusRunning, time.Time{}, 0
				} else if h%13 == 0 {
					b.Status, b.Error = model.StatusFailed, "disk full"
				}
				out = append(out, b)
			}
		}
		return out
	}

	// The first week: rows as a writer without checkpoints left them.
	var rows []history.BackupRow
	prev := map[string]history.BackupRow{}
	for h := 6; h < 7*24; h += 6 {
		at := start.Add(time.Duration(h)*time.Hour + 30*time.Minute)
		seen := map[string]bool{}
		for _, b := range catalog("pg", []string{"orders", "billing"}, h) {
			r := history.BackupRowOf(&b, at)
			k := b.Dataset + "/" + b.ID
			seen[k] = true
			if p, ok := prev[k]; !ok || p.ContentHash != r.ContentHash {
				rows = append(rows, r)
				prev[k] = r
			}
		}
		for k, p := range prev {
			if !seen[k] {
				rm := history.BackupRow{Source: p.Source, Env: p.Env, Dataset: p.Dataset, ID: p.ID, Type: p.Type, Release: p.Release,
					StartTime: p.StartTime, EndTime: p.EndTime, Status: p.Status, Removed: true, CollectedAt: at}
				rows = append(rows, rm)
				delete(prev, k)
			}
		}
	}
	if _, err := history.WriteRows(dir, rows); err != nil {
		t.Fatal(err)
	}

	now := start
	w, err := history.Open(dir, history.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for h := 7 * 24; h < days*24; h += 6 {
		now = start.Add(time.Duration(h)*time.Hour + 30*time.Minute)
		for _, c := range []struct {
			source   string
			datasets []string
			until    int
		}{{"pg", []string{"orders", "billing"}, days * 24}, {"files", []string{"home"}, 37 * 24}} {
			if h > c.until {
				continue
			}
			if _, err := w.AppendCatalog(c.source, &model.Catalog{Backups: catalog(c.source, c.datasets, h)}); err != nil {
				t.Fatal(err)
			}
		}
		if h%24 == 0 {
			if err := w.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// withoutCheckpoints copies a history without its checkpoint tables: what
// an analyzer reads in full.
func withoutCheckpoints(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "history")
	if err := os.CopyFS(out, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{history.TableBackupCheckpoints, history.TableSeriesCheckpoints} {
		if err := os.RemoveAll(filepath.Join(out, table)); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// stateText is every retained backup at at, whole, sorted.
func stateText(t *testing.T, db *DB, at time.Time) []string {
	t.Helper()
	ctx := context.Background()
	if err := db.BuildState(ctx, at); err != nil {
		t.Fatal(err)
	}
	var out []string
	err := db.EachSeries(ctx, func(bs []model.Backup) error {
		for _, b := range bs {
			out = append(out, fmt.Sprintf("%+v", b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func seriesText(t *testing.T, db *DB, at time.Time) []string {
	t.Helper()
	h, err := db.SeriesHistory(context.Background(), at)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range h.Sightings {
		out = append(out, fmt.Sprintf("sighting %+v", s))
	}
	for k, v := range h.FirstGood {
		out = append(out, fmt.Sprintf("first good %v %s", k, v))
	}
	for k, v := range h.LastSeen {
		out = append(out, fmt.Sprintf("last seen %v %s", k, v))
	}
	slices.Sort(out)
	return out
}

// The state and series history read from checkpoints and the rows after
// them are those read from every row.
func TestCheckpointsGiveTheStateOfAFullRead(t *testing.T) {
	dir := monthsOfHistory(t)
	if _, err := os.Stat(filepath.Join(dir, history.TableBackupCheckpoints)); err != nil {
		t.Fatalf("the writer wrote no checkpoints: %v", err)
	}
	// The writer's compactions thinned the checkpoints older than two
	// weeks to one a week, on Mondays, the first day of an ISO week (t0 is
	// a Sunday): a moment long past reads a checkpoint up to a week old and
	// the rows since.
	for day, kept := range map[int]bool{22: true, 23: false, 29: true, 30: false, 64: true, 66: false, 68: true, 69: true} {
		part := filepath.Join(dir, history.TableBackupCheckpoints, "dt="+t0().AddDate(0, 0, day).Format(time.DateOnly))
		if _, err := os.Stat(part); (err == nil) != kept {
			t.Errorf("checkpoint partition of day %d kept: %v, want %v", day, err == nil, kept)
		}
	}
	fast, full := openDB(t, dir), openDB(t, withoutCheckpoints(t, dir))
	start := t0().Add(-7 * 24 * time.Hour)
	for _, at := range []time.Time{
		start.Add(3 * 24 * time.Hour),                            // before the first checkpoint
		t0().Add(30 * time.Minute),                               // at the first checkpoint
		t0().Add(20*24*time.Hour + 3*time.Hour),                  // between two checkpoints
		t0().Add(36*24*time.Hour + 12*time.Hour),                 // files' last day
		t0().Add(50*24*time.Hour + 30*time.Minute),               // files has no recent checkpoint
		t0().Add(82*24*time.Hour + 23*time.Hour),                 // the last day
		t0().Add(120 * 24 * time.Hour),                           // after the history
		t0().Add(60*24*time.Hour + 6*time.Hour + 30*time.Minute), // exactly at a collection
		t0().Add(29 * 24 * time.Hour),                            // before a kept Monday's checkpoint: the week before's
		t0().Add(35*24*time.Hour + 23*time.Hour),                 // the end of a thinned week
		t0().Add(31 * 24 * time.Hour),                            // files stopped in a thinned week
		t0().Add(68*24*time.Hour + 10*time.Minute),               // the first daily partition, before its checkpoint
	} {
		want, got := stateText(t, full, at), stateText(t, fast, at)
		if len(want) == 0 && at.After(t0()) {
			t.Fatalf("empty state at %s", at)
		}
		if !slices.Equal(got, want) {
			t.Errorf("state at %s from checkpoints differs: %d backups, want %d\n got %.400v\nwant %.400v", at, len(got), len(want), got, want)
		}
		if want, got := seriesText(t, full, at), seriesText(t, fast, at); !slices.Equal(got, want) {
			t.Errorf("series history at %s from checkpoints differs:\n got %v\nwant %v", at, got, want)
		}
	}
}

// pgBackRest labels repeat across the stanzas of one source: a backup
// removed from one stanza stays retained in the other, and each keeps its
// own version.
func TestSameIDInTwoDatasetsOfASource(t *testing.T) {
	for _, checkpoints := range []bool{true, false} {
		rec, dir := newRecorder(t)
		orders := backup("20260301-000000F", t0().Add(-time.Hour), model.StatusSucceeded)
		billing := orders
		billing.Dataset, billing.StoredBytes = "billing", 7
		rec.collect(t0(), "pg", []model.Backup{orders, billing})
		billing.Status = model.StatusFailed
		rec.collect(t0().Add(time.Hour), "pg", []model.Backup{orders, billing})
		rec.collect(t0().Add(2*time.Hour), "pg", []model.Backup{billing})
		if !checkpoints {
			dir = withoutCheckpoints(t, dir)
		}
		db := openDB(t, dir)
		for _, tc := range []struct {
			at   time.Time
			want []string
		}{
			{t0().Add(90 * time.Minute), []string{"billing:failed", "orders:succeeded"}},
			{t0().Add(3 * time.Hour), []string{"billing:failed"}},
		} {
			ctx := context.Background()
			if err := db.BuildState(ctx, tc.at); err != nil {
				t.Fatal(err)
			}
			var got []string
			err := db.EachSeries(ctx, func(bs []model.Backup) error {
				for _, b := range bs {
					got = append(got, b.Dataset+":"+string(b.Status))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("checkpoints %v: state at %s = %v, want %v", checkpoints, tc.at.Format(time.RFC3339), got, tc.want)
			}
		}
		attempts, err := db.Attempts(context.Background(), t0().Add(-2*time.Hour), t0().Add(3*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(attempts) != 1 || attempts[0].Dataset != "billing" {
			t.Errorf("checkpoints %v: attempts %+v, want the failed billing backup", checkpoints, attempts)
		}
	}
}
