package dashboards

import (
	"context"
	"log/slog"
	"regexp"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/metrics"
)

// The bundled demo is an estate of manifests only. Every Storage panel but
// the source-specific ones must have data on it: the first row from the
// backups alone, the others from the demo's repository records.
func TestStoragePanelsHaveDataOnTheDemo(t *testing.T) {
	// The panels only some source types can fill (docs/metrics.md says
	// which); every other panel must show data for manifests alone.
	sourceSpecific := []string{
		"Bytes a restore of the newest backup reads", // pgBackRest
		"Running backups", // pgBackRest, and only while a backup runs
	}
	mfs := demoMetrics(t)
	served := map[string]bool{}
	for _, mf := range mfs {
		if len(mf.Metric) > 0 {
			served[mf.GetName()] = true
		}
	}

	metricName := regexp.MustCompile(`restorable_[a-z_]+`)
	var storage dashboardJSON
	for _, d := range decode(t, render(t)) {
		if d.UID == "restorable-storage" {
			storage = d
		}
	}
	panels := 0
	for _, p := range allPanels(storage.Panels) {
		if len(p.Targets) == 0 || slices.Contains(sourceSpecific, p.Title) {
			continue
		}
		panels++
		for _, tg := range p.Targets {
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				if !served[m] {
					t.Errorf("panel %q: the demo serves no %s, so the panel is empty", p.Title, m)
				}
			}
		}
	}
	if panels < 10 {
		t.Errorf("checked %d panels, want every Storage panel", panels)
	}
}

// demoMetrics collects every source of the bundled demo once and returns
// the metrics the exporter derives from them.
func demoMetrics(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	cfg, err := config.Load("../examples/demo/restorable.yml")
	if err != nil {
		t.Fatal(err)
	}
	store := collectors.NewStore()
	store.Configure(cfg)
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: slog.New(slog.DiscardHandler), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range cfg.Sources {
		r := collectors.Collect(context.Background(), src, cs[src.Name], time.Now, slog.New(slog.DiscardHandler))
		if r.Err != nil {
			t.Fatalf("collect demo source %s: %v", src.Name, r.Err)
		}
		store.Record(r)
	}
	mc := metrics.NewCollector(metrics.Sources{Store: store})
	mc.SetConfig(cfg)
	mfs, err := mc.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}
