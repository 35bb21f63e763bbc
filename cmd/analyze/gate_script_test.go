package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/testutil"
)

// TestGitLabGateScript runs examples/gate/restorable-gate.sh, the script
// the GitLab example runs on a stock image, against a fake exporter and a
// fake Alertmanager: deploy on exit 0 only, 1 when the gate is closed, 2
// when there is no answer.
func TestGitLabGateScript(t *testing.T) {
	sh := testutil.Program(t, "sh")
	testutil.Program(t, "curl")
	testutil.Program(t, "jq")
	script, err := filepath.Abs(filepath.Join("..", "..", "examples", "gate", "restorable-gate.sh"))
	if err != nil {
		t.Fatal(err)
	}

	open := `{"env":"prod","allow":true,"reasons":[],"evaluated_at":"2026-11-25T20:44:06Z"}`
	closed := `{"env":"prod","allow":false,"reasons":[{"check":"rpo","severity":"critical","subject":"pg/orders","detail":"newest backup 5h old"}]}`
	exporter := func(code int, body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/gate" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	alertmanager := func(body string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v2/alerts" || r.URL.Query().Get("filter") != `gate="deploy"` || r.URL.Query().Get("silenced") != "false" {
				http.Error(w, "unexpected request "+r.URL.String(), http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s
	}
	gone := httptest.NewServer(http.NotFoundHandler())
	goneURL := gone.URL
	gone.Close()

	alert := func(env string) string {
		labels := `"alertname":"RestorableBackupStale","gate":"deploy","severity":"critical"`
		if env != "" {
			labels += `,"env":"` + env + `"`
		}
		return `[{"labels":{` + labels + `},"annotations":{"summary":"orders backup stale"},"startsAt":"2026-11-25T20:00:00Z","status":{"silencedBy":[]}}]`
	}
	unset := "\x00unset"
	for _, tc := range []struct {
		name         string
		exporter     string
		alertmanager string
		args         []string
		code         int
		out          string
	}{
		{name: "open", exporter: exporter(200, open).URL, args: []string{"prod", "v2.10.0"}, code: 0, out: "open for prod (v2.10.0)"},
		{name: "closed", exporter: exporter(200, closed).URL, args: []string{"prod"}, code: 1, out: "closed by rpo (critical) pg/orders: newest backup 5h old"},
		{name: "unknown environment", exporter: exporter(400, `{"error":"unknown environment \"qa\""}`).URL, args: []string{"qa"}, code: 2, out: `answered HTTP 400: {"error":"unknown environment \"qa\""}`},
		{name: "exporter unreachable", exporter: goneURL, args: []string{"prod"}, code: 2, out: "cannot reach " + goneURL + "/api/v1/gate (curl exit 7)"},
		{name: "not a gate answer", exporter: exporter(200, `<html>login</html>`).URL, args: []string{"prod"}, code: 2, out: "not a gate answer"},
		{name: "answer without allow", exporter: exporter(200, `{"env":"prod"}`).URL, args: []string{"prod"}, code: 2, out: "not a gate answer"},
		{name: "RESTORABLE_URL unset", exporter: unset, args: []string{"prod"}, code: 2, out: "RESTORABLE_URL is unset or empty"},
		{name: "RESTORABLE_URL empty", exporter: "", args: []string{"prod"}, code: 2, out: "RESTORABLE_URL is unset or empty"},
		{name: "no environment", exporter: exporter(200, open).URL, code: 2, out: "usage:"},
		{name: "ALERTMANAGER_URL empty", exporter: exporter(200, open).URL, alertmanager: "", args: []string{"prod"}, code: 2, out: "ALERTMANAGER_URL is set but empty"},
		{name: "alert for the env", exporter: exporter(200, open).URL, alertmanager: alertmanager(alert("prod")).URL, args: []string{"prod"}, code: 1, out: "closed by alert:RestorableBackupStale (critical): orders backup stale"},
		{name: "alert without env", exporter: exporter(200, open).URL, alertmanager: alertmanager(alert("")).URL, args: []string{"prod"}, code: 1, out: "closed by alert:RestorableBackupStale"},
		{name: "alert for another env", exporter: exporter(200, open).URL, alertmanager: alertmanager(alert("staging")).URL, args: []string{"prod"}, code: 0, out: "open for prod"},
		{name: "Alertmanager unreachable", exporter: exporter(200, open).URL, alertmanager: goneURL, args: []string{"prod"}, code: 2, out: "cannot reach " + goneURL + "/api/v2/alerts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, sh, append([]string{script}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GATE_TIMEOUT=10"}
			if tc.exporter != unset {
				cmd.Env = append(cmd.Env, "RESTORABLE_URL="+tc.exporter)
			}
			if tc.alertmanager != "" || strings.Contains(tc.name, "ALERTMANAGER_URL") {
				cmd.Env = append(cmd.Env, "ALERTMANAGER_URL="+tc.alertmanager)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Errorf("exit %d, want %d; output lacks %q:\n%s", code, tc.code, tc.out, out.String())
			}
			if tc.code != 2 {
				if data, err := os.ReadFile(filepath.Join(dir, "gate.json")); err != nil || !strings.Contains(string(data), `"allow"`) {
					t.Errorf("gate.json not kept: %v %s", err, data)
				}
			}
		})
	}
	// The environment, release and dataset reach the exporter as query
	// parameters, also when RESTORABLE_URL ends in a slash.
	queries := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.Path + "?" + r.URL.RawQuery
		_, _ = w.Write([]byte(open))
	}))
	defer srv.Close()
	cmd := exec.Command(sh, script, "prod", "v2.10.0", "orders")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "RESTORABLE_URL=" + srv.URL + "/"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := <-queries; got != "/api/v1/gate?env=prod&release=v2.10.0&dataset=orders" {
		t.Errorf("asked %q", got)
	}
}

// TestGateRefusesEmptyAlertmanager: an unset variable in
// `--alertmanager "$ALERTMANAGER_URL"` must not skip the check in silence.
func TestGateRefusesEmptyAlertmanager(t *testing.T) {
	for _, args := range [][]string{
		{"--alertmanager", ""},
		{"--alertmanager="},
		{"--alertmanager", "alertmanager:9093"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"gate", "--env", "prod", "--exporter", "http://127.0.0.1:1"}, args...), &out, &errb, time.Now)
		if code != exitError || !strings.Contains(errb.String(), "--alertmanager") {
			t.Errorf("%q: exit %d: %s", args, code, errb.String())
		}
	}
}

// An unset variable in `--exporter "$RESTORABLE_URL"` must not turn the
// gate into an evaluation of whatever history the runner has.
func TestGateRefusesEmptyExporter(t *testing.T) {
	for _, args := range [][]string{{"--exporter", ""}, {"--exporter="}, {"--exporter", "exporter:10060"}} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"gate", "--env", "prod"}, args...), &out, &errb, time.Now)
		if code != exitError || !strings.Contains(errb.String(), "--exporter") {
			t.Errorf("%q: exit %d: %s", args, code, errb.String())
		}
	}
}
