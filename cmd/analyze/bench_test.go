package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/history"
)

// The benchmark history: 600 series (3 environments × 10 sources × 20
// datasets) backed up every hour for 350 days, kept the way restic's
// forget --keep-last 48 --keep-daily 30 --keep-monthly 12 keeps them. Every
// backup gets a row, nearly every one a removal row later: 10.1 million
// backup rows in all. 2% of backups are first seen running, 1% fail. Each
// dataset has a weekly restore probe and a repository observed daily. Each
// source is checkpointed at the start of every day, as the history writer
// checkpoints it on its first collection of the day, through the history
// package's own Checkpoints.
const (
	benchSeries    = 600
	benchDays      = 350
	benchSources   = 30
	benchSetDirVer = "restorable-bench-history-v3"
)

// benchStart is the first day of the benchmark history.
func benchStart() time.Time { return time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC) }

// benchAt is when the benchmark evaluates: the end of the last day.
func benchAt() time.Time { return benchStart().Add(benchDays * 24 * time.Hour) }

// benchHistory returns the benchmark history, generating it once into the
// system's temporary directory; later runs reuse it.
func benchHistory(b *testing.B) string {
	root := filepath.Join(os.TempDir(), benchSetDirVer)
	done := filepath.Join(root, "complete")
	if _, err := os.Stat(done); err == nil {
		return root
	}
	if err := os.RemoveAll(root); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	g := &benchGenerator{root: root, checkpoints: history.NewCheckpoints()}
	for day := range benchDays {
		if err := g.writeDay(day); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated benchmark history in %s at %s", time.Since(start).Round(time.Second), root)
	return root
}

type benchSeriesKey struct {
	env, source, dataset string
	offset               time.Duration
}

func benchKey(s int) benchSeriesKey {
	envs := []string{"dev", "staging", "prod"}
	src := s % benchSources
	return benchSeriesKey{
		env:     envs[src%3],
		source:  fmt.Sprintf("src-%02d", src),
		dataset: fmt.Sprintf("ds-%03d", s),
		offset:  time.Duration(s%60) * time.Minute,
	}
}

// benchBackup is backup h (hours since the start) of series s.
func benchBackup(s, h int) history.BackupRow {
	k := benchKey(s)
	end := benchStart().Add(time.Duration(h)*time.Hour + k.offset + 10*time.Minute)
	status := "succeeded"
	errMsg := ""
	if (h*7+s)%100 == 0 {
		status, errMsg = "failed", "repository locked by another process"
	}
	agentVersion := "0.17.3"
	if k.env == "dev" && s%7 == 0 {
		agentVersion = "0.18.0"
	}
	return history.BackupRow{
		Source: k.source, Env: k.env, Dataset: k.dataset, ID: fmt.Sprintf("%s-%06d", k.dataset, h),
		Type: "snapshot", Release: fmt.Sprintf("v1.%d.0", h/(24*14)),
		StartTime: end.Add(-10 * time.Minute), EndTime: end, Status: status, Error: errMsg,
		LogicalBytes: 50 << 30, StoredBytes: int64(200<<20 + s*1000 + h), FileCount: 120000,
		Location: "s3:https://s3.eu-west-1.amazonaws.com/acme-" + k.env + "/" + k.source, StorageClass: "STANDARD",
		Region: "eu-west-1", Encrypted: k.env != "dev" || s%3 != 0, Immutable: k.env == "prod" && s%11 != 0,
		Agent: "restic", AgentVersion: agentVersion, Tags: `{"app":"` + k.dataset + `"}`, Paths: []string{"/srv/" + k.dataset},
		CollectedAt: end.Add(5 * time.Minute), ContentHash: int64(s)<<32 | int64(h),
	}
}

// benchRemovedAt is when backup h of a series left its catalog, zero when
// it is still retained at the end of the history.
func benchRemovedAt(s, h int) time.Time {
	b := benchBackup(s, h)
	end := b.EndTime
	firstOfDay := h%24 == 0
	firstOfMonth := firstOfDay && end.Day() == 1
	var keep time.Duration
	switch {
	case firstOfMonth:
		return time.Time{}
	case firstOfDay:
		keep = 30 * 24 * time.Hour
	default:
		keep = 48 * time.Hour
	}
	at := end.Add(keep).Add(5 * time.Minute)
	if !at.Before(benchAt()) {
		return time.Time{}
	}
	return at
}

// benchGenerator writes the benchmark history day by day. Rows are
// partitioned by the day they were collected, as the writer partitions
// them, so a day's last backups land in the next day's partition.
type benchGenerator struct {
	root        string
	checkpoints *history.Checkpoints
	// pending are rows generated but collected after the last checkpoint.
	pending []history.BackupRow
}

// checkpoint writes the checkpoint of every source at at from the rows
// collected by then.
func (g *benchGenerator) checkpoint(at time.Time) error {
	slices.SortFunc(g.pending, func(a, b history.BackupRow) int { return a.CollectedAt.Compare(b.CollectedAt) })
	n := 0
	for n < len(g.pending) && !g.pending[n].CollectedAt.After(at) {
		n++
	}
	g.checkpoints.Add(g.pending[:n]...)
	g.pending = slices.Delete(g.pending, 0, n)
	for _, source := range g.checkpoints.Sources() {
		if err := g.checkpoints.Write(g.root, source, at); err != nil {
			return err
		}
	}
	return nil
}

func (g *benchGenerator) writeDay(day int) error {
	root := g.root
	dayStart := benchStart().Add(time.Duration(day) * 24 * time.Hour)
	if err := g.checkpoint(dayStart); err != nil {
		return err
	}
	dayEnd := dayStart.Add(24 * time.Hour)
	var rows []history.BackupRow
	var repos []history.RepositoryRow
	var probes []history.ProbeRow
	for s := range benchSeries {
		for h := day * 24; h < (day+1)*24; h++ {
			b := benchBackup(s, h)
			if (h+s)%50 == 0 {
				r := b
				r.Status, r.EndTime, r.CollectedAt = "running", time.Time{}, b.StartTime.Add(time.Minute)
				rows = append(rows, r)
			}
			rows = append(rows, b)
		}
		// Removals collected today: hourly backups kept two days and daily
		// ones kept thirty, taken around the day that many days ago.
		for _, back := range []int{3, 31} {
			for hh := max(0, (day-back)*24); hh < (day-back+2)*24; hh++ {
				at := benchRemovedAt(s, hh)
				if at.IsZero() || at.Before(dayStart) || !at.Before(dayEnd) {
					continue
				}
				b := benchBackup(s, hh)
				rows = append(rows, history.BackupRow{
					Source: b.Source, Env: b.Env, Dataset: b.Dataset, ID: b.ID, Type: b.Type, Release: b.Release,
					StartTime: b.StartTime, EndTime: b.EndTime, Status: b.Status, Removed: true, CollectedAt: at,
				})
			}
		}
		k := benchKey(s)
		retained := int64(48+30+day/30) * int64(200<<20+s*1000)
		repos = append(repos, history.RepositoryRow{
			Source: k.source, Env: k.env, Dataset: k.dataset, Name: k.dataset, ObservedAt: dayStart.Add(12 * time.Hour),
			StorageClass: "STANDARD", Region: "eu-west-1", StoredBytes: retained, LogicalBytes: retained * 8,
			DedupRatio: 4, CompressionRatio: 2, Healthy: true,
		})
		if (day+s)%7 == 0 {
			start := dayStart.Add(3 * time.Hour)
			probes = append(probes, history.ProbeRow{
				RunID: fmt.Sprintf("run-%s-%d", k.dataset, day), Probe: "restore-" + k.dataset, Kind: "restic-restore",
				Env: k.env, Dataset: k.dataset, Source: k.source, BackupID: fmt.Sprintf("%s-%06d", k.dataset, day*24),
				RestoredPoint: start.Add(-3 * time.Hour), StartTime: start, DurationSeconds: 600, Success: (day+s)%49 != 0,
				FilesVerified: 120000, BytesVerified: 50 << 30,
			})
		}
	}
	part := "dt=" + dayStart.Format(time.DateOnly)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	g.pending = append(g.pending, rows...)
	wg.Go(func() { _, errs[0] = history.WriteRows(root, rows) })
	wg.Go(func() { errs[1] = writeBenchFile(filepath.Join(root, "repositories", part), repos) })
	wg.Go(func() {
		if len(probes) > 0 {
			errs[2] = writeBenchFile(filepath.Join(root, "probes", part), probes)
		}
	})
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func writeBenchFile[T any](dir string, rows []T) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "part-bench.parquet"))
	if err != nil {
		return err
	}
	w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Zstd))
	if _, err := w.Write(rows); err != nil {
		f.Close()
		return err
	}
	if err := w.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// benchConfig configures the benchmark's environments, every source and
