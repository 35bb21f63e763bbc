package probe

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// fakeTimers lets a test fire schedules without waiting for them.
type fakeTimers struct {
	asked chan time.Duration
	fire  chan time.Time
}

func installFakeTimers(m *Manager) *fakeTimers {
	f := &fakeTimers{asked: make(chan time.Duration, 1), fire: make(chan time.Time)}
	m.after = func(d time.Duration) <-chan time.Time {
		f.asked <- d
		return f.fire
	}
	return f
}

func (f *fakeTimers) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-f.asked:
		return d
	case <-time.After(time.Minute):
		t.Fatal("the scheduler did not wait for its next run")
		return 0
	}
}

func artifactSetup(t *testing.T, yml string) (*config.Config, catalogs) {
	t.Helper()
	dir := t.TempDir()
	cfg := loadConfig(t, dir, yml)
	data := []byte("release bundle")
	b := artifactBackup(t, dir, "bundle.tar", data, "sha256:"+digest(sha256.New(), data))
	return cfg, catalogs{"releases": {Backups: []model.Backup{b}}}
}

func TestScheduledRunsFollowTheCronSpec(t *testing.T) {
	cfg, cats := artifactSetup(t, strings.Replace(artifactConfig, `"@every 1h"`, `"0 3 * * *"`, 1))
	h := newHarness(t, cfg, cats)
	timers := installFakeTimers(h.m)
	h.start(t)
	if d := timers.nextWait(t); d != 15*time.Hour {
		t.Fatalf("first wait %s, want 15h (12:00 until 03:00)", d)
	}
	h.clock.Set(time.Date(2026, 5, 2, 3, 0, 0, 0, time.UTC))
	timers.fire <- h.clock.Now()
	r := h.wait(t)
	if !r.Success || !r.Start.Equal(time.Date(2026, 5, 2, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("scheduled run: success %v at %s (%s)", r.Success, r.Start, r.Error)
	}
	if d := timers.nextWait(t); d != 24*time.Hour {
		t.Fatalf("next wait %s, want 24h", d)
	}
	if got := h.m.Latest(); len(got) != 1 || got[0].RunID != r.RunID {
		t.Fatalf("latest results %+v, want the scheduled run", got)
	}
	if ok := h.m.LastSuccess()["release-artifact"]; ok.RunID != r.RunID || !ok.Start.Equal(r.Start) {
		t.Errorf("last success %+v, want run %s at %s", ok, r.RunID, r.Start)
	}
}

const quietConfig = `
environments:
  prod:
    rpo: 1h
    quiet_windows: [{start: "0 12 * * *", duration: 1h}]
sources:
  - name: releases
    type: manifest
    env: prod
    manifest: {dir: manifests}
probes:
  - name: release-artifact
    kind: artifact
    source: releases
    schedule: "30 * * * *"
`

func TestQuietWindowBlocksScheduledAndOnDemandRuns(t *testing.T) {
	cfg, cats := artifactSetup(t, quietConfig)
	h := newHarness(t, cfg, cats)
	timers := installFakeTimers(h.m)
	h.start(t)
	srv := httptest.NewServer(routes(h.m))
	defer srv.Close()

	// 12:00 opens the window: an on-demand run is refused with the reason.
	resp, body := post(t, srv.URL+"/api/v1/probes/release-artifact/run")
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "quiet window until 2026-05-01T13:00:00Z") {
		t.Fatalf("run inside the quiet window answered %d %s", resp.StatusCode, body)
	}

	// The 12:30 schedule falls inside the window and is skipped.
	timers.nextWait(t)
	h.clock.Set(time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC))
	timers.fire <- h.clock.Now()
	timers.nextWait(t)
	h.m.mu.Lock()
	runs := len(h.m.runs)
	h.m.mu.Unlock()
	if runs != 0 {
		t.Fatalf("%d runs started inside the quiet window", runs)
	}

	// At 13:00 the window has closed.
	h.clock.Set(time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC))
	resp, body = post(t, srv.URL+"/api/v1/probes/release-artifact/run")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("run after the window answered %d %s", resp.StatusCode, body)
	}
	if r := h.wait(t); !r.Success {
		t.Fatalf("run after the window failed: %s", r.Error)
	}
}

