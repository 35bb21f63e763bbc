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

// analyze releases lists, from the history, the releases of a dataset with
// the backup before each, as the exporter's API does; and analyze gate
// denies on a freeze recorded in the events table.
func TestReleasesAndFreezeFromHistory(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "history")
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte("environments:\n  prod: {rpo: 1h, retention: {releases: 1}}\nsources:\n  - {name: ci, type: manifest, env: prod, manifest: {dir: m}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := history.Open(root, history.Options{Now: func() time.Time { return at.Add(-time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	backup := func(id, release string, age time.Duration) model.Backup {
		return model.Backup{Source: "ci", Env: "prod", Dataset: "orders", ID: id, Type: model.BackupFull, Status: model.StatusSucceeded,
			Detail:  &model.BackupDetail{Checksum: "sha256:" + strings.Repeat(id[1:], 64)},
			Release: release, Start: at.Add(-age - time.Minute), End: at.Add(-age), Location: "s3://bk/" + id}
	}
	if _, err := w.AppendCatalog("ci", &model.Catalog{Backups: []model.Backup{backup("b1", "v1", 3*time.Hour), backup("b2", "v2", 50*time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	event := func(id string, kind model.EventKind, release string, ago time.Duration) model.Event {
		return model.Event{ID: id, Sender: "generic", Kind: kind, Env: "prod", Dataset: "orders", Release: release,
			Result: model.ResultSucceeded, Time: at.Add(-ago), Received: at.Add(-ago)}
	}
	if _, err := w.AppendEvents(
		event("d3", model.EventDeploy, "v3", 40*time.Minute),
		event("r1", model.EventRollback, "v2", 30*time.Minute),
		event("d4", model.EventDeploy, "v3", 20*time.Minute),
		event("r2", model.EventRollback, "v2", 10*time.Minute),
	); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--config.file", cfg, "--history", root, "releases", "--env", "prod", "--dataset", "orders", "--format", "json"}, &out, &errb, func() time.Time { return at })
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var got struct{ Releases []policy.ReleaseEntry }
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(got.Releases) != 3 || got.Releases[0].Release != "v3" || got.Releases[0].Backup == nil || got.Releases[0].Backup.ID != "b2" ||
		got.Releases[0].Backup.Location != "s3://bk/b2" || got.Releases[1].Release != "v2" || got.Releases[1].Backup.ID != "b1" {
		t.Errorf("releases %s", out.String())
	}

	out.Reset()
	errb.Reset()
	code = run(context.Background(), []string{"--config.file", cfg, "--history", root, "gate", "--env", "prod", "--format", "json"}, &out, &errb, func() time.Time { return at })
	var a policy.GateAnswer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("%v: %s %s", err, out.String(), errb.String())
	}
	if code != exitDeny || len(a.Reasons) != 1 || a.Reasons[0].Check != policy.CheckFreeze {
		t.Errorf("analyze gate: exit %d %+v", code, a.Reasons)
	}
}
