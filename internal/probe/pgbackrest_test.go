package probe

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

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
