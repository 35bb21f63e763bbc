package live

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// BenchmarkEvaluate100k measures one policy evaluation of the exporter's
// live state, as it runs after every collection: 100k retained backups
// across 1k datasets of one source, filled from the store and the memory.
// It reports the time per evaluation and the findings it produced.
func BenchmarkEvaluate100k(b *testing.B) {
	cfg, err := config.Parse("bench.yml", []byte(`environments:
  prod: {rpo: 1h, rto: 30m, retention: {releases: 3, min_age: 7d, max_age: 60d}, require: {encryption: any, immutable: true}, restore_test_every: 7d}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, manifest: {dir: m}}
`))
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cat := &model.Catalog{Backups: make([]model.Backup, 0, 100_000)}
	for d := range 1000 {
		for i := range 100 {
			end := base.Add(time.Duration(i) * 6 * time.Hour)
			status := model.StatusSucceeded
			if i%17 == 0 {
				status = model.StatusFailed
			}
			cat.Backups = append(cat.Backups, model.Backup{
				Source: "ci", Env: "prod", Dataset: fmt.Sprintf("dataset-%04d", d), ID: fmt.Sprintf("b-%d", i),
				Type: []model.BackupType{model.BackupFull, model.BackupIncr, model.BackupDiff}[i%3], Release: fmt.Sprintf("v%d", i/20),
				Start: end.Add(-10 * time.Minute), End: end, Status: status, LogicalBytes: 1 << 30, StoredBytes: 1 << 28,
				Encrypted: true, Immutable: i%5 != 0, Region: "eu-west-1", StorageClass: "STANDARD",
			})
		}
	}
	store := collectors.NewStore()
	store.Configure(cfg)
	now := base.Add(25 * 24 * time.Hour)
	st := New(store, nil, func() time.Time { return now })
	if _, err := st.Record(collectors.Run{Source: "ci", Type: "manifest", Start: now, Catalog: cat}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	var n int
	for range b.N {
		res := policy.Evaluate(cfg, st.Input(cfg, now, nil))
		n = len(res.Findings)
	}
	b.StopTimer()
	// CPU time is reported beside wall time: on a shared machine the wall
	// time also counts waiting for a core.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/evaluation")
	b.ReportMetric(float64(n), "findings")
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
