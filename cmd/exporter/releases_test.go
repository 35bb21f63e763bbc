package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/testutil"
)

// releaseApp starts an exporter over one manifest source of prod's orders
// (three releases, the newest backup 10 minutes old) with history, and a
// probe that validates deploys of orders; it waits for the first
// collection.
func releaseApp(t *testing.T, dir string) *app { return releaseAppAt(t, dir, time.Now) }

// releaseAppAt is releaseApp on the given clock.
func releaseAppAt(t *testing.T, dir string, clock func() time.Time) *app {
	t.Helper()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	now := clock().UTC()
	var lines string
	for i, r := range []string{"v1", "v2", "v3"} {
		end := now.Add(-time.Duration(3-i) * 10 * time.Minute)
		lines += `{"dataset":"orders","id":"b` + r + `","type":"full","release":"` + r + `","start":"` + end.Add(-time.Minute).Format(time.RFC3339) +
			`","end":"` + end.Format(time.RFC3339) + `","status":"succeeded","checksum":"` + checksumOf(r) + `","location":"s3://bk/` + r + `"}` + "\n"
	}
	if err := os.WriteFile(filepath.Join(manifests, "b.ndjson"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments:
  prod: {rpo: 1h, retention: {releases: 3}}
  staging: {rpo: 24h}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, manifest: {dir: manifests}}
probes:
  - {name: orders-check, kind: command, env: prod, dataset: orders, on_deploy: {}, options: {command: ["true"]}}
probing: {state_dir: probes}
history: {root: history}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, appOptions{ConfigFile: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock, Registry: prometheus.NewRegistry()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); a.Close() })
	deadline := time.Now().Add(time.Minute)
	for !a.store.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the source was never collected")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return a
}

// checksumOf is the checksum the fixture gives the backup of release r.
func checksumOf(r string) string { return "md5:" + strings.Repeat(r[1:], 32) }

func gateAnswer(t *testing.T, a *app, query string) policy.GateAnswer {
	t.Helper()
	rec := httptest.NewRecorder()
	a.handleGate(rec, httptest.NewRequest("GET", "/api/v1/gate?"+query, nil))
	var ans policy.GateAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("gate answer: %v: %s", err, rec.Body.String())
	}
	return ans
}

