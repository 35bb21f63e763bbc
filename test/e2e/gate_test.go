// Package e2e runs Restorable end to end with the real Prometheus and
// Alertmanager: the exporter on a manifest source, Prometheus scraping it
// with the repository's alert rules, Alertmanager receiving the alerts, and
// the deploy gate answering from all of them.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/testutil"
)

// repoRoot is the repository's top directory, seen from this package.
const repoRoot = "../.."

type process struct {
	name string
	cmd  *exec.Cmd
	logs *bytes.Buffer
}

func start(t *testing.T, name string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &process{name: name, cmd: cmd, logs: logs}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, lastLines(logs.String(), 40))
		}
	})
	return p
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func build(t *testing.T, pkg, out string, cgo bool) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), out)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = repoRoot
	cmd.Env = os.Environ()
	if !cgo {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	return bin
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close() //nolint:errcheck // test read
	body, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, body)
		}
	}
	return resp.StatusCode
}

// waitFor polls cond until it holds; the deadline only guards against a
// hang, the test never sleeps a fixed time.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func writeBackup(t *testing.T, dir string, id string, end time.Time) {
	t.Helper()
	rec := fmt.Sprintf(`{"dataset":"payments","id":%q,"type":"full","release":"v1.0","start":%q,"end":%q}`+"\n",
		id, end.Add(-time.Second).UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339))
	tmp := filepath.Join(dir, ".payments.ndjson.tmp")
	if err := os.WriteFile(tmp, []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "payments.ndjson")); err != nil {
		t.Fatal(err)
	}
}

type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// stack is an exporter, an Alertmanager and a Prometheus that scrapes the
// exporter with the repository's alert rules and sends to the
// Alertmanager.
type stack struct {
	dir, cfg                  string
	expAddr, amAddr, promAddr string
	analyze                   string
}

// startStack starts the three programs on configText (written to
// restorable.yml in dir) and waits until Prometheus scrapes the exporter
// and knows the Alertmanager.
func startStack(t *testing.T, dir, configText string) *stack {
	t.Helper()
	prometheus := testutil.Program(t, "prometheus")
	alertmanager := testutil.Program(t, "prometheus-alertmanager")
	exporterBin := build(t, "./cmd/exporter", "exporter", false)
	s := &stack{dir: dir, analyze: build(t, "./cmd/analyze", "analyze", true)}
	s.cfg = filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(s.cfg, []byte(configText), 0o644); err != nil {
		t.Fatal(err)
	}
	s.expAddr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	start(t, "exporter", exporterBin, "--config.file="+s.cfg, "--web.listen-address="+s.expAddr, "--history.root="+filepath.Join(dir, "history"))
	waitFor(t, "the exporter to be ready", time.Minute, func() bool { return getJSON(t, "http://"+s.expAddr+"/-/ready", nil) == 200 })

	s.amAddr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	amCfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(amCfg, []byte(`
route: {receiver: "null", group_by: [alertname, env], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: "null"}]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "alertmanager", alertmanager, "--config.file="+amCfg, "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address="+s.amAddr, "--cluster.listen-address=")

	rules, err := filepath.Abs(filepath.Join(repoRoot, "alerts", "restorable.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s.promAddr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	promCfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfg, []byte(fmt.Sprintf(`
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
alerting:
  alertmanagers: [{static_configs: [{targets: [%q]}]}]
scrape_configs:
  - job_name: restorable
    static_configs: [{targets: [%q]}]
`, rules, s.amAddr, s.expAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	start(t, "prometheus", prometheus, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		"--web.listen-address="+s.promAddr, "--rules.alert.resend-delay=1s")
	waitFor(t, "Prometheus to scrape the exporter", time.Minute, func() bool {
		var r struct {
			Data struct {
				ActiveTargets []struct{ Health string } `json:"activeTargets"`
			} `json:"data"`
		}
		getJSON(t, "http://"+s.promAddr+"/api/v1/targets", &r)
		return len(r.Data.ActiveTargets) == 1 && r.Data.ActiveTargets[0].Health == "up"
	})
	waitFor(t, "Prometheus to know the Alertmanager", time.Minute, func() bool {
		var r struct {
			Data struct {
				ActiveAlertmanagers []struct{ URL string } `json:"activeAlertmanagers"`
			} `json:"data"`
		}
		getJSON(t, "http://"+s.promAddr+"/api/v1/alertmanagers", &r)
		return len(r.Data.ActiveAlertmanagers) == 1
	})
	return s
}

// gate runs analyze gate for env with args and returns its exit code and
// output.
func (s *stack) gate(t *testing.T, env string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(s.analyze, append([]string{"gate", "--env", env}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// gateAlerts are the active alerts labelled gate="deploy" for env.
func (s *stack) gateAlerts(t *testing.T, env string) []amAlert {
	var alerts []amAlert
	getJSON(t, "http://"+s.amAddr+`/api/v2/alerts?active=true&filter=gate="deploy"&filter=env="`+env+`"`, &alerts)
	return alerts
}

// TestGateFollowsAlerts: a prod dataset breaches its RPO, the alert reaches
// Alertmanager, `analyze gate --alertmanager` denies with that reason, a
// fresh backup appears, the alert resolves and the gate allows again.
func TestGateFollowsAlerts(t *testing.T) {
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	// A backup that is fresh now and breaches the 30s RPO 30s later.
	writeBackup(t, manifests, "b1", time.Now())
	s := startStack(t, dir, `
environments:
  prod: {rpo: 30s, retention: {releases: 1}}
sources:
  - {name: ci, type: manifest, env: prod, interval: "@every 1s", timeout: 5s, manifest: {dir: manifests}}
collection: {jitter: 1ms}
`)
	gate := func() (int, string) {
		return s.gate(t, "prod", "--exporter", "http://"+s.expAddr, "--alertmanager", "http://"+s.amAddr)
	}

	// The RPO breach reaches Alertmanager and the gate denies with it.
	waitFor(t, "RestorableBackupRPOBreached in Alertmanager", 90*time.Second, func() bool {
		for _, a := range s.gateAlerts(t, "prod") {
			if a.Labels["alertname"] == "RestorableBackupRPOBreached" && a.Labels["dataset"] == "payments" {
				return true
			}
		}
		return false
	})
	code, out := gate()
	if code != 1 || !strings.Contains(out, "RestorableBackupRPOBreached") {
		t.Fatalf("gate during the breach: exit %d, want 1 naming the alert:\n%s", code, out)
	}
	var ans struct {
		Allow bool `json:"allow"`
	}
	getJSON(t, "http://"+s.expAddr+"/api/v1/gate?env=prod", &ans)
	if ans.Allow {
		t.Error("the exporter's gate allows during an RPO breach")
	}

	// A fresh backup lands: the alert resolves and the gate opens.
	writeBackup(t, manifests, "b2", time.Now())
	waitFor(t, "the gate alerts to resolve", 60*time.Second, func() bool { return len(s.gateAlerts(t, "prod")) == 0 })
	code, out = gate()
	if code != 0 {
		t.Fatalf("gate after a fresh backup: exit %d, want 0:\n%s", code, out)
	}
}
