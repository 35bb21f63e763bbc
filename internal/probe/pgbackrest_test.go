package probe

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/collectors/pgbackrest"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil/pgcluster"
)

func pgbackrestConfig(c *pgcluster.Cluster, options string) string {
	runAs := ""
	if c.User != "" {
		runAs = "\n    pgbackrest: {run_as: " + c.User + "}"
	}
	return `
environments:
  prod: {rpo: 1h, rto: 15m}
sources:
  - name: payments
    type: pgbackrest
    env: prod
    dataset: payments` + runAs + `
probes:
  - name: payments-restore
    kind: pgbackrest
    source: payments
    timeout: 5m
    options:
      config: ` + c.ConfigPath + `
      stanza: ` + c.Stanza + `
` + options
}

func TestPgBackRestRestoresABackupSetIntoAWorkingCluster(t *testing.T) {
	c := pgcluster.Start(t, pgcluster.Options{PgBackRest: true, Stanza: "payments"})
	c.SQL(t, "postgres", "CREATE DATABASE shop; ")
	c.SQL(t, "shop", "CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 1000) g")
	c.Backup(t, "full")
	label := strings.TrimSpace(string(c.PgBackRest(t, "info", "--output=json")))
	sets, err := parsePgbrInfo([]byte(label), "payments")
	if err != nil || len(sets) != 1 {
		t.Fatalf("backup sets %v: %v", sets, err)
	}
	// Changes after the backup must not be in the restore: recovery stops
	// at the backup's end.
	c.SQL(t, "shop", "INSERT INTO items VALUES (1001)")

	// Not t.TempDir: the cluster's OS user must reach the sandbox.
	work, err := os.MkdirTemp("", "probe-test-work-")
	if err == nil {
		err = os.Chmod(work, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	cfg := loadConfig(t, t.TempDir(), pgbackrestConfig(c, "      restore: true\n      work_dir: "+work+"\n      database: shop\n      query: SELECT count(*) FROM items\n"))
	cats := catalogs{"payments": {Backups: []model.Backup{{Source: "payments", Env: "prod", Dataset: "payments", ID: sets[0].label, Type: model.BackupFull, Status: model.StatusSucceeded, End: sets[0].stop}}}}
	h := newHarness(t, cfg, cats)
	h.start(t)
	r := h.run(t, "payments-restore")
	if !r.Success {
		t.Fatalf("probe failed: %s\n%s", r.Error, r.Details)
	}
	if r.BackupID != sets[0].label || !r.RestoredPoint.Equal(sets[0].stop) || r.BytesVerified <= 0 {
		t.Errorf("restored %s at %s, %d bytes; want %s at %s", r.BackupID, r.RestoredPoint, r.BytesVerified, sets[0].label, sets[0].stop)
	}
	if !strings.Contains(r.Details, `"SELECT count(*) FROM items" returned 1000`) {
		t.Errorf("details do not show the query on the restore: %s", r.Details)
	}
	if left, _ := filepath.Glob(filepath.Join(work, DirPrefix+"*")); len(left) != 0 {
		t.Errorf("sandbox directories left: %v", left)
	}
	if recs := h.records(t); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
}

func TestPgBackRestVerifyDetectsAMissingBackupFile(t *testing.T) {
	c := pgcluster.Start(t, pgcluster.Options{PgBackRest: true, Stanza: "payments"})
	c.SQL(t, "postgres", "CREATE TABLE t AS SELECT g FROM generate_series(1, 1000) g")
	c.Backup(t, "full")
	cfg := loadConfig(t, t.TempDir(), pgbackrestConfig(c, ""))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	if r := h.run(t, "payments-restore"); !r.Success {
		t.Fatalf("verify of a healthy repository failed: %s", r.Error)
	}
	// Damage the repository: remove one file of the backup.
	var victim string
	_ = filepath.Walk(filepath.Join(c.RepoPath, "backup", "payments"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(p, "/pg_data/base/") && victim == "" {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no backup file to remove")
	}
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	r := h.run(t, "payments-restore")
	if r.Success || !strings.Contains(r.Error, "pgbackrest verify found problems in stanza payments") || !strings.Contains(r.Error, "missing: 1") {
		t.Fatalf("verify of a damaged repository: %+v", r)
	}
}

func TestParsePgbrVerify(t *testing.T) {
	for _, tc := range []struct {
		file string
		want []string
	}{
		{"pgbackrest-verify-ok.txt", nil},
		{"pgbackrest-verify-error.txt", []string{"backup: 20261125-203333F, status: invalid, total files checked: 965, total valid files: 964: missing: 1, checksum invalid: 0, size invalid: 0, other: 0"}},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := parsePgbrVerify(data)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: problems %q (%v), want %q", tc.file, got, err, tc.want)
		}
	}
	if _, err := parsePgbrVerify([]byte("")); err == nil {
		t.Error("an empty report passed")
	}
}

// The drill works on a source configured with docs/config.md's defaults:
// no stanzas (all of them), no run_as, and a probe that names neither a
// stanza nor a set. The real collector reads the catalog, so its ids have
// the documented "STANZA/LABEL" shape, and the probe maps them back to the
// stanza and the set; the probe's result names the catalog's id.
func TestPgBackRestDrillOnADefaultSource(t *testing.T) {
	c := pgcluster.Start(t, pgcluster.Options{PgBackRest: true, Stanza: "demo"})
	c.SQL(t, "postgres", "CREATE TABLE t AS SELECT g FROM generate_series(1, 500) g")
	c.Backup(t, "full")
	c.SQL(t, "postgres", "INSERT INTO t SELECT g FROM generate_series(501, 700) g")
	c.Backup(t, "incr")
	work, err := os.MkdirTemp("", "probe-test-work-")
	if err == nil {
		err = os.Chmod(work, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	// Only what a user must write: where pgBackRest's configuration is.
	// run_as is left out on purpose; as root, the probe runs as postgres,
	// which is the cluster's user here.
	cfg := loadConfig(t, t.TempDir(), `
environments:
  prod: {rpo: 1h}
sources:
  - name: db
    type: pgbackrest
    env: prod
    pgbackrest: {config: `+c.ConfigPath+`}
probes:
  - name: drill
    kind: pgbackrest
    source: db
    timeout: 5m
    options:
      restore: true
      work_dir: `+work+`
      query: SELECT count(*) FROM t
`)
	if c.User != "" && c.User != DefaultRunAs {
		t.Skipf("the cluster runs as %s, not the default run_as %s", c.User, DefaultRunAs)
	}
	if err := Validate(context.Background(), cfg); err != nil {
		t.Fatalf("the configuration check refused the drill: %v", err)
	}
	// The collector reads the catalog with the same defaults (as root,
	// pgbackrest info reads a repository of another user).
	coll, err := pgbackrest.New(cfg.Source("db"), slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := coll.Collect(context.Background())
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	var latest *model.Backup
	for i := range cat.Backups {
		b := &cat.Backups[i]
		if !strings.HasPrefix(b.ID, "demo/") {
			t.Errorf("backup id %q does not have the documented STANZA/LABEL shape", b.ID)
		}
		if model.Newer(b, latest) {
			latest = b
		}
	}
	if latest == nil || latest.Type != model.BackupIncr {
		t.Fatalf("catalog %+v: want a full and an incr backup", cat.Backups)
	}
	h := newHarness(t, cfg, catalogs{"db": cat})
	h.start(t)
	r := h.run(t, "drill")
	if !r.Success {
		t.Fatalf("the drill failed on a default source: %s\n%s", r.Error, r.Details)
	}
	t.Logf("drill of %s: %s in %s", r.BackupID, r.Details, r.Duration)
	if r.BackupID != latest.ID || !r.RestoredPoint.Equal(latest.End) || r.BytesVerified <= 0 {
		t.Errorf("restored %s at %s (%d bytes); want the catalog's latest %s at %s", r.BackupID, r.RestoredPoint, r.BytesVerified, latest.ID, latest.End)
	}
	if !strings.Contains(r.Details, `"SELECT count(*) FROM t" returned 700`) {
		t.Errorf("details do not show the incremental backup's rows: %s", r.Details)
	}
}

// The stanza and set of a run come from the catalog's ids, whichever shape
// they have, and a catalog of several stanzas never sends the probe to
// another stanza than the one it was told to read.
func TestPgBackRestTargetMapsCatalogIDsToSets(t *testing.T) {
	end := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	bk := func(id string, end time.Time) model.Backup {
		return model.Backup{Source: "db", Env: "prod", Dataset: "d", ID: id, Type: model.BackupFull, Status: model.StatusSucceeded, End: end}
	}
	for _, tc := range []struct {
		name, options      string
		backups            []model.Backup
		wantStanza, wantID string
		wantErr            string
	}{
		{"qualified id, no stanza option", "restore: true", []model.Backup{bk("demo/20261201-110000F", end)}, "demo", "20261201-110000F", ""},
		{"two stanzas, the newest wins", "restore: true", []model.Backup{bk("a/20261201-110000F", end), bk("b/20261201-110000F", end.Add(time.Minute))}, "b", "20261201-110000F", ""},
		{"two stanzas, the probe's stanza", "{restore: true, stanza: a}", []model.Backup{bk("a/20261201-110000F", end), bk("b/20261201-110000F", end.Add(time.Minute))}, "a", "20261201-110000F", ""},
		{"plain label with a stanza", "{restore: true, stanza: a}", []model.Backup{bk("20261201-110000F", end)}, "a", "20261201-110000F", ""},
		{"qualified set", "{restore: true, set: x/20261101-110000F}", nil, "x", "20261101-110000F", ""},
		{"verify only names no backup", "{verify: true}", []model.Backup{bk("demo/20261201-110000F", end)}, "demo", "", ""},
		{"plain label without a stanza", "restore: true", []model.Backup{bk("20261201-110000F", end)}, "", "", "names no stanza: set stanza"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.options
			if !strings.HasPrefix(opts, "{") {
				opts = "{" + opts + "}"
			}
			cfg := loadConfig(t, t.TempDir(), `
environments:
  prod: {rpo: 1h}
sources:
  - {name: db, type: pgbackrest, env: prod}
probes:
  - {name: p, kind: pgbackrest, source: db, options: `+opts+`}
`)
			pr, err := newPgBackRest(&builder{cfg: cfg, probe: cfg.Probes[0], where: "probes[0]"})
			if err != nil {
				t.Fatalf("the probe was refused: %v", err)
			}
			res := &model.ProbeResult{}
			r := &run{probe: cfg.Probes[0], cats: catalogs{"db": {Backups: tc.backups}}, result: res, log: slog.New(slog.DiscardHandler)}
			stanza, label, err := pr.(*pgbackrestProbe).target(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || stanza != tc.wantStanza || label != tc.wantID {
				t.Fatalf("stanza %q, set %q (%v); want %q, %q", stanza, label, err, tc.wantStanza, tc.wantID)
			}
			if tc.options == "{verify: true}" && res.BackupID != "" {
				t.Errorf("a verify-only run names backup %s", res.BackupID)
			}
		})
	}
}
