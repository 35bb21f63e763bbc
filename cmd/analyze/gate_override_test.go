package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// An exporter's overridden answer: analyze gate --exporter allows (exit 0),
// still prints the reasons, and says who overrode the gate, why and until
// when; an Alertmanager alert on the same breach does not close it again.
func TestGateFromExporterShowsTheOverride(t *testing.T) {
	since := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	denied := policy.GateAnswer{
		GateRequest: policy.GateRequest{Env: "prod"},
		Reasons:     []policy.GateReason{{Check: policy.CheckRPO, Severity: policy.SeverityCritical, Subject: "pg/orders", Detail: "newest backup 5h old"}},
		EvaluatedAt: since.Add(time.Minute),
	}
	ans := policy.ApplyOverrides(denied, []policy.Override{{Env: "prod", By: "alice", Reason: "INC-42 hotfix", Since: since, ExpiresAt: since.Add(2 * time.Hour)}}, since.Add(time.Minute))
	body, err := json.Marshal(ans)
	if err != nil {
		t.Fatal(err)
	}
	exp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer exp.Close()
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"labels":{"alertname":"RestorableBackupRPOBreached","env":"prod","gate":"deploy"},"annotations":{"summary":"old"},"status":{"state":"active","silencedBy":[],"inhibitedBy":[]}}]`))
	}))
	defer am.Close()
	for _, args := range [][]string{
		{"gate", "--env", "prod", "--exporter", exp.URL},
		{"gate", "--env", "prod", "--exporter", exp.URL, "--alertmanager", am.URL},
	} {
		code, out, errOut := runIn(t, args...)
		if code != exitAllow {
			t.Errorf("%v: exit %d, want %d (allow)\n%s%s", args, code, exitAllow, out, errOut)
		}
		for _, want := range []string{"ALLOW deploy to prod", "rpo [critical] pg/orders: newest backup 5h old", "OVERRIDDEN by alice since 2026-11-25T20:00:00Z until 2026-11-25T22:00:00Z: INC-42 hotfix"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// Without --exporter, analyze gate reads the overrides from the history's
// audit table: the newest override in force overrules the answer as the
// exporter's does, a withdrawn one does not, and an expired one no longer.
func TestGateFromHistoryHonoursOverrides(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "history")
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte("environments:\n  prod: {rpo: 1h}\n  dev: {rpo: 1h}\nsources:\n  - {name: ci, type: manifest, env: prod, manifest: {dir: m}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := history.Open(root, history.Options{Now: func() time.Time { return at.Add(-time.Minute) }})
	if err != nil {
		t.Fatal(err)
	}
	// Both environments' only backups are 5h old: both gates are closed.
	var backups []model.Backup
	for _, env := range []string{"prod", "dev"} {
		backups = append(backups, model.Backup{Source: "ci", Env: env, Dataset: "orders", ID: env + "1", Type: model.BackupFull, Status: model.StatusSucceeded,
			Release: "v1", Start: at.Add(-6 * time.Hour), End: at.Add(-5 * time.Hour)})
	}
	if _, err := w.AppendCatalog("ci", &model.Catalog{Backups: backups}); err != nil {
		t.Fatal(err)
	}
	dev := policy.Override{Env: "dev", By: "alice", Reason: "INC-7 <hotfix> & rollback", Since: at.Add(-30 * time.Minute), ExpiresAt: at.Add(time.Hour)}
	prod := policy.Override{Env: "prod", By: "alice", Reason: "mistake", Since: at.Add(-20 * time.Minute), ExpiresAt: at.Add(time.Hour)}
	entry := func(seq int64, t time.Time, action string, o policy.Override) audit.Entry {
		return audit.Entry{Seq: seq, Time: t, Principal: "alice", Auth: "token", Action: action, Target: "/api/v1/gate/override", Outcome: audit.OutcomeOK, Status: 200, Detail: policy.OverrideAuditDetail(o)}
	}
	if err := w.AppendAudit(
		entry(1, dev.Since, "gate.override", dev),
		entry(2, prod.Since, "gate.override", prod),
		entry(3, prod.Since.Add(time.Minute), "gate.override.withdraw", prod),
		// A refused attempt changes nothing.
		audit.Entry{Seq: 4, Time: prod.Since.Add(2 * time.Minute), Principal: "bob", Action: "gate.override", Outcome: audit.OutcomeDenied, Status: 403, Detail: "forbidden"},
	); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	gate := func(env string, now time.Time) (int, policy.GateAnswer) {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{"--config.file", cfg, "--history", root, "gate", "--env", env, "--format", "json"}, &out, &errb, func() time.Time { return now })
		var a policy.GateAnswer
		if err := json.Unmarshal(out.Bytes(), &a); err != nil {
			t.Fatalf("gate output is not JSON: %v\n%s%s", err, out.String(), errb.String())
		}
		return code, a
	}
	code, a := gate("dev", at)
	if code != exitAllow || !a.Allow || a.Override == nil || a.Override.Reason != dev.Reason || a.Override.By != "alice" || len(a.Reasons) == 0 {
		t.Errorf("dev under an override: exit %d, %+v", code, a)
	}
	if code, a := gate("prod", at); code != exitDeny || a.Override != nil {
		t.Errorf("prod after its override was withdrawn: exit %d, %+v", code, a)
	}
	if code, a := gate("dev", at.Add(time.Hour)); code != exitDeny || a.Override != nil {
		t.Errorf("dev once its override expired: exit %d, %+v", code, a)
	}
	var out, errb bytes.Buffer
	code = run(context.Background(), []string{"--history", root, "sql", "--format", "csv", "SELECT seq, principal, action, outcome FROM audit ORDER BY seq"}, &out, &errb, func() time.Time { return at })
	want := "seq,principal,action,outcome\n1,alice,gate.override,ok\n2,alice,gate.override,ok\n3,alice,gate.override.withdraw,ok\n4,bob,gate.override,denied\n"
	if code != 0 || out.String() != want {
		t.Errorf("analyze sql over the audit view: exit %d\n%s%s\nwant\n%s", code, out.String(), errb.String(), want)
	}
}
