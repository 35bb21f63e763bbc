package metrics

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

const cfgYAML = `
environments:
  prod:
    rpo: 1h
    rto: 30m
    retention: {releases: 3}
    require: {encryption: kms, kms_keys: [k-good], immutable: true}
    restore_test_every: 7d
  dev: {rpo: 72h}
sources:
  - {name: db, type: manifest, env: prod, interval: 5m, manifest: {dir: x}}
`

var t0 = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func backup(id string, typ model.BackupType, st model.Status, end time.Time, release, key string) model.Backup {
	return model.Backup{Source: "db", Env: "prod", Dataset: "payments", ID: id, Type: typ, Status: st,
		Start: end.Add(-10 * time.Minute), End: end, Release: release, Encrypted: key != "", KeyID: key,
		LogicalBytes: 1000, StoredBytes: 100}
}

func setup(t testing.TB, cat *model.Catalog) (prometheus.Gatherer, *collectors.Store) {
	cfg, err := config.Parse("t.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	store := collectors.NewStore()
	store.Configure(cfg)
	if cat != nil {
		store.Record(collectors.Run{Source: "db", Type: "manifest", Start: t0, Duration: 2 * time.Second, Catalog: cat})
	}
	c := NewCollector(Sources{Store: store, Probes: func() []ProbeStatus {
		return []ProbeStatus{{Last: model.ProbeResult{Probe: "p", Kind: "artifact", Env: "prod", Dataset: "payments", Start: t0, Duration: 90 * time.Second, Success: true, BytesVerified: 42, RestoredPoint: t0.Add(-2 * time.Hour)}, LastSuccess: t0}}
	}})
	c.SetConfig(cfg)
	return c, store
}

func TestBackupMetrics(t *testing.T) {
	cat := &model.Catalog{Backups: []model.Backup{
		backup("f1", model.BackupFull, model.StatusSucceeded, t0.Add(-72*time.Hour), "v1", "k-good"),
		backup("f2", model.BackupFull, model.StatusSucceeded, t0.Add(-24*time.Hour), "v2", "k-good"),
		backup("i1", model.BackupIncr, model.StatusSucceeded, t0.Add(-2*time.Hour), "v2", "k-bad"),
		backup("i2", model.BackupIncr, model.StatusFailed, t0.Add(-1*time.Hour), "v2", ""),
	}, Repositories: []model.Repository{{Source: "db", Env: "prod", Dataset: "payments", Name: "payments", StoredBytes: 5000, Healthy: true}}}
	reg, _ := setup(t, cat)
	want := `
# HELP restorable_backup_last_success_timestamp_seconds End time of the newest successful backup of this type, from the source's catalog (collected in the background).
# TYPE restorable_backup_last_success_timestamp_seconds gauge
restorable_backup_last_success_timestamp_seconds{backup_type="full",dataset="payments",env="prod",source="db"} %d
restorable_backup_last_success_timestamp_seconds{backup_type="incr",dataset="payments",env="prod",source="db"} %d
# HELP restorable_backup_last_attempt_success 1 if the newest finished backup attempt succeeded, 0 if it failed or was partial.
# TYPE restorable_backup_last_attempt_success gauge
restorable_backup_last_attempt_success{dataset="payments",env="prod",source="db"} 0
# HELP restorable_backup_releases_retained Distinct release labels among retained successful backups.
# TYPE restorable_backup_releases_retained gauge
restorable_backup_releases_retained{dataset="payments",env="prod",source="db"} 2
# HELP restorable_backup_last_key_allowed 1 if the newest successful backup's KMS key is in the environment's allowlist (1 when the environment has none).
# TYPE restorable_backup_last_key_allowed gauge
restorable_backup_last_key_allowed{dataset="payments",env="prod",source="db"} 0
# HELP restorable_backup_oldest_timestamp_seconds End time of the oldest retained successful backup.
# TYPE restorable_backup_oldest_timestamp_seconds gauge
restorable_backup_oldest_timestamp_seconds{dataset="payments",env="prod",source="db"} %d
# HELP restorable_backups Backups in the source's catalog, by type and status.
# TYPE restorable_backups gauge
restorable_backups{backup_type="full",dataset="payments",env="prod",source="db",status="succeeded"} 2
restorable_backups{backup_type="incr",dataset="payments",env="prod",source="db",status="failed"} 1
restorable_backups{backup_type="incr",dataset="payments",env="prod",source="db",status="succeeded"} 1
# HELP restorable_policy_rpo_seconds Recovery point objective: the largest acceptable age of the last good backup.
# TYPE restorable_policy_rpo_seconds gauge
restorable_policy_rpo_seconds{env="dev"} 259200
restorable_policy_rpo_seconds{env="prod"} 3600
# HELP restorable_policy_releases_required Distinct prior release states that must stay restorable.
# TYPE restorable_policy_releases_required gauge
restorable_policy_releases_required{env="dev"} 3
restorable_policy_releases_required{env="prod"} 3
# HELP restorable_repository_stored_bytes Bytes the repository occupies on storage.
# TYPE restorable_repository_stored_bytes gauge
restorable_repository_stored_bytes{dataset="payments",env="prod",repository="payments",source="db"} 5000
# HELP restorable_restore_probe_achieved_rpo_seconds Age of the restored data when the last run started (achieved RPO).
# TYPE restorable_restore_probe_achieved_rpo_seconds gauge
restorable_restore_probe_achieved_rpo_seconds{dataset="payments",env="prod",kind="artifact",probe="p"} 7200
# HELP restorable_collector_success 1 if the last collection of the source succeeded.
# TYPE restorable_collector_success gauge
restorable_collector_success{source="db",type="manifest"} 1
`
	want = fmt.Sprintf(want, t0.Add(-24*time.Hour).Unix(), t0.Add(-2*time.Hour).Unix(), t0.Add(-72*time.Hour).Unix())
	names := []string{"restorable_backup_last_success_timestamp_seconds", "restorable_backup_last_attempt_success",
		"restorable_backup_releases_retained", "restorable_backup_last_key_allowed", "restorable_backup_oldest_timestamp_seconds",
		"restorable_backups", "restorable_policy_rpo_seconds", "restorable_policy_releases_required",
		"restorable_repository_stored_bytes", "restorable_restore_probe_achieved_rpo_seconds", "restorable_collector_success"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

// Before the first collection (and without history) a source has no
// freshness series at all: never a zero that reads as "backed up in 1970".
func TestNoZeroFreshnessBeforeFirstCollection(t *testing.T) {
	reg, _ := setup(t, nil)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "restorable_backup_") || mf.GetName() == "restorable_collector_success" {
			t.Errorf("%s exposed before any collection", mf.GetName())
		}
	}
}

// BenchmarkScrape renders /metrics from 100k backups across 1k datasets.
// Target: under 50 ms per scrape, peak RSS under 200 MB.
func BenchmarkScrape(b *testing.B) {
	cat := &model.Catalog{Backups: make([]model.Backup, 0, 100_000)}
	types := []model.BackupType{model.BackupFull, model.BackupIncr, model.BackupDiff}
	for d := range 1000 {
		for i := range 100 {
			bk := backup(fmt.Sprintf("b%d-%d", d, i), types[i%3], model.StatusSucceeded, t0.Add(-time.Duration(i)*time.Hour), fmt.Sprintf("v%d", i%5), "k-good")
			bk.Dataset = fmt.Sprintf("dataset-%04d", d)
			if i%17 == 0 {
				bk.Status = model.StatusFailed
			}
			cat.Backups = append(cat.Backups, bk)
		}
	}
	reg, store := setup(b, cat)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	scrape := func() int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		n, _ := io.Copy(io.Discard, rec.Body)
		return int(n)
	}
	size := scrape() // builds the cache once, as the first scrape after a collection does
	b.ResetTimer()
	for b.Loop() {
		scrape()
	}
	b.StopTimer()
	// A new collection invalidates the cache: measure the rebuild too.
	start := time.Now()
	store.Record(collectors.Run{Source: "db", Type: "manifest", Start: t0.Add(time.Minute), Catalog: cat})
	scrape()
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000, "ms-rebuild+scrape")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-rss-MB")
	}
	b.ReportMetric(float64(size)/1e6, "MB/scrape")
}