// every probe that wrote history: the policy judges only what the
// configuration names.
func benchConfig() string {
	var b strings.Builder
	b.WriteString(`environments:
  prod: {rpo: 2h, rto: 30m, retention: {releases: 3, min_age: 7d, max_age: 400d}, require: {encryption: any, immutable: true}, restore_test_every: 7d}
  staging: {rpo: 2h, retention: {releases: 3}, require: {encryption: any}, restore_test_every: 14d}
  dev: {rpo: 4h, retention: {releases: 1}}
sources:
`)
	for src := range benchSources {
		k := benchKey(src)
		fmt.Fprintf(&b, "  - {name: %s, type: manifest, env: %s, manifest: {dir: manifests}}\n", k.source, k.env)
	}
	b.WriteString("probes:\n")
	for s := range benchSeries {
		k := benchKey(s)
		fmt.Fprintf(&b, "  - {name: restore-%s, kind: command, source: %s, options: {command: [\"true\"]}}\n", k.dataset, k.source)
	}
	return b.String()
}

// BenchmarkFindings10M measures analyze findings end to end on a history
// of 10 million backup rows against a bare DuckDB scan of the same files,
// and reports the ratio and the peak resident memory of the findings run.
func BenchmarkFindings10M(b *testing.B) {
	root := benchHistory(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "analyze")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build analyze: %v", err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(benchConfig()), 0o644); err != nil {
		b.Fatal(err)
	}
	at := benchAt().Format(time.RFC3339)
	findings := func() (time.Duration, int64) {
		cmd := exec.Command(bin, "--config.file", cfg, "--history", root, "findings", "--at", at, "--format", "json", "--fail-on", "never")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("analyze findings: %v\n%.2000s", err, out)
		}
		return took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	}
	bare := func() time.Duration {
		start := time.Now()
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		q := fmt.Sprintf("SELECT env, dataset, count(*), max(end_time) FROM read_parquet('%s') GROUP BY ALL", filepath.Join(root, "backups", "dt=*", "*.parquet"))
		rows, err := db.Query(q)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
		if n != benchSeries {
			b.Fatalf("bare scan returned %d groups, want %d", n, benchSeries)
		}
		return time.Since(start)
	}
	// The same scan through the built binary, for a like-for-like figure
	// that includes starting the process and opening the history.
	bareBinary := func() time.Duration {
		cmd := exec.Command(bin, "--history", root, "sql", "--format", "csv", "SELECT env, dataset, count(*), max(end_time) FROM backups GROUP BY ALL")
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("analyze sql: %v\n%.2000s", err, out)
		}
		return time.Since(start)
	}
	// One untimed run of each warms the page cache and the binary.
	findings()
	bare()
	bareBinary()
	b.ResetTimer()
	var fTimes, bTimes, sTimes []time.Duration
	var rss int64
	for range b.N {
		for range 3 {
			t, r := findings()
			fTimes = append(fTimes, t)
			rss = max(rss, r)
			bTimes = append(bTimes, bare())
			sTimes = append(sTimes, bareBinary())
		}
	}
	b.StopTimer()
	f, s, sb := median(fTimes), median(bTimes), median(sTimes)
	b.ReportMetric(float64(f.Milliseconds()), "findings-ms")
	b.ReportMetric(float64(s.Milliseconds()), "bare-scan-ms")
	b.ReportMetric(float64(sb.Milliseconds()), "bare-scan-binary-ms")
	b.ReportMetric(float64(f)/float64(s), "ratio")
	b.ReportMetric(float64(f)/float64(sb), "ratio-binary")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
