package history

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// The size of a large estate: 100k backups across 1k datasets.
const (
	benchBackups  = 100_000
	benchDatasets = 1_000
)

func BenchmarkAppendCatalog(b *testing.B) {
	cat := bigCatalog("pg", benchBackups, benchDatasets)
	c := newClock(day0())

	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			w, err := Open(b.TempDir(), Options{Now: c.Now})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if st := mustAppend(b, w, "pg", cat); st.Backups != benchBackups {
				b.Fatalf("appended %d backups, want %d", st.Backups, benchBackups)
			}
			b.StopTimer()
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})

	b.Run("unchanged", func(b *testing.B) {
		w := openTest(b, b.TempDir(), c, 0)
		mustAppend(b, w, "pg", cat)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			c.Advance(time.Minute)
			if st := mustAppend(b, w, "pg", cat); st != (Stats{}) {
				b.Fatalf("unchanged catalog appended %+v", st)
			}
		}
	})
}

// BenchmarkOpen measures a restart: rebuilding the duplicate filter of a
// history that holds 100k backups.
func BenchmarkOpen(b *testing.B) {
	root := b.TempDir()
	c := newClock(day0())
	w := openTest(b, root, c, 0)
	mustAppend(b, w, "pg", bigCatalog("pg", benchBackups, benchDatasets))
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w, err := Open(root, Options{Now: c.Now})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkLatest measures reading the current state of that history back.
func BenchmarkLatest(b *testing.B) {
	root := b.TempDir()
	c := newClock(day0())
	w := openTest(b, root, c, 0)
	mustAppend(b, w, "pg", bigCatalog("pg", benchBackups, benchDatasets))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		snap, err := w.Latest()
		if err != nil {
			b.Fatal(err)
		}
		if len(snap.Backups["pg"]) != benchBackups {
			b.Fatalf("latest has %d backups", len(snap.Backups["pg"]))
		}
	}
}

// longHistory writes, without a Writer, the history of one source that
// retains retained backups over days days: every day churn backups expire
// and churn new ones arrive, and churn/2 change. Each day's collection is
// at the same hour; the newest checkpointLookback days have a checkpoint, as
// a Writer would have written them (older ones would not be read). It
// returns the number of backups rows.
func longHistory(b *testing.B, root string, days, retained, churn int) int {
	b.Helper()
	cp := NewCheckpoints()
	rng := rand.New(rand.NewPCG(3, 4))
	live := make([]model.Backup, 0, retained+churn)
	seq, total := 0, 0
	for d := range days {
		at := day0().Add(time.Duration(d) * 24 * time.Hour)
		var rows []BackupRow
		version := func(bk *model.Backup) {
			row := BackupRowOf(bk, at)
			row.ContentHash = backupHash(bk.Source, bk)
			rows = append(rows, row)
		}
		fresh := churn
		if d == 0 {
			fresh = retained
		} else {
			for _, bk := range live[:churn] {
				identity := model.Backup{
					Source: bk.Source, Env: bk.Env, Dataset: bk.Dataset, ID: bk.ID, Type: bk.Type,
					Release: bk.Release, Start: bk.Start, End: bk.End, Status: bk.Status,
				}
				row := BackupRowOf(&identity, at)
				row.Removed = true
				rows = append(rows, row)
			}
			live = slices.Delete(live, 0, churn)
			for range churn / 2 {
				bk := &live[rng.IntN(len(live))]
				bk.StoredBytes += 1 << 20
				version(bk)
			}
		}
		for range fresh {
			seq++
			ds := fmt.Sprintf("ds-%04d", seq%benchDatasets)
			live = append(live, backup("pg", ds, fmt.Sprintf("%s-%08d", ds, seq), at.Add(-time.Hour)))
			version(&live[len(live)-1])
		}
		if _, err := WriteRows(root, rows); err != nil {
			b.Fatal(err)
		}
		cp.Add(rows...)
		if d >= days-checkpointLookback {
			if err := cp.Write(root, "pg", at); err != nil {
				b.Fatal(err)
			}
		}
		total += len(rows)
	}
	return total
}

// BenchmarkRestartLongHistory measures what a restart of the exporter
// costs after a long history: Open, then Latest, from the checkpoints and,
// for comparison, from every backups row.
func BenchmarkRestartLongHistory(b *testing.B) {
	const (
		days     = 90
		retained = benchBackups
		churn    = 5_000
	)
	root := b.TempDir()
	rows := longHistory(b, root, days, retained, churn)
	c := newClock(day0().Add(days * 24 * time.Hour))
	for _, mode := range []struct {
		name string
		full bool
	}{{"checkpoints", false}, {"full-history", true}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			b.ReportMetric(float64(rows), "history-rows")
			for b.Loop() {
				w, err := open(root, Options{Now: c.Now}, mode.full)
				if err != nil {
					b.Fatal(err)
				}
				snap, err := w.latest(mode.full)
				if err != nil {
					b.Fatal(err)
				}
				if len(snap.Backups["pg"]) != retained {
					b.Fatalf("latest has %d backups, want %d", len(snap.Backups["pg"]), retained)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
