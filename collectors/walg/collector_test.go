package walg

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/runx"
)

var now = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

// testConfig is the configuration the collector runs under, so the policy
// judges its records as the exporter would.
const testConfig = `
environments:
  prod: {rpo: 26h}
sources:
  - name: pg
    type: walg
    env: prod
    walg:
      binary: testdata/wal-g
      config: testdata/walg.json
      env: [WALG_TEST_OUT, WALG_TEST_LIST, WALG_TEST_VERIFY, WALG_TEST_FAIL, WALG_TEST_SLEEP, WALG_S3_PREFIX]
      storage_class: STANDARD
      region: eu-west-1
      encrypted: true
`

// setup loads testConfig as if the file were in this directory and points
// the fake wal-g at a fresh output directory.
func setup(t *testing.T) (*config.Config, *Collector, string, *bytes.Buffer) {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(mustAbs(t, "."), "restorable.yml"), []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	t.Setenv("WALG_TEST_OUT", out)
	var log bytes.Buffer
	c, err := New(cfg.Sources[0], slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c, out, &log
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func find(t *testing.T, cat *model.Catalog, id string) model.Backup {
	t.Helper()
	for _, b := range cat.Backups {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("no backup %s in %v", id, cat.Backups)
	return model.Backup{}
}

func TestCollectMapsBackups(t *testing.T) {
	_, c, out, _ := setup(t)
	m := &runx.Meter{}
	cat, err := c.Collect(runx.WithMeter(context.Background(), m))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 3 {
		t.Fatalf("%d backups, want 3", len(cat.Backups))
	}
	full := find(t, cat, "base_000000010000000100000040")
	want := model.Backup{
		Source: "pg", Env: "prod", Dataset: "pg", ID: "base_000000010000000100000040", Type: model.BackupFull,
		Release: "v1.4.0", Start: time.Date(2026, 11, 29, 2, 0, 0, 104127000, time.UTC), End: time.Date(2026, 11, 29, 2, 14, 50, 918371000, time.UTC),
		Status: model.StatusSucceeded, LogicalBytes: 53687091200, StoredBytes: 9663676416,
		Location: "default", StorageClass: "STANDARD", Region: "eu-west-1", Encrypted: true,
		Tags: map[string]string{"release": "v1.4.0", "app": "payments", "attempt": "1", TagPermanent: "true",
			TagSystemIdentifier: "7345678901234567891", TagHostname: "pg-prod-1", TagDataDir: "/var/lib/postgresql/15/main", TagStorage: "default"},

		Detail: &model.BackupDetail{DeltaBytes: 53687091200, Agent: Agent, LSNStart: "1/40000028", LSNStop: "1/41000100", WALStart: "000000010000000100000040", WALStop: "000000010000000100000041"},
	}
	if !reflect.DeepEqual(full, want) {
		t.Errorf("full backup\n got %+v\nwant %+v", full, want)
	}
	// is_permanent exempts a backup from wal-g delete; it does not make
	// the storage immutable.
	if full.Immutable || !full.RetainUntil.IsZero() {
		t.Errorf("a permanent backup reads as immutable (%v) or locked until %v", full.Immutable, full.RetainUntil)
	}
	diff := find(t, cat, "base_000000010000000100000046_D_000000010000000100000040")
	if diff.Type != model.BackupDiff || diff.Parent != full.ID || diff.LogicalBytes != 0 || diff.Details().DeltaBytes != 1073741824 {
		t.Errorf("delta of a full: type %s parent %s logical %d delta %d", diff.Type, diff.Parent, diff.LogicalBytes, diff.Details().DeltaBytes)
	}
	incr := find(t, cat, "base_000000010000000100000061_D_000000010000000100000046")
	if incr.Type != model.BackupIncr || incr.Parent != diff.ID || incr.Release != "" || incr.Details().WALStop != "000000010000000100000062" {
		t.Errorf("delta of a delta: type %s parent %s release %q wal stop %s", incr.Type, incr.Parent, incr.Release, incr.Details().WALStop)
	}
	if len(cat.Repositories) != 1 {
		t.Fatalf("%d repositories, want 1", len(cat.Repositories))
	}
	r := cat.Repositories[0]
	if r.WALMin != "000000010000000100000040" || r.WALMax != "000000010000000100000070" || !r.Healthy || r.StatusCode != StatusOK ||
		r.DatabaseVersion != "15" || r.Dataset != "pg" || !r.LocksUnknown || r.Status != "integrity OK; timeline OK (cluster 1, storage 1)" {
		t.Errorf("repository %+v", r)
	}
	if got := m.Calls(); got["wal-g backup-list"] != 1 || got["wal-g wal-verify"] != 1 || len(got) != 2 {
		t.Errorf("calls %v, want one backup-list and one wal-verify", got)
	}
	if ops := c.Operations(); !slices.Equal(ops, []string{"wal-g backup-list", "wal-g wal-verify"}) {
		t.Errorf("declared operations %v", ops)
	}
	args, err := os.ReadFile(filepath.Join(out, "args"))
	if err != nil {
		t.Fatal(err)
	}
	conf := mustAbs(t, "testdata/walg.json")
	if want := "backup-list --detail --json --config " + conf + "\nwal-verify integrity timeline --json --config " + conf + "\n"; string(args) != want {
		t.Errorf("wal-g ran with\n%s\nwant\n%s", args, want)
	}
}

// Only the variables the source names reach wal-g, and their values are
// never logged.
func TestEnvironmentPassedByName(t *testing.T) {
	_, c, out, log := setup(t)
	t.Setenv("WALG_S3_PREFIX", "s3://secret-bucket/pg")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-for-wal-g")
	if _, err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(out, "env"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(env), "WALG_S3_PREFIX=s3://secret-bucket/pg") {
		t.Errorf("a named variable did not reach wal-g:\n%s", env)
	}
	if strings.Contains(string(env), "not-for-wal-g") {
		t.Errorf("an unnamed variable reached wal-g:\n%s", env)
	}
	if strings.Contains(log.String(), "secret-bucket") {
		t.Errorf("the log holds a value of a passed variable:\n%s", log)
	}
}

// Lost WAL segments make the repository unhealthy and its replayable range
// start after the gap, and the existing PITR check reports the backups
// before it: the same judgement as for a pgBackRest archive.
func TestLostSegmentsFeedThePITRCheck(t *testing.T) {
	cfg, c, _, _ := setup(t)
	judge := func() []policy.Finding {
		cat, err := c.Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var repos []policy.RepositoryState
		for _, r := range cat.Repositories {
			repos = append(repos, policy.RepositoryState{Repository: r})
		}
		res := policy.Evaluate(cfg, policy.Input{At: now, Backups: policy.Backups(cat.Backups), Repositories: repos})
		var out []policy.Finding
		for _, f := range res.Findings {
			if f.Check == policy.CheckPITR {
				out = append(out, f)
			}
		}
		return out
	}
	if fs := judge(); len(fs) != 0 {
		t.Fatalf("a whole archive has PITR findings: %+v", fs)
	}
	t.Setenv("WALG_TEST_VERIFY", "wal-verify-lost.json")
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := cat.Repositories[0]
	if r.Healthy || r.StatusCode != StatusFailure || r.WALMin != "000000010000000100000053" ||
		r.Status != "integrity FAILURE (segments missing: 2 lost, 2 delayed); timeline OK (cluster 1, storage 1)" {
		t.Errorf("repository after lost segments: %+v", r)
	}
	fs := judge()
	if len(fs) != 1 || !strings.Contains(fs[0].Observed, "WAL archive starts at 000000010000000100000053") {
		t.Fatalf("PITR findings %+v, want one gap before 000000010000000100000053", fs)
	}
}

// wal-verify needs the database; when it fails the backups stay in service
// and the repository says why, without a WAL range to judge.
func TestWALVerifyFailureKeepsBackups(t *testing.T) {
	_, c, _, _ := setup(t)
	t.Setenv("WALG_TEST_FAIL", "wal-verify")
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 3 {
		t.Errorf("%d backups, want 3", len(cat.Backups))
	}
	r := cat.Repositories[0]
	if r.Healthy || r.StatusCode != StatusUnknown || r.WALMin != "" || r.WALMax != "" || !strings.Contains(r.Status, "connection refused") {
		t.Errorf("repository %+v", r)
	}
}

func TestCollectFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		kind runx.Kind
		msg  string
	}{
		{"backup-list fails", map[string]string{"WALG_TEST_FAIL": "backup-list"}, runx.KindExit, "failed to connect"},
		{"not JSON", map[string]string{"WALG_TEST_LIST": "wal-g"}, runx.KindParse, "parse wal-g backup-list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, c, _, _ := setup(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			cat, err := c.Collect(context.Background())
			if err == nil || cat != nil {
				t.Fatalf("catalog %v, error %v", cat, err)
			}
			if runx.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %v (kind %s), want kind %s containing %q", err, runx.KindOf(err), tc.kind, tc.msg)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		_, c, _, _ := setup(t)
		t.Setenv("WALG_TEST_SLEEP", "30")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := c.Collect(ctx)
		if runx.KindOf(err) != runx.KindTimeout || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v (kind %s), want a timeout", err, runx.KindOf(err))
		}
	})
}

