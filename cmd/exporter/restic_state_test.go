package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/testutil"
)

// Issue #9, item 4, through the exporter: the restic collector keeps its
// state in <history.root>/_collectors, so a restarted exporter collects an
// unchanged repository with restic snapshots alone, never restic stats or
// restic ls.
func TestRestartDoesNotRescanResticRepository(t *testing.T) {
	bin := testutil.Program(t, "restic")
	dir := t.TempDir()
	repo, pw, data := filepath.Join(dir, "repo"), filepath.Join(dir, "password"), filepath.Join(dir, "data")
	if err := os.WriteFile(pw, []byte("exporter-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(data, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "cache", "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init"}, {"backup", "--host", "web1", data}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+repo, "RESTIC_PASSWORD_FILE="+pw, "RESTIC_CACHE_DIR="+filepath.Join(dir, "client-cache"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %s: %v: %s", args[0], err, out)
		}
	}
	cfg := filepath.Join(dir, "restorable.yml")
	// The repository is restic's location string, used as it is: an
	// absolute path.
	if err := os.WriteFile(cfg, []byte(`environments:
  staging: {rpo: 24h}
sources:
  - name: files
    type: restic
    env: staging
    interval: 1h
    restic: {repository: `+repo+`, password_file: password, cache_dir: restic-cache}
history:
  root: history
`), 0o644); err != nil {
		t.Fatal(err)
	}

	// run starts an exporter, waits for its first collection and returns
	// the restic calls it made, by operation.
	run := func() map[string]float64 {
		t.Helper()
		reg := prometheus.NewRegistry()
		a, err := newApp(context.Background(), appOptions{ConfigFile: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Registry: reg})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		deadline := time.Now().Add(60 * time.Second)
		for !a.store.Ready() {
			if time.Now().After(deadline) {
				t.Fatal("no collection within 60s")
			}
			time.Sleep(20 * time.Millisecond)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "restorable_collector_external_calls_total" {
				continue
			}
			for _, m := range mf.Metric {
				for _, l := range m.Label {
					if l.GetName() == "operation" {
						calls[l.GetValue()] += m.GetCounter().GetValue()
					}
				}
			}
		}
		return calls
	}

	first := run()
	if first["restic stats"] == 0 || first["restic ls"] == 0 {
		t.Fatalf("first start: calls %v, want the stats and the contents read", first)
	}
	state := filepath.Join(dir, "history", "_collectors", "restic-files.json")
	saved, err := os.ReadFile(state)
	if err != nil {
		t.Fatalf("no collector state next to the history: %v", err)
	}
	if !strings.Contains(string(saved), filepath.Join(data, "cache")) {
		t.Errorf("state %s does not hold the listed contents: %s", state, saved)
	}
	second := run()
	if second["restic snapshots"] != 1 || second["restic stats"] != 0 || second["restic ls"] != 0 {
		t.Errorf("after a restart: calls %v, want one restic snapshots and neither stats nor ls", second)
	}
}