// Unknown is absent, never 0: for every metric family that derives from a
// fact a catalog or a probe may not know, the test first shows the family
// present when the fact is known, then gives it the unknown value and
// requires the series to disappear. restorable_backup_last_encrypted and
// _last_immutable are left out: the model keeps those facts as plain
// booleans, so "not reported" cannot be told from "no".
func TestUnknownIsAbsentNeverZero(t *testing.T) {
	known := func() (*model.Catalog, model.ProbeResult) {
		cat := &model.Catalog{
			Backups: []model.Backup{
				backup("f1", model.BackupFull, model.StatusSucceeded, t0.Add(-48*time.Hour), "v1", "k-good"),
				backup("f2", model.BackupFull, model.StatusSucceeded, t0.Add(-2*time.Hour), "v2", "k-good"),
			},
			Repositories: []model.Repository{{Source: "db", Env: "prod", Dataset: "payments", Name: "payments",
				StoredBytes: 5000, LogicalBytes: 9000, DedupRatio: 1.8, CompressionRatio: 1.2, Healthy: true}},
		}
		probe := model.ProbeResult{Probe: "p", Kind: "artifact", Env: "prod", Dataset: "payments", Start: t0,
			Duration: 90 * time.Second, Success: true, BytesVerified: 42, RestoredPoint: t0.Add(-2 * time.Hour)}
		return cat, probe
	}
	newest := func(cat *model.Catalog) *model.Backup { return &cat.Backups[1] }
	tests := []struct {
		family  string
		unknown func(cat *model.Catalog, p *model.ProbeResult)
	}{
		// restic before 0.17 records one time per snapshot.
		{"restorable_backup_last_duration_seconds", func(cat *model.Catalog, _ *model.ProbeResult) {
			cat.Backups[1].Start = cat.Backups[1].End
		}},
		{"restorable_backup_last_duration_seconds", func(cat *model.Catalog, _ *model.ProbeResult) { newest(cat).Start = time.Time{} }},
		{"restorable_backup_last_success_timestamp_seconds", func(cat *model.Catalog, _ *model.ProbeResult) {
			for i := range cat.Backups {
				cat.Backups[i].End = time.Time{}
			}
		}},
		{"restorable_backup_last_attempt_timestamp_seconds", func(cat *model.Catalog, _ *model.ProbeResult) {
			for i := range cat.Backups {
				cat.Backups[i].Start, cat.Backups[i].End = time.Time{}, time.Time{}
			}
		}},
		{"restorable_backup_oldest_timestamp_seconds", func(cat *model.Catalog, _ *model.ProbeResult) {
			for i := range cat.Backups {
				cat.Backups[i].End = time.Time{}
			}
		}},
		{"restorable_backup_last_size_bytes", func(cat *model.Catalog, _ *model.ProbeResult) { newest(cat).LogicalBytes = 0 }},
		{"restorable_backup_last_stored_bytes", func(cat *model.Catalog, _ *model.ProbeResult) { newest(cat).StoredBytes = 0 }},
		{"restorable_backup_releases_retained", func(cat *model.Catalog, _ *model.ProbeResult) {
			for i := range cat.Backups {
				cat.Backups[i].Release = ""
			}
		}},
		{"restorable_backup_last_key_allowed", func(cat *model.Catalog, _ *model.ProbeResult) { newest(cat).KeyID = "" }},
		{"restorable_repository_stored_bytes", func(cat *model.Catalog, _ *model.ProbeResult) { cat.Repositories[0].StoredBytes = 0 }},
		{"restorable_repository_logical_bytes", func(cat *model.Catalog, _ *model.ProbeResult) { cat.Repositories[0].LogicalBytes = 0 }},
		{"restorable_repository_dedup_ratio", func(cat *model.Catalog, _ *model.ProbeResult) { cat.Repositories[0].DedupRatio = 0 }},
		{"restorable_repository_compression_ratio", func(cat *model.Catalog, _ *model.ProbeResult) {
			cat.Repositories[0].CompressionRatio = 0
		}},
		// restic reads no locks (--no-lock).
		{"restorable_repository_backup_locked", func(cat *model.Catalog, _ *model.ProbeResult) { cat.Repositories[0].LocksUnknown = true }},
		{"restorable_restore_probe_verified_bytes", func(_ *model.Catalog, p *model.ProbeResult) { p.BytesVerified = 0 }},
		{"restorable_restore_probe_achieved_rpo_seconds", func(_ *model.Catalog, p *model.ProbeResult) { p.RestoredPoint = time.Time{} }},
		{"restorable_restore_probe_duration_seconds", func(_ *model.Catalog, p *model.ProbeResult) { p.Duration = 0 }},
		{"restorable_restore_probe_last_run_timestamp_seconds", func(_ *model.Catalog, p *model.ProbeResult) { p.Start = time.Time{} }},
		{"restorable_restore_probe_last_success_timestamp_seconds", func(_ *model.Catalog, p *model.ProbeResult) { p.Success = false }},
	}
	for _, tc := range tests {
		t.Run(tc.family, func(t *testing.T) {
			cat, probe := known()
			if n := seriesOf(t, cat, probe, tc.family); n == 0 {
				t.Fatalf("%s is absent although its input is known: the test would prove nothing", tc.family)
			}
			tc.unknown(cat, &probe)
			if n := seriesOf(t, cat, probe, tc.family); n != 0 {
				t.Errorf("%s has %d series for an unknown input, want none", tc.family, n)
			}
		})
	}
	// The policy targets that are optional in the configuration: dev sets
	// none of them, prod all.
	cat, probe := known()
	for _, family := range []string{"restorable_policy_rto_seconds", "restorable_policy_restore_test_interval_seconds"} {
		mf := familyOf(t, cat, probe, family)
		if mf == nil || len(mf.Metric) != 1 || mf.Metric[0].Label[0].GetValue() != "prod" {
			t.Errorf("%s = %v, want a series for prod only (dev sets no target)", family, mf)
		}
	}
}