func TestInWindow(t *testing.T) {
	w := config.QuietWindow{Start: "0 22 * * *", Duration: config.Duration(4 * time.Hour)}
	day := func(h, m int) time.Time { return time.Date(2026, 5, 1, h, m, 0, 0, time.UTC) }
	for _, tc := range []struct {
		at   time.Time
		in   bool
		till time.Time
	}{
		{day(21, 59), false, time.Time{}},
		{day(22, 0), true, day(26, 0)},
		{day(23, 30), true, day(26, 0)},
		{day(25, 59), true, day(26, 0)},
		{day(26, 0), false, time.Time{}},
		{day(12, 0), false, time.Time{}},
	} {
		till, in := inWindow(w, tc.at)
		if in != tc.in || !till.Equal(tc.till) {
			t.Errorf("at %s: in %v until %s, want %v until %s", tc.at, in, till, tc.in, tc.till)
		}
	}
}

// routes mirrors how internal/server registers the probe API.
func routes(m *Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/probes", m.HandleList)
	mux.HandleFunc("POST /api/v1/probes/{name}/run", m.HandleRun)
	mux.HandleFunc("GET /api/v1/probes/runs/{id}/log", m.HandleLog)
	return mux
}

func post(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestOnDemandRunThroughTheAPI(t *testing.T) {
	cfg, cats := artifactSetup(t, artifactConfig)
	h := newHarness(t, cfg, cats)
	installFakeTimers(h.m)
	h.start(t)
	srv := httptest.NewServer(routes(h.m))
	defer srv.Close()

	resp, body := post(t, srv.URL+"/api/v1/probes/release-artifact/run")
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("run answered %d %s", resp.StatusCode, body)
	}
	var started struct {
		RunID string `json:"run_id"`
		Log   string `json:"log"`
	}
	if err := json.Unmarshal([]byte(body), &started); err != nil || started.RunID == "" {
		t.Fatalf("run answer %s: %v", body, err)
	}
	r := h.wait(t)
	if r.RunID != started.RunID || !r.Success {
		t.Fatalf("result %+v is not the successful run %s", r, started.RunID)
	}

	_, body = get(t, srv.URL+"/api/v1/probes")
	var list listResponse
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatalf("list %s: %v", body, err)
	}
	if len(list.Probes) != 1 || list.Probes[0].Last == nil || list.Probes[0].Last.RunID != started.RunID {
		t.Fatalf("list does not show the run as the probe's last: %s", body)
	}
	if len(list.Runs) != 1 || list.Runs[0].State != StateFinished || list.Runs[0].Trigger != TriggerAPI || list.Runs[0].Result == nil {
		t.Fatalf("list of runs: %s", body)
	}

	resp, body = get(t, srv.URL+started.Log)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "probe run succeeded") || !strings.Contains(body, "bundle.tar") {
		t.Fatalf("log answered %d:\n%s", resp.StatusCode, body)
	}
	if _, err := os.Stat(filepath.Join(h.state, logsSubdir, started.RunID+logSuffix)); err != nil {
		t.Errorf("the run's log was not kept in the state directory: %v", err)
	}

	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/api/v1/probes/nope/run", http.StatusNotFound},
		{"GET", "/api/v1/probes/runs/20260501t120000_000000/log", http.StatusNotFound},
		{"GET", "/api/v1/probes/runs/..%2f..%2fetc%2fpasswd/log", http.StatusNotFound},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s answered %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
}

