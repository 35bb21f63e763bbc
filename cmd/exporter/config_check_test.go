package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// checkBase is a valid configuration the cases below add one thing to.
const checkBase = `environments:
  prod: {rpo: 1h}
sources:
  - name: releases
    type: manifest
    env: prod
    manifest: {dir: manifests}
`

// --config.check rejects every configuration a start rejects, and what a
// start would only find at the first collection or probe run (issue #9.9).
func TestConfigCheckRunsTheStartValidation(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sandbox.dsn"), []byte("host=localhost port=5432 user=postgres password=s3cret dbname=payments\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	for _, tc := range []struct{ name, extra, want string }{
		{"valid", "", "restorable.yml: valid (1 environment, 1 source, 0 probes)"},
		{"valid with an API budget", "  - {name: costs, type: costexplorer, api_budget: {monthly: 5}}\n",
			"restorable.yml: valid (1 environment, 2 sources, 0 probes)\nsource costs: at least 1 Cost Explorer GetCostAndUsage per collection, 0.0100 USD; at its interval of 6h, 1.2167 USD a month; budget 5.0000 USD a month: shortest interval 1h27m36s\n"},
		{"probe kind misspelt", "probes:\n  - {name: p, kind: artefact, source: releases}\n",
			`:9: probes[0] (p).kind: "artefact" is not one of artifact, command, mysql-logical, pgbackrest, postgres-logical, restic`},
		{"probe option misspelt", "probes:\n  - {name: p, kind: artifact, source: releases, options: {base_dirr: x}}\n",
			`:9: probes[0] (p).options: unknown field "base_dirr" (did you mean "base_dir"?)`},
		{"restic dataset_from stanza", "  - {name: files, type: restic, dataset_from: stanza, restic: {repository: /srv/r, password_env: P}}\n",
			`:8: sources[1] (files).dataset_from: stanza does not apply to a restic source; use host, path or tag:KEY`},
		{"pgbackrest config missing", "  - {name: db, type: pgbackrest, pgbackrest: {config: /nonexistent/pgbackrest.conf}}\n",
			`:8: sources[1] (db).pgbackrest.config: /nonexistent/pgbackrest.conf does not exist`},
		{"password_file missing", "  - {name: files, type: restic, restic: {repository: /srv/r, password_file: secrets/restic}}\n",
			`:8: sources[1] (files).restic.password_file: ` + filepath.Join(dir, "secrets/restic") + ` does not exist`},
		{"null source", "  - null\n", `:8: sources[1]: has no value (null): give it one or remove it`},
		{"sandbox is the source", "probes:\n  - name: p\n    kind: postgres-logical\n    options: {sandbox: {dsn_file: sandbox.dsn}, dump_from: {dsn: 'host=127.0.0.1 port=5432 dbname=payments user=u'}}\n",
			"refusing to run: the sandbox resolves to the source's server and database payments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(cfg, []byte(checkBase+tc.extra), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "--config.check", "--config.file=restorable.yml")
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			switch {
			case strings.HasPrefix(tc.name, "valid") && err != nil:
				t.Fatalf("check of a valid file: %v\n%s", err, out)
			case !strings.HasPrefix(tc.name, "valid") && (!errors.As(err, &exit) || exit.ExitCode() != 1):
				t.Fatalf("check exited with %v, want 1; output:\n%s", err, out)
			}
			if !strings.Contains(string(out), tc.want) {
				t.Errorf("output:\n%s\nwant it to contain %q", out, tc.want)
			}
			if strings.Contains(string(out), "s3cret") {
				t.Errorf("output leaks a password:\n%s", out)
			}
		})
	}
}

// A reload of a file with null entries, by POST /-/reload or SIGHUP, keeps
// the exporter and its configuration; the failure shows in
// restorable_config_last_reload_successful (issue #10.2).
func TestReloadOfNullEntriesKeepsTheExporter(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata/e2e/manifests")
	cfg, cfgData := fixtureConfig(t, dir, abs)
	e := startExporter(t, bin, cfg, filepath.Join(dir, "history"))
	for i, bad := range []string{
		"environments: {prod: null}\nsources: []\n",
		string(cfgData) + "classifications: {pii: null}\n",
		strings.Replace(string(cfgData), "sources:\n", "sources:\n  - null\n", 1),
		strings.Replace(string(cfgData), "probes:\n", "probes:\n  - ~\n", 1),
	} {
		if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			resp, err := e.post("/-/reload")
			if err != nil {
				t.Fatalf("case %d: POST /-/reload: %v (did the exporter drop the connection?)\n%s", i, err, e.logs)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "has no value (null)") {
				t.Errorf("case %d: reload answered %s %s", i, resp.Status, body)
			}
		} else {
			if err := e.cmd.Process.Signal(sighup); err != nil {
				t.Fatal(err)
			}
			waitForMetric(t, e, "restorable_config_last_reload_successful 0")
		}
		m := e.get("/metrics")
		if !strings.Contains(m, "restorable_config_last_reload_successful 0") || !strings.Contains(m, `restorable_policy_rpo_seconds{env="prod"} 3600`) {
			t.Errorf("case %d: after a failed reload:\n%s", i, grep(m, "restorable_config_")+"\n"+grep(m, "restorable_policy_rpo"))
		}
		// Back to a valid file, so that the next case starts from a
		// successful reload and its 0 means something.
		if err := os.WriteFile(cfg, cfgData, 0o644); err != nil {
			t.Fatal(err)
		}
		resp, err := e.post("/-/reload")
		if err != nil {
			t.Fatalf("case %d: reload of the valid file: %v\n%s", i, err, e.logs)
		}
		_ = resp.Body.Close()
		if m := e.get("/metrics"); resp.StatusCode != http.StatusOK || !strings.Contains(m, "restorable_config_last_reload_successful 1") {
			t.Fatalf("case %d: reload of the valid file: %s\n%s", i, resp.Status, grep(m, "restorable_config_"))
		}
	}
	if e.cmd.ProcessState != nil {
		t.Fatalf("exporter exited: %s\n%s", e.cmd.ProcessState, e.logs)
	}
}

// waitForMetric waits until /metrics shows line. The bound only keeps a
// broken test from hanging; it asserts nothing about speed.
func waitForMetric(t *testing.T, e *exporter, line string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if strings.Contains(e.get("/metrics"), line) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/metrics never showed %q after SIGHUP", line)
}