// metric returns the value of the series of name whose labels include
// want, and whether it exists.
func metric(t *testing.T, a *app, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := a.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			got := map[string]string{}
			for _, l := range m.Label {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.GetGauge().GetValue()
}

func releaseEvent(id string, kind model.EventKind, release string, at time.Time) model.Event {
	return model.Event{ID: id, Sender: "generic", Kind: kind, Env: "prod", Dataset: "orders", Release: release,
		Result: model.ResultSucceeded, Time: at, Received: at}
}

// A rollback storm handed over by the journal freezes prod's orders at
// once on every gate path of the exporter (the API, the gate gauge, the
// finding metrics); a replay of the same events changes nothing, neither
// the counters nor the history; a freeze_ack with actor and reason
// reopens the gate.
func TestRollbackStormFreezesEveryGatePath(t *testing.T) {
	dir := t.TempDir()
	a := releaseApp(t, dir)
	if ans := gateAnswer(t, a, "env=prod"); !ans.Allow {
		t.Fatalf("prod denied before any event: %+v", ans.Reasons)
	}
	now := time.Now().UTC()
	storm := []model.Event{
		releaseEvent("d1", model.EventDeploy, "v4", now.Add(-4*time.Minute)),
		releaseEvent("r1", model.EventRollback, "v3", now.Add(-3*time.Minute)),
		releaseEvent("d2", model.EventDeploy, "v4", now.Add(-2*time.Minute)),
		releaseEvent("r2", model.EventRollback, "v3", now.Add(-time.Minute)),
	}
	a.eventsCommitted(storm)

	frozen := func() {
		t.Helper()
		ans := gateAnswer(t, a, "env=prod&dataset=orders")
		if ans.Allow || len(ans.Reasons) == 0 || ans.Reasons[0].Check != policy.CheckFreeze {
			t.Errorf("gate API after the storm: allow %v %+v", ans.Allow, ans.Reasons)
		}
		if v, ok := metric(t, a, "restorable_deploy_gate_open", map[string]string{"env": "prod"}); !ok || v != 0 {
			t.Errorf("restorable_deploy_gate_open{env=prod} = %v (present %v), want 0", v, ok)
		}
		if v, ok := metric(t, a, "restorable_policy_finding", map[string]string{"check": policy.CheckFreeze, "env": "prod", "dataset": "orders", "severity": "critical"}); !ok || v != 1 {
			t.Errorf("freeze finding metric = %v (present %v), want 1", v, ok)
		}
		if v, _ := metric(t, a, "restorable_release_consecutive_rollbacks", map[string]string{"env": "prod", "dataset": "orders"}); v != 2 {
			t.Errorf("consecutive rollbacks = %v, want 2", v)
		}
		if v, _ := metric(t, a, "restorable_release_rollbacks_total", map[string]string{"env": "prod", "dataset": "orders", "result": "succeeded"}); v != 2 {
			t.Errorf("rollbacks counter = %v, want 2", v)
		}
		if v, _ := metric(t, a, "restorable_release_deployments_total", map[string]string{"env": "prod", "dataset": "orders", "result": "succeeded"}); v != 2 {
			t.Errorf("deployments counter = %v, want 2", v)
		}
		if v, _ := metric(t, a, "restorable_release_recent_rollbacks", map[string]string{"env": "prod", "dataset": "orders", "window": "7d"}); v != 2 {
			t.Errorf("rollbacks in 7d = %v, want 2", v)
		}
		if v, ok := metric(t, a, "restorable_release_last_deploy_to_rollback_seconds", map[string]string{"env": "prod", "dataset": "orders"}); !ok || v != 60 {
			t.Errorf("deploy to rollback = %v (present %v), want 60", v, ok)
		}
	}
	frozen()
	// The gate of another environment stays open.
	if ans := gateAnswer(t, a, "env=staging"); slicesHasCheck(ans.Reasons, policy.CheckFreeze) {
		t.Errorf("staging frozen by prod's rollbacks: %+v", ans.Reasons)
	}

	// The journal replayed (as at a start, or a duplicate hand-over):
	// nothing changes, and the history keeps one row per event.
	a.eventsCommitted(storm)
	a.eventsCommitted(append(storm[2:], storm[:2]...))
	frozen()
	a.flushEvents() // what flushEventsLoop does as soon as events arrive
	rows, err := a.history.Events()
	if err != nil || len(rows) != len(storm) {
		t.Fatalf("events table: %d rows (%v), want %d", len(rows), err, len(storm))
	}

	// An acknowledgement without a reason is ignored; with one the gate
	// reopens on every path.
	noReason := releaseEvent("a0", model.EventFreezeAck, "", time.Now().UTC())
	noReason.Actor = "alice"
	a.eventsCommitted([]model.Event{noReason})
	frozen()
	ack := releaseEvent("a1", model.EventFreezeAck, "", time.Now().UTC())
	ack.Actor, ack.Reason = "alice", "reviewed the backup process of v4"
	a.eventsCommitted([]model.Event{ack})
	if ans := gateAnswer(t, a, "env=prod&dataset=orders"); !ans.Allow {
		t.Errorf("gate still denies after the ack: %+v", ans.Reasons)
	}
	if v, _ := metric(t, a, "restorable_deploy_gate_open", map[string]string{"env": "prod"}); v != 1 {
		t.Errorf("gate gauge = %v after the ack, want 1", v)
	}
	if _, ok := metric(t, a, "restorable_policy_finding", map[string]string{"check": policy.CheckFreeze}); ok {
		t.Error("freeze finding metric still present after the ack")
	}
	if v, _ := metric(t, a, "restorable_release_rollbacks_total", map[string]string{"env": "prod", "dataset": "orders", "result": "succeeded"}); v != 2 {
		t.Errorf("rollbacks counter = %v after the ack, want 2: counters never reset", v)
	}
}

func slicesHasCheck(rs []policy.GateReason, check string) bool {
	for _, r := range rs {
		if r.Check == check {
			return true
		}
	}
	return false
}

// The release list names, for each release, the backup a rollback to it
// restores; a deploy received after the start runs the on_deploy probe,
// one replayed from before the start does not.
func TestReleaseListAndDeployProbes(t *testing.T) {
	a := releaseApp(t, t.TempDir())
	old := releaseEvent("d0", model.EventDeploy, "v3", a.started.Add(-time.Hour))
	old.Received = a.started.Add(-time.Hour)
	pre := releaseEvent("p4", model.EventPreReleaseBackup, "v4", time.Now().UTC().Add(-time.Second))
	pre.BackupSource, pre.BackupID = "ci", "bv3"
	d4 := releaseEvent("d4", model.EventDeploy, "v4", time.Now().UTC())
	a.eventsCommitted([]model.Event{old, pre, d4})

	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/api/v1/releases/prod/orders", nil)
	req.SetPathValue("env", "prod")
	req.SetPathValue("dataset", "orders")
	a.handleReleases(rec, req)
	var got releasesAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, rec.Body.String())
	}
	if len(got.Releases) < 3 || got.Releases[0].Release != "v4" {
		t.Fatalf("releases %+v, want v4 first", got.Releases)
	}
	b := got.Releases[0].Backup
	if b == nil || b.ID != "bv3" || b.From != policy.BackupFromPreReleaseBackup || b.Checksum != checksumOf("v3") || b.Location != "s3://bk/v3" {
		t.Errorf("backup before v4: %+v, want bv3 from the pre-release backup with its checksum and location", b)
	}

	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/api/v1/releases/qa/orders", nil)
	req.SetPathValue("env", "qa")
	req.SetPathValue("dataset", "orders")
	a.handleReleases(rec, req)
	if rec.Code != 404 {
		t.Errorf("unknown env: %d", rec.Code)
	}

	// The probe ran once: for d4, not for the replayed d0.
	deadline := time.Now().Add(time.Minute)
	for {
		rec := httptest.NewRecorder()
		a.HandleList(rec, httptest.NewRequest("GET", "/api/v1/probes", nil))
		var list struct {
			Runs []struct {
				Trigger, State string
			} `json:"runs"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Runs) > 1 {
			t.Fatalf("%d runs for one new deploy: %+v", len(list.Runs), list.Runs)
		}
		if len(list.Runs) == 1 && list.Runs[0].State == "finished" {
			if list.Runs[0].Trigger != "deploy" {
				t.Errorf("trigger %s, want deploy", list.Runs[0].Trigger)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no deploy-triggered run finished: %+v", list.Runs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestGoldenReleaseMetrics compares the release metrics an exporter shows
// after a story of events (at a fixed clock) with
// testdata/releases-output.txt (go test -update refreshes it). The
// binary's golden output cannot show them before its events API feeds it;
// TestMetricsReference reads both files.
func TestGoldenReleaseMetrics(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	a := releaseAppAt(t, t.TempDir(), func() time.Time { return now })
	failed := releaseEvent("d0", model.EventDeploy, "v4", now.Add(-5*time.Hour))
	failed.Result = model.ResultFailed
	rb1 := releaseEvent("r1", model.EventRollback, "v3", now.Add(-3*time.Hour))
	rb1.Migration, rb1.BackupSource, rb1.BackupID = true, "ci", "bv3"
	a.eventsCommitted([]model.Event{
		failed,
		releaseEvent("d1", model.EventDeploy, "v4", now.Add(-4*time.Hour)),
		rb1,
		releaseEvent("d2", model.EventDeploy, "v4", now.Add(-2*time.Hour)),
		releaseEvent("m2", model.EventMigration, "v4", now.Add(-110*time.Minute)),
		releaseEvent("r2", model.EventRollback, "v3", now.Add(-90*time.Minute)),
		releaseEvent("r0", model.EventRollback, "v2", now.Add(-20*24*time.Hour)),
	})
	mfs, err := a.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "restorable_release_") {
			if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
				t.Fatal(err)
			}
		}
	}
	golden := "testdata/releases-output.txt"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("release metrics differ from %s (go test -run TestGoldenReleaseMetrics -update after an intended change):\n%s", golden, lineDiff(string(want), buf.String()))
	}
	lint := exec.Command(testutil.Program(t, "promtool"), "check", "metrics")
	lint.Stdin = bytes.NewReader(want)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics on %s: %v\n%s", golden, err, out)
	}
}
