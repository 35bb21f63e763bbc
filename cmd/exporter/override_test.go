package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/access"
	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/server"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	rmToken     = "release-manager-token-91ac"
	onCallToken = "on-call-token-4d2e"
)

// overrideEnv is an exporter (app, access policy, audit log and HTTP
// routes) over an estate whose prod gate is closed: its only backup is 5h
// old and prod's RPO is 1h.
type overrideEnv struct {
	t     *testing.T
	dir   string
	cfg   string
	clock *testClock
	app   *app
	audit *audit.Log
	srv   *httptest.Server
	// cancel stops the app's background work.
	cancel context.CancelFunc
}

func newOverrideEnv(t *testing.T) *overrideEnv {
	t.Helper()
	dir := t.TempDir()
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	start, end := clock.Now().Add(-6*time.Hour).Format(time.RFC3339), clock.Now().Add(-5*time.Hour).Format(time.RFC3339)
	manifest := `{"dataset":"orders","id":"b1","type":"full","release":"v1","start":"` + start + `","end":"` + end + `","status":"succeeded"}` + "\n"
	if err := os.WriteFile(filepath.Join(manifests, "b.ndjson"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"rm.sha256": rmToken, "oncall.sha256": onCallToken} {
		sum := sha256.Sum256([]byte(token))
		if err := os.WriteFile(filepath.Join(dir, name), []byte(hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments:
  prod: {rpo: 1h}
  dev: {rpo: 1h}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, manifest: {dir: manifests}}
  - {name: ci-dev, type: manifest, env: dev, interval: 1h, manifest: {dir: manifests}}
history:
  root: history
access:
  principals:
    - {name: rm, roles: [release-manager], token_sha256_file: rm.sha256}
    - {name: oncall, roles: [on-call], token_sha256_file: oncall.sha256}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	e := &overrideEnv{t: t, dir: dir, cfg: cfg, clock: clock}
	e.start()
	t.Cleanup(e.stop)
	return e
}

// start starts the exporter over the same files, as a restart does.
func (e *overrideEnv) start() {
	t := e.t
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, _, err := audit.Open(filepath.Join(e.dir, "history", "audit", "audit.log"), e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, appOptions{
		ConfigFile: e.cfg, Logger: logger, Now: e.clock.Now, Registry: prometheus.NewRegistry(),
		OverridesFile: filepath.Join(e.dir, "history", "audit", OverridesFileName),
	})
	if err != nil {
		t.Fatal(err)
	}
	a.exportAudit(l)
	a.mu.Lock()
	pol, err := access.New(a.cfg.Access, "")
	a.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	h, err := server.New(server.Options{
		Logger: logger, Gatherer: a.Gatherer(), TelemetryPath: "/metrics", Ready: a.store.Ready,
		Reload: a.Reload, Gate: a.handleGate, GateOverride: a,
		Access: func() *access.Policy { return pol }, Audit: l,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.app, e.audit, e.srv = a, l, httptest.NewServer(h)
	deadline := time.Now().Add(10 * time.Second)
	for !a.store.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("the sources were not collected within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.cancel = cancel
}

func (e *overrideEnv) stop() {
	if e.srv == nil {
		return
	}
	e.srv.Close()
	e.app.Close()
	e.cancel()
	if err := e.audit.Close(); err != nil {
		e.t.Error(err)
	}
	e.srv = nil
}

// do sends a request with token (none when empty) and returns the status
// and body.
func (e *overrideEnv) do(method, path, token, body string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func (e *overrideEnv) gate(query string) policy.GateAnswer {
	e.t.Helper()
	code, body := e.do("GET", "/api/v1/gate?"+query, "", "")
	if code != http.StatusOK {
		e.t.Fatalf("GET gate?%s: %d %s", query, code, body)
	}
	var ans policy.GateAnswer
	if err := json.Unmarshal([]byte(body), &ans); err != nil {
		e.t.Fatalf("gate answer: %v: %s", err, body)
	}
	return ans
}

// metrics returns the value of every series of the gate gauge and the
// override expiry, keyed by name and labels.
func (e *overrideEnv) metrics() map[string]float64 {
	e.t.Helper()
	mfs, err := e.app.Gatherer().Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if n := mf.GetName(); n != "restorable_deploy_gate_open" && n != "restorable_deploy_gate_override_expiry_timestamp_seconds" {
			continue
		}
		for _, m := range mf.Metric {
			key := mf.GetName()
			for _, l := range m.Label {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

func TestGateOverrideNeedsPermissionAndValidInput(t *testing.T) {
	e := newOverrideEnv(t)
	good := `{"env":"prod","reason":"INC-42 hotfix","expires_in":"2h"}`
	cases := []struct {
		name, token, body string
		code              int
		want              string
	}{
		{"anonymous", "", good, 401, "needs the permission gate:override"},
		{"on-call lacks the permission", onCallToken, good, 403, "lacks the permission gate:override"},
		{"no reason", rmToken, `{"env":"prod","expires_in":"2h"}`, 400, "reason:"},
		{"blank reason", rmToken, `{"env":"prod","reason":"  ","expires_in":"2h"}`, 400, "reason:"},
		{"reason too long", rmToken, `{"env":"prod","reason":"` + strings.Repeat("x", policy.MaxOverrideReasonLength+1) + `","expires_in":"2h"}`, 400, "reason:"},
		{"no expiry", rmToken, `{"env":"prod","reason":"r"}`, 400, "expires_in:"},
		{"expiry too far", rmToken, `{"env":"prod","reason":"r","expires_in":"25h"}`, 400, "expires_in:"},
		{"negative expiry", rmToken, `{"env":"prod","reason":"r","expires_in":"-1h"}`, 400, "expires_in:"},
		{"bad duration", rmToken, `{"env":"prod","reason":"r","expires_in":"soon"}`, 400, "expires_in:"},
		{"expires_at in the past", rmToken, `{"env":"prod","reason":"r","expires_at":"` + e.clock.Now().Add(-time.Hour).Format(time.RFC3339) + `"}`, 400, "expires_at:"},
		{"expires_at too far", rmToken, `{"env":"prod","reason":"r","expires_at":"` + e.clock.Now().Add(48*time.Hour).Format(time.RFC3339) + `"}`, 400, "expires_at:"},
		{"both expiries", rmToken, `{"env":"prod","reason":"r","expires_in":"1h","expires_at":"` + e.clock.Now().Add(time.Hour).Format(time.RFC3339) + `"}`, 400, "not both"},
		{"no env", rmToken, `{"reason":"r","expires_in":"1h"}`, 400, "env:"},
		{"unknown env", rmToken, `{"env":"staging","reason":"r","expires_in":"1h"}`, 400, "env: unknown environment"},
		{"unknown field", rmToken, `{"env":"prod","reason":"r","expires_in":"1h","force":true}`, 400, "body:"},
	}
	for _, c := range cases {
		code, body := e.do("POST", "/api/v1/gate/override", c.token, c.body)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, code, body, c.code, c.want)
		}
	}
	if ans := e.gate("env=prod"); ans.Allow || ans.Override != nil {
		t.Errorf("after refused overrides the gate is %+v, want closed and not overridden", ans)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "history", "audit", OverridesFileName)); err == nil {
		t.Error("a refused override was written to the overrides file")
	}
	code, _ := e.do("DELETE", "/api/v1/gate/override?env=prod", onCallToken, "")
	if code != http.StatusForbidden {
		t.Errorf("on-call withdrawing: %d, want 403", code)
	}
}

func TestGateOverrideOverrulesTheGateUntilItExpires(t *testing.T) {
	e := newOverrideEnv(t)
	before := e.gate("env=prod")
	if before.Allow || len(before.Reasons) == 0 {
		t.Fatalf("the fixture's prod gate should be closed: %+v", before)
	}
	if m := e.metrics(); m["restorable_deploy_gate_open env=prod"] != 0 || len(m) != 2 {
		t.Fatalf("before the override: %v", m)
	}

	code, body := e.do("POST", "/api/v1/gate/override", rmToken, `{"env":"prod","reason":"INC-42 hotfix","expires_in":"2h"}`)
	if code != http.StatusOK {
		t.Fatalf("override: %d %s", code, body)
	}
	expires := e.clock.Now().Add(2 * time.Hour)
	check := func(ans policy.GateAnswer) {
		t.Helper()
		if !ans.Allow || ans.Override == nil {
			t.Fatalf("overridden gate: %+v, want allow with an override", ans)
		}
		if o := ans.Override; o.By != "rm" || o.Reason != "INC-42 hotfix" || !o.ExpiresAt.Equal(expires) || o.Since.After(e.clock.Now()) {
			t.Errorf("override %+v, want by rm, reason INC-42 hotfix, expiring at %s", o, expires)
		}
		if len(ans.Reasons) != len(before.Reasons) || ans.Reasons[0] != before.Reasons[0] {
			t.Errorf("reasons %+v, want the denial's %+v still listed", ans.Reasons, before.Reasons)
		}
	}
	var posted policy.GateAnswer
	if err := json.Unmarshal([]byte(body), &posted); err != nil {
		t.Fatal(err)
	}
	check(posted)
	check(e.gate("env=prod"))
	check(e.gate("env=prod&dataset=orders"))
	if ans := e.gate("env=dev"); ans.Allow || ans.Override != nil {
		t.Errorf("dev is not overridden but answers %+v", ans)
	}
	m := e.metrics()
	if m["restorable_deploy_gate_open env=prod"] != 1 || m["restorable_deploy_gate_open env=dev"] != 0 {
		t.Errorf("gauge while prod is overridden: %v", m)
	}
	if got := m["restorable_deploy_gate_override_expiry_timestamp_seconds dataset= env=prod"]; got != float64(expires.Unix()) {
		t.Errorf("override expiry metric %v, want %d (all: %v)", got, expires.Unix(), m)
	}
	// The findings stay: only the verdict is overruled.
	_, res, _ := e.app.result()
	if len(res.Findings) == 0 {
		t.Error("an override removed the findings")
	}

	e.clock.Add(2*time.Hour - time.Second)
	if ans := e.gate("env=prod"); !ans.Allow {
		t.Errorf("a second before expiry: %+v", ans)
	}
	e.clock.Add(time.Second)
	if ans := e.gate("env=prod"); ans.Allow || ans.Override != nil || len(ans.Reasons) == 0 {
		t.Errorf("at expiry the gate is %+v, want closed with its reasons and no override", ans)
	}
	m = e.metrics()
	if m["restorable_deploy_gate_open env=prod"] != 0 || len(m) != 2 {
		t.Errorf("metrics after expiry: %v, want the gauge 0 and no expiry series", m)
	}
}

func TestGateOverrideOfADatasetOnly(t *testing.T) {
	e := newOverrideEnv(t)
	code, body := e.do("POST", "/api/v1/gate/override", rmToken, `{"env":"prod","dataset":"orders","reason":"orders migration","expires_at":"`+e.clock.Now().Add(time.Hour).Format(time.RFC3339)+`"}`)
	if code != http.StatusOK {
		t.Fatalf("override: %d %s", code, body)
	}
	if ans := e.gate("env=prod&dataset=orders"); !ans.Allow || ans.Override == nil || ans.Override.Dataset != "orders" {
		t.Errorf("the overridden dataset: %+v", ans)
	}
	if ans := e.gate("env=prod"); ans.Allow {
		t.Errorf("a dataset's override opened the whole environment: %+v", ans)
	}
	m := e.metrics()
	if m["restorable_deploy_gate_open env=prod"] != 0 || m["restorable_deploy_gate_override_expiry_timestamp_seconds dataset=orders env=prod"] == 0 {
		t.Errorf("metrics with a dataset override: %v", m)
	}
}

func TestGateOverrideSurvivesARestartAndIsWithdrawn(t *testing.T) {
	e := newOverrideEnv(t)
	if code, body := e.do("POST", "/api/v1/gate/override", rmToken, `{"env":"prod","reason":"INC-42 hotfix","expires_in":"1h"}`); code != http.StatusOK {
		t.Fatalf("override: %d %s", code, body)
	}
	if code, body := e.do("POST", "/api/v1/gate/override", rmToken, `{"env":"dev","reason":"short one","expires_in":"10m"}`); code != http.StatusOK {
		t.Fatalf("override: %d %s", code, body)
	}
	e.stop()
	e.clock.Add(30 * time.Minute)
	e.start()
	if ans := e.gate("env=prod"); !ans.Allow || ans.Override == nil || ans.Override.Reason != "INC-42 hotfix" {
		t.Fatalf("after a restart: %+v, want prod still overridden", ans)
	}
	if ans := e.gate("env=dev"); ans.Allow || ans.Override != nil {
		t.Errorf("an override that expired while the exporter was down: %+v", ans)
	}

	code, body := e.do("DELETE", "/api/v1/gate/override?env=prod", rmToken, "")
	if code != http.StatusOK {
		t.Fatalf("withdraw: %d %s", code, body)
	}
	if ans := e.gate("env=prod"); ans.Allow || ans.Override != nil {
		t.Errorf("after withdrawing: %+v", ans)
	}
	if code, body := e.do("DELETE", "/api/v1/gate/override?env=prod", rmToken, ""); code != http.StatusNotFound {
		t.Errorf("withdrawing twice: %d %s, want 404", code, body)
	}
	// The file holds neither the withdrawn nor the expired override, and a
	// restart brings neither back.
	data, err := os.ReadFile(filepath.Join(e.dir, "history", "audit", OverridesFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "INC-42") || strings.Contains(string(data), "short one") {
		t.Errorf("the overrides file keeps a withdrawn or expired override:\n%s", data)
	}
	e.stop()
	e.start()
	if ans := e.gate("env=prod"); ans.Allow {
		t.Errorf("a withdrawn override came back after a restart: %+v", ans)
	}

	log, err := os.ReadFile(filepath.Join(e.dir, "history", "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"principal":"rm","auth":"token","remote":"127.0.0.1","action":"gate.override","target":"/api/v1/gate/override","outcome":"allowed"`,
		`"principal":"rm","auth":"token","remote":"127.0.0.1","action":"gate.override","target":"/api/v1/gate/override","outcome":"ok","status":200,"detail":"{\"env\":\"prod\",\"by\":\"rm\",\"reason\":\"INC-42 hotfix\",\"since\":`,
		`\"expires_at\":\"` + e.clock.Now().Add(-30*time.Minute).Add(time.Hour).UTC().Format(time.RFC3339) + `\"}"`,
		`"action":"gate.override.withdraw","target":"env=prod","outcome":"ok","status":200,"detail":"{\"env\":\"prod\",\"by\":\"rm\",\"reason\":\"INC-42 hotfix\"`,
		`"action":"gate.override.withdraw","target":"env=prod","outcome":"failed","status":404`,
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("audit log lacks %s\n%s", want, log)
		}
	}
	if strings.Contains(string(log), rmToken) {
		t.Error("a bearer token reached the audit log")
	}
}

// auditRows reads the audit table of the history under dir.
func auditRows(t *testing.T, dir string) []history.AuditRow {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "history", history.TableAudit, "dt=*", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var out []history.AuditRow
	for _, f := range files {
		rows, err := parquet.ReadFile[history.AuditRow](f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

// Every audit entry reaches the history's audit table (batched, flushed at
// the latest when the exporter stops); a history that cannot be written
// fails no request and is counted.
func TestAuditEntriesCopiedToHistory(t *testing.T) {
	e := newOverrideEnv(t)
	if code, body := e.do("POST", "/api/v1/gate/override", rmToken, `{"env":"prod","reason":"INC-42 hotfix","expires_in":"1h"}`); code != http.StatusOK {
		t.Fatalf("override: %d %s", code, body)
	}
	if code, _ := e.do("POST", "/api/v1/gate/override", onCallToken, `{"env":"prod","reason":"x","expires_in":"1h"}`); code != http.StatusForbidden {
		t.Fatalf("on-call override: %d", code)
	}
	entries := e.audit.Entries()
	e.stop()
	rows := auditRows(t, e.dir)
	if int64(len(rows)) != entries {
		t.Fatalf("%d audit rows in history, %d entries in the log", len(rows), entries)
	}
	var sawOverride, sawDenied bool
	for _, r := range rows {
		if r.Action == "gate.override" && r.Outcome == audit.OutcomeOK && r.Principal == "rm" && r.Status == 200 && strings.Contains(r.Detail, `"reason":"INC-42 hotfix"`) {
			sawOverride = true
		}
		if r.Outcome == audit.OutcomeDenied && r.Principal == "oncall" && r.Status == 403 {
			sawDenied = true
		}
	}
	if !sawOverride || !sawDenied {
		t.Errorf("audit rows lack the override (%v) or the refusal (%v): %+v", sawOverride, sawDenied, rows)
	}

	e.start()
	before := historyErrors(t, e.app)
	if err := e.app.history.Close(); err != nil {
		t.Fatal(err)
	}
	if code, body := e.do("DELETE", "/api/v1/gate/override?env=prod", rmToken, ""); code != http.StatusOK {
		t.Fatalf("withdraw with the history closed: %d %s, want the request to succeed", code, body)
	}
	e.app.audits.Close()
	e.app.audits = nil
	if after := historyErrors(t, e.app); after <= before {
		t.Errorf("restorable_history_write_errors_total %v before, %v after a failed copy", before, after)
	}
}

func historyErrors(t *testing.T, a *app) float64 {
	t.Helper()
	mfs, err := a.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "restorable_history_write_errors_total" {
			return mf.Metric[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no restorable_history_write_errors_total")
	return 0
}
