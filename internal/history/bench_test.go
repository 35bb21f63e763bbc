package history

import (
	"testing"
	"time"
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