func TestSeedServesResultsFromHistory(t *testing.T) {
	cfg, cats := artifactSetup(t, artifactConfig)
	h := newHarness(t, cfg, cats)
	t0 := time.Date(2026, 4, 30, 3, 0, 0, 0, time.UTC)
	h.m.Seed([]model.ProbeResult{
		{RunID: "20260430t030000_aaaaaa", Probe: "release-artifact", Kind: KindArtifact, Start: t0, Success: false, Error: "boom"},
		{RunID: "20260429t030000_bbbbbb", Probe: "release-artifact", Kind: KindArtifact, Start: t0.Add(-24 * time.Hour), Success: true},
	})
	latest := h.m.Latest()
	if len(latest) != 1 || latest[0].RunID != "20260430t030000_aaaaaa" {
		t.Fatalf("latest after seeding: %+v", latest)
	}
	if ok := h.m.LastSuccess()["release-artifact"]; !ok.Start.Equal(t0.Add(-24 * time.Hour)) {
		t.Fatalf("last success after seeding: %+v", ok)
	}
}

func TestOptionsAreDecodedStrictly(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, probe, want string
	}{
		{"unknown option", "kind: artifact\n    source: releases\n    options: {base_dri: x}", `restorable.yml:12: probes[0] (p).options: unknown field "base_dri" (did you mean "base_dir"?)`},
		{"unknown kind", "kind: postgres\n    source: releases", `probes[0] (p).kind: "postgres" is not one of artifact, command, mysql-logical, pgbackrest, postgres-logical, restic`},
		{"password inline", "kind: postgres-logical\n    options: {sandbox: {dsn: 'postgres://u:secret@h/db'}, dump: /x.dump}", "sandbox.dsn: holds a password; put the DSN in dsn_file or dsn_env instead"},
		{"scratch name without prefix", "kind: postgres-logical\n    options: {sandbox: {dsn: 'host=h'}, dump: /x.dump, database: payments}", `database: "payments" must start with restorable_probe_`},
		{"sandbox is the source", "kind: postgres-logical\n    options: {sandbox: {dsn: 'postgres://u@127.0.0.1:5432/payments'}, dump_from: {dsn: 'host=localhost dbname=payments user=u'}}", "the sandbox resolves to the source's server and database payments"},
		{"command missing", "kind: command\n    options: {dir: /tmp}", "command: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yml := "environments:\n  prod: {rpo: 1h}\nsources:\n  - name: releases\n    type: manifest\n    env: prod\n    manifest: {dir: m}\nprobes:\n  - name: p\n    " + tc.probe + "\n"
			cfg := loadConfig(t, dir, yml)
			_, err := NewManager(cfg, catalogs{}, Options{StateDir: t.TempDir()})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
}

func TestCommandProbeReportsExitAndOutputTail(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"checking $RESTORABLE_PROBE run $RESTORABLE_RUN_ID\"\n[ \"$1\" = ok ] || { echo 'app did not come back' >&2; exit 3; }\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, `
environments:
  prod: {rpo: 1h}
probes:
  - {name: ok, kind: command, env: prod, options: {command: [./check.sh, ok]}}
  - {name: broken, kind: command, env: prod, options: {command: [./check.sh, no]}}
  - {name: slow, kind: command, env: prod, timeout: 1s, options: {command: [sleep, "60"]}}
`)
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	if r := h.run(t, "ok"); !r.Success || !strings.Contains(r.Details, "checking ok run "+r.RunID) {
		t.Errorf("ok: %+v", r)
	}
	if r := h.run(t, "broken"); r.Success || !strings.Contains(r.Error, "exit status 3") || !strings.Contains(r.Details, "app did not come back") {
		t.Errorf("broken: %+v", r)
	}
	if r := h.run(t, "slow"); r.Success || !strings.Contains(r.Error, "timed out after 1s") {
		t.Errorf("slow: %+v", r)
	}
}

// A manager stopped before it started (an exporter closing while a
// reload publishes it) starts nothing: no schedule is waited on.
func TestStartAfterStopRunsNothing(t *testing.T) {
	cfg, cats := artifactSetup(t, artifactConfig)
	h := newHarness(t, cfg, cats)
	timers := installFakeTimers(h.m)
	h.m.Stop()
	if err := h.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-timers.asked:
		t.Fatalf("a probe waits %s for its schedule after Stop", d)
	case r := <-h.results:
		t.Fatalf("probe ran after Stop: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
}
