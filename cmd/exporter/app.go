package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/metrics"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/probe"
	"github.com/restorable/restorable/internal/server"
)

type appOptions struct {
	ConfigFile  string
	HistoryRoot string
	Logger      *slog.Logger
	Now         func() time.Time
	Registry    *prometheus.Registry
}

// app wires the configuration, the collectors' scheduler, the state store,
// metrics and history together, and swaps them on reload.
type app struct {
	opts    appOptions
	ctx     context.Context
	store   *collectors.Store
	metrics *metrics.Collector
	self    *metrics.Self
	history *history.Writer

	mu     sync.Mutex
	cfg    *config.Config
	sched  *collectors.Scheduler
	probes *probe.Manager
	// seededProbes are probe results read back from history, handed to
	// every new probe manager until it has results of its own.
	seededProbes []model.ProbeResult

	gate gateCache
}

func newApp(ctx context.Context, o appOptions) (*app, error) {
	cfg, err := config.Load(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	a := &app{opts: o, ctx: ctx, store: collectors.NewStore()}
	a.self = metrics.NewSelf(o.Registry)
	a.metrics = metrics.NewCollector(metrics.Sources{Store: a.store, Gate: a.gateOpen, Probes: a.probeStatus})
	a.store.Configure(cfg)

	if !cfg.History.Disabled {
		root := cfg.History.Root
		if o.HistoryRoot != "" {
			root = o.HistoryRoot
		}
		a.history, err = history.Open(root, history.Options{Now: o.Now, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("open history: %w", err)
		}
		if err := a.seedFromHistory(); err != nil {
			// A history that cannot be read back costs freshness after a
			// restart, not the exporter.
			o.Logger.Warn("cannot read the last state back from history", "err", err)
		}
	}
	if err := a.apply(cfg); err != nil {
		return nil, err
	}
	a.self.Reloaded(true, o.Now())
	if a.history != nil {
		go a.compactEvery(ctx, time.Hour)
	}
	go a.refreshGate(ctx)
	return a, nil
}

// compactEvery merges small history files so that their number stays
// bounded however often sources change.
func (a *app) compactEvery(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := a.history.Compact(); err != nil {
			a.opts.Logger.Error("compact history", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// seedFromHistory serves the last known catalogs until the first
// collections finish, so that freshness is right at the first scrape
// after a restart.
func (a *app) seedFromHistory() error {
	snap, err := a.history.Latest()
	if err != nil {
		return err
	}
	sources := map[string]bool{}
	for s := range snap.Backups {
		sources[s] = true
	}
	for s := range snap.Repositories {
		sources[s] = true
	}
	for s := range sources {
		a.store.Seed(s, &model.Catalog{Backups: snap.Backups[s], Repositories: snap.Repositories[s]}, time.Time{})
	}
	for _, r := range snap.ProbeSuccesses {
		a.seededProbes = append(a.seededProbes, r)
	}
	for _, r := range snap.Probes {
		if ok, dup := snap.ProbeSuccesses[r.Probe]; !dup || ok.RunID != r.RunID {
			a.seededProbes = append(a.seededProbes, r)
		}
	}
	return nil
}

// apply builds collectors and a scheduler for cfg and replaces the running
// ones; on error nothing changes.
func (a *app) apply(cfg *config.Config) error {
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: a.opts.Logger, Now: a.opts.Now})
	if err != nil {
		return err
	}
	sched, err := collectors.NewScheduler(cfg, cs, collectors.SchedulerOptions{Logger: a.opts.Logger, Now: a.opts.Now, OnRun: a.onRun})
	if err != nil {
		return err
	}
	probes, err := probe.NewManager(cfg, a.store, probe.Options{Logger: a.opts.Logger, Now: a.opts.Now, Sink: a.onProbe})
	if err != nil {
		return err
	}
	// A reload cancels running probes (they clean up their sandboxes) and
	// hands the results so far to the new manager.
	seed := a.probeResults()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sched != nil {
		a.sched.Stop()
	}
	if a.probes != nil {
		a.probes.StopFor(probe.ReasonReload)
	} else {
		seed = a.seededProbes
	}
	probes.Seed(seed)
	a.cfg = cfg
	a.store.Configure(cfg)
	a.metrics.SetConfig(cfg)
	a.sched, a.probes = sched, probes
	sched.Start(a.ctx)
	if err := probes.Start(a.ctx); err != nil {
		return fmt.Errorf("start probes: %w", err)
	}
	return nil
}

// onProbe records a finished probe run in history. An error makes the
// probe manager retry the same result later (history skips a run id it
// already holds), so no result is lost to a full disk.
func (a *app) onProbe(r model.ProbeResult) error {
	if a.history == nil {
		return nil
	}
	if err := a.history.AppendProbes(r); err != nil {
		a.self.HistoryFailed()
		return fmt.Errorf("append result of probe %s run %s to history: %w", r.Probe, r.RunID, err)
	}
	a.self.HistoryWritten("probes", 1)
	return nil
}

func (a *app) probeManager() *probe.Manager {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.probes
}

// probeStatus is what the metrics need of every probe.
func (a *app) probeStatus() []metrics.ProbeStatus {
	m := a.probeManager()
	if m == nil {
		return nil
	}
	last := m.LastSuccess()
	var out []metrics.ProbeStatus
	for _, r := range m.Latest() {
		out = append(out, metrics.ProbeStatus{Last: r, LastSuccess: last[r.Probe]})
	}
	return out
}

// Gatherer serves the exporter's own metrics and those derived from state.
func (a *app) Gatherer() prometheus.Gatherer {
	return prometheus.Gatherers{a.opts.Registry, a.metrics}
}

// Reload re-reads the configuration file and keeps the old configuration
// when the new one is invalid.
func (a *app) Reload() error {
	cfg, err := config.Load(a.opts.ConfigFile)
	if err == nil {
		if a.cfg.History.Root != cfg.History.Root {
			a.opts.Logger.Warn("history.root changed; the new root is used after a restart", "in_use", a.cfg.History.Root)
		}
		err = a.apply(cfg)
	}
	a.self.Reloaded(err == nil, a.opts.Now())
	if err != nil {
		return err
	}
	a.opts.Logger.Info("configuration reloaded", "sources", len(cfg.Sources))
	return nil
}

// onRun appends a collected catalog to history before it becomes the
// served state, so that what a scrape shows after readiness is already
// persisted and comes back after a restart.
func (a *app) onRun(r collectors.Run) {
	defer a.store.Record(r)
	a.self.ObserveRun(r)
	if r.Catalog == nil || a.history == nil {
		return
	}
	st, err := a.history.AppendCatalog(r.Source, r.Catalog)
	if err != nil {
		a.self.HistoryFailed()
		a.opts.Logger.Error("append to history failed", "source", r.Source, "err", err)
		return
	}
	a.self.HistoryWritten("backups", st.Backups+st.Removed)
	a.self.HistoryWritten("repositories", st.Repositories)
}

// The probe routes go to the manager of the configuration in use, which a
// reload replaces.
func (a *app) HandleList(w http.ResponseWriter, r *http.Request) { a.probeManager().HandleList(w, r) }
func (a *app) HandleRun(w http.ResponseWriter, r *http.Request)  { a.probeManager().HandleRun(w, r) }
func (a *app) HandleLog(w http.ResponseWriter, r *http.Request)  { a.probeManager().HandleLog(w, r) }

var _ server.ProbeAPI = (*app)(nil)

// Close stops collections and flushes history.
func (a *app) Close() {
	a.mu.Lock()
	if a.sched != nil {
		a.sched.Stop()
	}
	if a.probes != nil {
		a.probes.Stop()
	}
	a.mu.Unlock()
	if a.history != nil {
		if err := a.history.Close(); err != nil {
			a.opts.Logger.Error("close history", "err", err)
		}
	}
}
