package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/model"
)

// gatherText renders a gather in the text format.
func gatherText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// The restore tests a source reports are served as restore probe metrics
// under their own name and kind, written to the history's probes table
// once, and served again after a restart, when the source no longer
// lists them.
func TestRestoreTestsOfSourcesAreServed(t *testing.T) {
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments:
  prod: {rpo: 1h, restore_test_every: 7d}
sources:
  - {name: vaults, type: manifest, env: prod, interval: 1h, manifest: {dir: manifests}}
history:
  root: `+filepath.Join(dir, "history")+`
`), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	test := model.ProbeResult{RunID: "r-1", Probe: "aws-backup:vaults/weekly/prod/orders", Kind: "aws-backup", Env: "prod", Dataset: "orders",
		Source: "vaults", Collected: true, Start: start, Duration: 12 * time.Minute, Success: true, RestoredPoint: start.Add(-time.Hour)}
	const series = `{dataset="orders",env="prod",kind="aws-backup",probe="aws-backup:vaults/weekly/prod/orders"}`
	open := func() *app {
		a, err := newApp(context.Background(), appOptions{ConfigFile: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Registry: prometheus.NewRegistry()})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := open()
	for range 2 {
		a.onRun(collectors.Run{Source: "vaults", Type: "manifest", Start: time.Now(), Catalog: &model.Catalog{Backups: []model.Backup{}, Probes: []model.ProbeResult{test}}})
	}
	text := gatherText(t, a.Gatherer())
	for _, want := range []string{
		"restorable_restore_probe_success" + series + " 1",
		"restorable_restore_probe_duration_seconds" + series + " 720",
		"restorable_restore_probe_achieved_rpo_seconds" + series + " 3600",
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s\n%s", want, grep(text, "restorable_restore_probe_"))
		}
	}
	if own := gatherText(t, a.opts.Registry); !strings.Contains(own, `restorable_history_rows_written_total{table="probes"} 1`+"\n") {
		t.Errorf("a test reported twice is not one probes row:\n%s", grep(own, "restorable_history_rows_written_total"))
	}
	a.Close()

	a = open()
	defer a.Close()
	a.onRun(collectors.Run{Source: "vaults", Type: "manifest", Start: time.Now(), Catalog: &model.Catalog{Backups: []model.Backup{}}})
	if text := gatherText(t, a.Gatherer()); !strings.Contains(text, "restorable_restore_probe_success"+series+" 1\n") {
		t.Errorf("after a restart the restore test is missing:\n%s", grep(text, "restorable_restore_probe_"))
	}
}
