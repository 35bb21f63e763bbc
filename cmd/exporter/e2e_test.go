package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/e2e-output.txt from the exporter's current output")

// volatile are metrics whose values depend on the moment and the machine;
// the golden file keeps their series with the value 0.
var volatile = []string{
	"restorable_collector_duration_seconds",
	"restorable_collector_last_run_timestamp_seconds",
	"restorable_collector_last_success_timestamp_seconds",
	"restorable_config_last_reload_success_timestamp_seconds",
	"restorable_collector_read_bytes_total",
	"restorable_restore_probe_duration_seconds",
	"restorable_restore_probe_last_run_timestamp_seconds",
	"restorable_restore_probe_last_success_timestamp_seconds",
	"restorable_restore_probe_achieved_rpo_seconds",
	"restorable_deploy_gate_override_expiry_timestamp_seconds",
	"restorable_events_journal_fsync_duration_seconds_(?:bucket|sum)",
	"restorable_requests_period_end_timestamp_seconds",
}

// buildExporter builds the exporter binary once per test run, CGO-free as
// it ships.
func buildExporter(t *testing.T) string { return buildExporterB(t) }

func buildExporterB(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "exporter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build exporter: %v\n%s", err, out)
	}
	return bin
}

type exporter struct {
	t    testing.TB
	cmd  *exec.Cmd
	addr string
	logs *bytes.Buffer
}

// startExporter runs the binary and waits until /-/ready answers 200.
func startExporter(t *testing.T, bin, config, history string, extra ...string) *exporter {
	return startExporterB(t, bin, config, history, extra...)
}

