package restic

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// benchRepo is a repository of four snapshots of a tree with a few
// hundred files, so that its trees fill more than one pack.
func benchRepo(b *testing.B) *testRepo {
	b.Helper()
	repo := newTestRepo(b)
	var dir string
	for i := range 4 {
		for f := range 100 {
			repo.write(filepath.Join("app", fmt.Sprintf("d%02d", f%10), fmt.Sprintf("f%03d-%d", f, i)), 2<<10)
		}
		dir = filepath.Dir(repo.write(filepath.Join("app", "blob.bin"), 1<<20))
		repo.backup("host1", time.Now().Add(time.Duration(i-4)*time.Hour), []string{"env=prod"}, dir)
	}
	return repo
}

// BenchmarkUnchangedRepositoryReads measures what a collection reads from
// a repository that did not change. "unchanged" is every collection after
// the first: the target is no pack data at all. "restart" is the first
// collection of a new collector on the state directory and cache an
// earlier one left (an exporter restart): the target is the same as
// "unchanged". "first" is a collection with an empty cache and no state,
// which is what every collection would cost an exporter that runs restic
// stats each time without a cache.
//
// pack-bytes/cycle is the size of the pack files opened under data/ (an
// upper bound of what was read from them), repo-files/cycle the other
// repository files opened (config, keys, snapshots, index), rchar/cycle
// everything restic read through read(2), local cache included.
func BenchmarkUnchangedRepositoryReads(b *testing.B) {
	repo := benchRepo(b)
	report := func(b *testing.B, n int, rchar, packBytes, packs, files, calls int64) {
		per := func(v int64) float64 { return float64(v) / float64(n) }
		b.ReportMetric(per(packBytes), "pack-bytes/cycle")
		b.ReportMetric(per(packs), "packs/cycle")
		b.ReportMetric(per(files), "repo-files/cycle")
		b.ReportMetric(per(rchar), "rchar/cycle")
		b.ReportMetric(per(calls), "restic-calls/cycle")
	}
	measure := func(b *testing.B, c func() *Collector) {
		watch := watchRepo(b, repo.dir)
		var n int
		var rchar, packBytes, packs, files, calls int64
		for b.Loop() {
			_, m := collectMetered(b, c())
			r := watch.read(b)
			n++
			rchar += m.ReadBytes()
			packBytes += r.packBytes()
			packs += int64(len(r.Packs))
			for _, v := range r.Opens {
				files += int64(v)
			}
			for _, v := range m.Calls() {
				calls += int64(v)
			}
		}
		report(b, n, rchar, packBytes, packs, files, calls)
	}

	b.Run("unchanged", func(b *testing.B) {
		c := newTestCollector(b, repo.source(nil), time.Now)
		collectMetered(b, c) // fills the cache and the stats
		measure(b, func() *Collector { return c })
	})
	b.Run("restart", func(b *testing.B) {
		src, stateDir := repo.source(nil), b.TempDir()
		restarted := func() *Collector {
			c, err := New(src, nil, time.Now, stateDir)
			if err != nil {
				b.Fatal(err)
			}
			return c
		}
		collectMetered(b, restarted()) // fills the cache and the state
		measure(b, restarted)
	})
	b.Run("first", func(b *testing.B) {
		measure(b, func() *Collector { return newTestCollector(b, repo.source(nil), time.Now) })
	})
}
