package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// TestGateFromHistory: without --exporter the gate evaluates the history
// with the same policy the exporter uses.
func TestGateFromHistory(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "history")
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte("environments:\n  prod: {rpo: 1h, retention: {releases: 1}}\n  dev: {rpo: 72h, retention: {releases: 1}}\nsources:\n  - {name: ci, type: manifest, env: prod, manifest: {dir: m}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := history.Open(root, history.Options{Now: func() time.Time { return at.Add(-time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	backup := func(env, id string, age time.Duration) model.Backup {
		return model.Backup{Source: "ci", Env: env, Dataset: "orders", ID: id, Type: model.BackupFull, Status: model.StatusSucceeded,
			Detail:  &model.BackupDetail{Checksum: "sha256:" + strings.Repeat("a", 64)},
			Release: "v1", Start: at.Add(-age - time.Minute), End: at.Add(-age)}
	}
	// prod's last good backup is 20 minutes old, dev's 5 days: beyond dev's RPO.
	if _, err := w.AppendCatalog("ci", &model.Catalog{Backups: []model.Backup{backup("prod", "p1", 20*time.Minute), backup("dev", "d1", 120*time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gate := func(env string) (int, policy.GateAnswer, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"--config.file", cfg, "--history", root, "gate", "--env", env, "--format", "json"}, &out, &errb, func() time.Time { return at })
		var a policy.GateAnswer
		if code != exitError {
			if err := json.Unmarshal(out.Bytes(), &a); err != nil {
				t.Fatalf("gate output is not JSON: %v\n%s", err, out.String())
			}
		}
		return code, a, errb.String()
	}
	code, a, stderr := gate("prod")
	if code != exitAllow || !a.Allow || a.LatestGoodBackup == nil || a.LatestGoodBackup.ID != "p1" {
		t.Errorf("prod: exit %d, answer %+v %s", code, a, stderr)
	}
	code, a, stderr = gate("dev")
	if code != exitDeny || a.Allow || len(a.Reasons) == 0 || a.Reasons[0].Check != policy.CheckRPO {
		t.Errorf("dev: exit %d, answer %+v %s", code, a, stderr)
	}
	if code, _, stderr = gate("qa"); code != exitError || !strings.Contains(stderr, `unknown environment "qa"`) {
		t.Errorf("unknown env: exit %d, %s", code, stderr)
	}
}