// familyOf gathers the metrics of cat and one probe result and returns
// family, or nil.
func familyOf(t *testing.T, cat *model.Catalog, probe model.ProbeResult, family string) *dto.MetricFamily {
	t.Helper()
	cfg, err := config.Parse("t.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	store := collectors.NewStore()
	store.Configure(cfg)
	store.Record(collectors.Run{Source: "db", Type: "manifest", Start: t0, Duration: 2 * time.Second, Catalog: cat})
	var lastSuccess time.Time
	if probe.Success {
		lastSuccess = probe.Start
	}
	c := NewCollector(Sources{Store: store, Probes: func() []ProbeStatus {
		return []ProbeStatus{{Last: probe, LastSuccess: lastSuccess}}
	}})
	c.SetConfig(cfg)
	mfs, err := c.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == family {
			return mf
		}
	}
	return nil
}

func seriesOf(t *testing.T, cat *model.Catalog, probe model.ProbeResult, family string) int {
	t.Helper()
	mf := familyOf(t, cat, probe, family)
	if mf == nil {
		return 0
	}
	return len(mf.Metric)
}

// TestGatherVersion: the version stays while nothing changes and moves with
// a collection, a reload and a probe result, the three things the derived
// metrics come from.
func TestGatherVersion(t *testing.T) {
	cfg, err := config.Parse("t.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	store := collectors.NewStore()
	store.Configure(cfg)
	verified := int64(1)
	c := NewCollector(Sources{Store: store, Probes: func() []ProbeStatus {
		return []ProbeStatus{{Last: model.ProbeResult{Probe: "p", Kind: "artifact", Env: "prod", Dataset: "payments", Start: t0, Success: true, BytesVerified: verified}}}
	}})
	c.SetConfig(cfg)
	version := func() Version {
		v, _, err := c.GatherVersion()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	v0 := version()
	if version() != v0 {
		t.Fatal("version moved without a change")
	}
	store.Record(collectors.Run{Source: "db", Type: "manifest", Start: t0, Catalog: &model.Catalog{Backups: []model.Backup{backup("f1", model.BackupFull, model.StatusSucceeded, t0, "v1", "k-good")}}})
	v1 := version()
	if v1 == v0 {
		t.Error("version did not move with a collection")
	}
	verified++
	v2 := version()
	if v2 == v1 {
		t.Error("version did not move with a probe result")
	}
	reloaded, err := config.Parse("t.yml", []byte(cfgYAML))
	if err != nil {
		t.Fatal(err)
	}
	c.SetConfig(reloaded)
	if version() == v2 {
		t.Error("version did not move with a reload")
	}
}