func startExporterB(t testing.TB, bin, config, history string, extra ...string) *exporter {
	t.Helper()
	e := launchExporter(t, bin, config, history, extra...)
	deadline := time.Now().Add(5 * time.Minute)
	for {
		resp, err := http.Get("http://" + e.addr + "/-/ready")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready within a minute; logs:\n%s", e.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launchExporter runs the binary on a free port.
func launchExporter(t testing.TB, bin, config, history string, extra ...string) *exporter {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	args := append([]string{"--config.file=" + config, "--web.listen-address=" + addr, "--history.root=" + history, "--log.level=debug"}, extra...)
	cmd := exec.Command(bin, args...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &exporter{t: t, cmd: cmd, addr: addr, logs: logs}
	t.Cleanup(e.stop)
	return e
}

func (e *exporter) stop() {
	if e.cmd.ProcessState != nil {
		return
	}
	_ = e.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		<-done
	}
}

// runProbe starts a probe through the API and waits for its result.
func (e *exporter) runProbe(name string) {
	e.t.Helper()
	resp, err := e.post("/api/v1/probes/" + name + "/run")
	if err != nil {
		e.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		e.t.Fatalf("run probe %s: %s %s", name, resp.Status, body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(e.get("/metrics"), `restorable_restore_probe_success{dataset=`) {
		if time.Now().After(deadline) {
			e.t.Fatalf("probe %s gave no result within a minute; logs:\n%s", name, e.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *exporter) get(path string) string {
	e.t.Helper()
	resp, err := http.Get("http://" + e.addr + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test read
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %s\n%s", path, resp.Status, body)
	}
	return string(body)
}

// normalize keeps the restorable_ families, zeroes volatile values and
// drops build details, so that the output is comparable across runs.
func normalize(metrics string) string {
	var out []string
	vol := regexp.MustCompile(`^(` + strings.Join(volatile, "|") + `)(\{[^}]*\})? .*$`)
	build := regexp.MustCompile(`^restorable_build_info\{.*\} 1$`)
	sc := bufio.NewScanner(strings.NewReader(metrics))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name := line
		if strings.HasPrefix(line, "# ") {
			f := strings.Fields(line)
			if len(f) > 2 {
				name = f[2]
			}
		}
		if !strings.HasPrefix(name, "restorable_") {
			continue
		}
		switch {
		case build.MatchString(line):
			line = "restorable_build_info 1"
		case vol.MatchString(line):
			m := vol.FindStringSubmatch(line)
			line = m[1] + m[2] + " 0"
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

// TestGoldenMetrics runs the built exporter on fixtures and compares its
// /metrics with testdata/e2e-output.txt (go test -update refreshes it),
// then lints the real output with promtool.
func TestGoldenMetrics(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, _ := fixtureConfig(t, dir, abs)
	// An override of one dataset, kept from an earlier run: the binary
	// reads it back at start and shows its expiry, and the gauge of the
	// environment stays closed.
	now := time.Now().UTC().Truncate(time.Second)
	kept := overridesFile{Overrides: []policy.Override{{Env: "prod", Dataset: "payments", By: "e2e", Reason: "golden fixture", Since: now, ExpiresAt: now.Add(time.Hour)}}}
	if err := writeFileAtomic(filepath.Join(dir, "history", "audit", OverridesFileName), kept); err != nil {
		t.Fatal(err)
	}
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"), "--web.telemetry-path=/metrics")
	e.runProbe("bundle-verify")
	// The run's two audit entries reach the history within a second
	// (auditFlushEvery); wait for them so that the output does not depend
	// on the moment of the scrape.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(e.get("/metrics"), `restorable_history_rows_written_total{table="audit"} 2`) {
		if time.Now().After(deadline) {
			t.Fatalf("the probe run's audit entries did not reach the history within 10s; logs:\n%s", e.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.postGitHubDeployment()
	// The deployment reaches the history at once (the journal's commit
	// wakes the flusher): wait for it too, or the scrape races the flush.
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(e.get("/metrics"), `restorable_history_rows_written_total{table="events"} 1`) {
		if time.Now().After(deadline) {
			t.Fatalf("the deployment event did not reach the history within 10s; logs:\n%s", e.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	raw := e.get("/metrics")
	got := normalize(raw)
	golden := "testdata/e2e-output.txt"
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run make golden to create it)", err)
	}
	if got != string(want) {
		t.Errorf("/metrics differs from %s (run make golden after an intended change):\n%s", golden, lineDiff(string(want), got))
	}

	promtool := testutil.Program(t, "promtool")
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = strings.NewReader(raw)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics on the live output: %v\n%s", err, out)
	}
	lint = exec.Command(promtool, "check", "metrics")
	lint.Stdin = bytes.NewReader(want)
	if out, err := lint.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics on %s: %v\n%s", golden, err, out)
	}
}

func lineDiff(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var d []string
	for l := range w {
		if !g[l] {
			d = append(d, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			d = append(d, "+ "+l)
		}
	}
	sort.Strings(d)
	if len(d) > 40 {
		d = append(d[:40], fmt.Sprintf("... and %d more", len(d)-40))
	}
	return strings.Join(d, "\n")
}

// TestMetricsReference keeps docs/metrics.md in step with what the exporter
// exposes: every family in the golden outputs is documented with its type
// and labels, and every documented metric appears in a golden output.
func TestMetricsReference(t *testing.T) {
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	type entry struct{ typ, labels string }
	documented := map[string]entry{}
	row := regexp.MustCompile("^\\| `(restorable_[a-z_]+)` \\| (gauge|counter|histogram|summary) \\|\\s*([a-z_, ]*?)\\s*\\|")
	for _, l := range strings.Split(string(doc), "\n") {
		if m := row.FindStringSubmatch(l); m != nil {
			documented[m[1]] = entry{m[2], strings.TrimSpace(m[3])}
		}
	}
	// The binary's golden output, and the release metrics that an
	// in-process exporter shows after a story of events
	// (TestGoldenReleaseMetrics).
	var golden []byte
	for _, f := range []string{"testdata/e2e-output.txt", "testdata/releases-output.txt"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden = append(golden, data...)
	}
	exposed := map[string]entry{}
	labelsOf := map[string]map[string]bool{}
	for _, l := range strings.Split(string(golden), "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[1] == "TYPE" {
			exposed[f[2]] = entry{typ: f[3]}
			labelsOf[f[2]] = map[string]bool{}
			continue
		}
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		name, rest, _ := strings.Cut(l, "{")
		if i := strings.IndexByte(name, ' '); i >= 0 {
			name = name[:i]
		}
		if rest != "" {
			for _, kv := range regexp.MustCompile(`([a-z_]+)="`).FindAllStringSubmatch(rest, -1) {
				if labelsOf[name] != nil {
					labelsOf[name][kv[1]] = true
				}
			}
		}
	}
	for name, e := range exposed {
		d, ok := documented[name]
		if !ok {
			t.Errorf("%s is exposed but not documented in docs/metrics.md", name)
			continue
		}
		if d.typ != e.typ {
			t.Errorf("%s: documented as %s, exposed as %s", name, d.typ, e.typ)
		}
		var want []string
		for _, l := range strings.Split(d.labels, ",") {
			if l = strings.TrimSpace(l); l != "" {
				want = append(want, l)
			}
		}
		var got []string
		for l := range labelsOf[name] {
			got = append(got, l)
		}
		sort.Strings(want)
		sort.Strings(got)
		if name != "restorable_build_info" && strings.Join(want, ",") != strings.Join(got, ",") {
			t.Errorf("%s: documented labels %v, exposed %v", name, want, got)
		}
	}
	for name := range documented {
		// The lock families need a live coordination database, which the
		// golden fixtures do not have: TestGateDeniesMigrationWhileBackupHoldsLock
		// compares them with this page against the real server.
		if strings.HasPrefix(name, "restorable_lock_") {
			continue
		}
		if _, ok := exposed[name]; !ok {
			t.Errorf("%s is documented but the golden output does not show it: extend the fixtures", name)
		}
	}
}

// TestFreshnessAfterRestart: after a restart the freshness series are right
// at the first scrape after readiness, even when the source cannot be read
// at that moment (served from history, not missing, never 0).
func TestFreshnessAfterRestart(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.CopyFS(manifests, os.DirFS("testdata/e2e/manifests")); err != nil {
		t.Fatal(err)
	}
	cfg, _ := fixtureConfig(t, dir, manifests)
	history := filepath.Join(dir, "history")

	fresh := func(metrics string) []string {
		var out []string
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "restorable_backup_last_success_timestamp_seconds{") || strings.HasPrefix(l, "restorable_backup_releases_retained{") {
				out = append(out, l)
			}
		}
		sort.Strings(out)
		return out
	}
	e := startExporter(t, bin, cfg, history)
	e.runProbe("bundle-verify")
	before := fresh(e.get("/metrics"))
	e.stop()
	if len(before) == 0 {
		t.Fatal("no freshness series before the restart")
	}

	// The source breaks while the exporter is down: its catalog cannot be
	// read at the first collection after the restart.
	if err := os.WriteFile(filepath.Join(manifests, "prod", "zz-broken.ndjson"), []byte("{garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e = startExporter(t, bin, cfg, history)
	metrics := e.get("/metrics")
	after := fresh(metrics)
	if strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("freshness after restart differs:\nbefore:\n%s\nafter:\n%s", strings.Join(before, "\n"), strings.Join(after, "\n"))
	}
	if !strings.Contains(metrics, `restorable_collector_success{source="prod-db",type="manifest"} 0`) ||
		!strings.Contains(metrics, `restorable_collector_catalog_from_history{source="prod-db",type="manifest"} 1`) {
		t.Errorf("the broken source must report failure while serving its catalog from history:\n%s", grep(metrics, "restorable_collector_"))
	}
	// The last probe result is served again from history, not forgotten.
	for _, want := range []string{
		`restorable_restore_probe_success{dataset="bundle",env="prod",kind="artifact",probe="bundle-verify"} 1`,
		`restorable_restore_probe_last_success_timestamp_seconds{dataset="bundle",env="prod",kind="artifact",probe="bundle-verify"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("after the restart the probe result is missing: %s\n%s", want, grep(metrics, "restorable_restore_probe_"))
		}
	}
	if !strings.Contains(metrics, `restorable_collector_errors_total{kind="parse",source="prod-db",type="manifest"} 1`) {
		t.Errorf("parse error not counted:\n%s", grep(metrics, "restorable_collector_errors_total"))
	}
}

// fixtureConfig writes the fixture configuration into dir with absolute
// paths, reading manifests from manifests.
func fixtureConfig(t *testing.T, dir, manifests string) (string, []byte) {
	t.Helper()
	data, err := os.ReadFile("testdata/e2e/restorable.yml")
	if err != nil {
		t.Fatal(err)
	}
	fake, err := filepath.Abs("testdata/e2e/fake-pgbackrest")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("dir: manifests/"), []byte("dir: "+manifests+"/"))
	data = bytes.ReplaceAll(data, []byte("binary: ./fake-pgbackrest"), []byte("binary: "+fake))
	artifacts, err := filepath.Abs("testdata/e2e/artifacts")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("base_dir: artifacts"), []byte("base_dir: "+artifacts))
	data = bytes.ReplaceAll(data, []byte("endpoint: AWS_REPLAY"), []byte("endpoint: "+awsReplay(t)))
	bills, err := filepath.Abs("testdata/e2e/billing")
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte("path: billing/"), []byte("path: "+bills+"/"))
	writeE2ETokenHash(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "github-webhook.secret"), []byte(e2eGitHubSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg, data
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestReloadKeepsOldConfigOnError: an invalid configuration on SIGHUP is
// rejected and reported, the old one keeps working.
func TestReloadKeepsOldConfigOnError(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, cfgData := fixtureConfig(t, dir, abs)
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"))
	if err := os.WriteFile(cfg, append(cfgData, []byte("bogus: 1\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := e.post("/-/reload")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `unknown field "bogus"`) {
		t.Errorf("reload of an invalid file: %s %s", resp.Status, body)
	}
	m := e.get("/metrics")
	if !strings.Contains(m, "restorable_config_last_reload_successful 0") || !strings.Contains(m, `restorable_policy_rpo_seconds{env="prod"} 3600`) {
		t.Errorf("after a failed reload:\n%s", grep(m, "restorable_config_")+"\n"+grep(m, "restorable_policy_rpo"))
	}
	// A valid change by SIGHUP is applied.
	if err := os.WriteFile(cfg, bytes.Replace(cfgData, []byte("rpo: 1h"), []byte("rpo: 2h"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Process.Signal(sighup); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		m = e.get("/metrics")
		if strings.Contains(m, `restorable_policy_rpo_seconds{env="prod"} 7200`) && strings.Contains(m, "restorable_config_last_reload_successful 1") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("SIGHUP did not apply the new configuration:\n%s", grep(m, "restorable_policy_rpo")+"\n"+grep(m, "restorable_config_"))
}