// With wal_verify off, only backup-list runs and no repository is
// reported (none would carry a fact).
func TestWALVerifyOff(t *testing.T) {
	src := &config.Source{Name: "pg", Type: config.TypeWALG, Env: "prod",
		WALG: &config.WALGOptions{Binary: mustAbs(t, "testdata/wal-g"), ExtraEnv: []string{"WALG_TEST_OUT"}}}
	t.Setenv("WALG_TEST_OUT", t.TempDir())
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	m := &runx.Meter{}
	cat, err := c.Collect(runx.WithMeter(context.Background(), m))
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Repositories) != 0 || m.Calls()["wal-g wal-verify"] != 0 || len(c.Operations()) != 1 {
		t.Errorf("repositories %v, calls %v, operations %v", cat.Repositories, m.Calls(), c.Operations())
	}
}

// dataset_from tag:KEY reads a key of the user data.
func TestDatasetFromUserData(t *testing.T) {
	src := &config.Source{Name: "pg", Type: config.TypeWALG, Env: "prod", DatasetFrom: "tag:app",
		WALG: &config.WALGOptions{Binary: mustAbs(t, "testdata/wal-g"), WALVerify: true}}
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, b := range cat.Backups {
		got[b.ID] = b.Dataset
	}
	want := map[string]string{"base_000000010000000100000040": "payments", "base_000000010000000100000046_D_000000010000000100000040": "payments",
		"base_000000010000000100000061_D_000000010000000100000046": "pg"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("dataset of %s = %q, want %q", k, got[k], v)
		}
	}
	// The archive serves every dataset of the source.
	if cat.Repositories[0].Dataset != "" {
		t.Errorf("repository dataset %q, want none", cat.Repositories[0].Dataset)
	}
}
