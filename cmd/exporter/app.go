package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/live"
	"github.com/restorable/restorable/internal/lockwatch"
	"github.com/restorable/restorable/internal/metrics"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/probe"
	"github.com/restorable/restorable/internal/server"
)

type appOptions struct {
	ConfigFile  string
	HistoryRoot string
	Logger      *slog.Logger
	Now         func() time.Time
	Registry    *prometheus.Registry
	// OverridesFile keeps the break-glass gate overrides across restarts;
	// empty keeps them in memory only.
	OverridesFile string
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
	live    *live.State
	// overrides are the break-glass overrides of the deploy gate.
	overrides *overrideStore
	// audits copies audit entries to the history; nil until exportAudit.
	audits *auditExport
	// eventsDirty wakes flushEventsLoop when events wait for the history.
	eventsDirty chan struct{}
	// events is the release-events ingest; nil without an events section.
	events *appEvents

	mu sync.Mutex
	// closed is set by Close: no scheduler or probe manager starts after.
	closed bool
	cfg    *config.Config
	sched  *collectors.Scheduler
	probes *probe.Manager
	// seededProbes are probe results read back from history, handed to
	// every new probe manager until it has results of its own.
	seededProbes []model.ProbeResult
	// locks watches the backup/migration locks (locks:); nil when none
	// are configured. stopLocks ends its loop.
	locks     *lockwatch.Watcher
	stopLocks context.CancelFunc

	evals evaluations
	// started is when the app was built: deploy events received before it
	// (replayed from the journal) trigger no probe.
	started time.Time
	// reloadMu serialises reloads.
	reloadMu sync.Mutex
}

func newApp(ctx context.Context, o appOptions) (*app, error) {
	cfg, err := config.Load(o.ConfigFile)
	if err != nil {
		return nil, err
	}
	a := &app{opts: o, ctx: ctx, store: collectors.NewStore(), started: o.Now()}
	if a.overrides, err = loadOverrides(o.OverridesFile, o.Now()); err != nil {
		return nil, err
	}
	a.self = metrics.NewSelf(o.Registry)
	a.metrics = metrics.NewCollector(metrics.Sources{Store: a.store, Evaluation: a.result, Probes: a.probeStatus})
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
	}
	a.live = live.New(a.store, a.history, o.Now)
	if a.seededProbes, err = a.live.Seed(cfg); err != nil {
		// A history that cannot be read back costs freshness after a
		// restart, not the exporter.
		o.Logger.Warn("cannot read the last state back from history", "err", err)
	}
	if err := a.apply(cfg); err != nil {
		return nil, err
	}
	a.eventsDirty = make(chan struct{}, 1)
	if err := a.openEvents(cfg); err != nil {
		return nil, err
	}
	go a.flushEventsLoop(ctx)
	a.self.Reloaded(true, o.Now())
	if a.history != nil {
		go a.compactEvery(ctx, time.Hour)
	}
	go a.evaluateLoop(ctx)
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

// errShuttingDown refuses a reload that comes while the exporter stops.
var errShuttingDown = errors.New("the exporter is shutting down")

// apply builds collectors and a scheduler for cfg and replaces the running
// ones; on error nothing changes.
func (a *app) apply(cfg *config.Config) error {
	var stateDir string
	if a.history != nil {
		stateDir = collectors.StateDir(a.history.Root())
	}
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: a.opts.Logger, Now: a.opts.Now, StateDir: stateDir})
	if err != nil {
		return err
	}
	sched, err := collectors.NewScheduler(cfg, cs, collectors.SchedulerOptions{Logger: a.opts.Logger, Now: a.opts.Now, OnRun: a.onRun, Prices: cfg.Prices()})
	if err != nil {
		return err
	}
	probes, err := probe.NewManager(cfg, a.store, probe.Options{Logger: a.opts.Logger, Now: a.opts.Now, Sink: a.onProbe})
	if err != nil {
		return err
	}
	// A reload cancels running probes (they clean up their sandboxes) and
	// hands the results so far to the new manager. The old scheduler and
	// manager are swapped out under the lock and stopped after it is
	// released: stopping waits for running work, and a scrape or a gate
	// answer must never wait for that.
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return errShuttingDown
	}
	oldSched, oldProbes := a.sched, a.probes
	a.mu.Unlock()
	if oldSched != nil {
		oldSched.Stop()
	}
	seed := a.seededProbes
	if oldProbes != nil {
		oldProbes.StopFor(probe.ReasonReload)
		seed = policy.Runs(oldProbes.States())
	}
	probes.Seed(seed)
	a.self.Declare(cfg, cs)
	// The lock watcher of the new configuration starts unknown and reads
	// at once; the old one stops.
	var locks *lockwatch.Watcher
	stopLocks := context.CancelFunc(func() {})
	lctx := a.ctx
	if cfg.Locks != nil {
		locks = lockwatch.New(cfg.Locks, lockwatch.Options{Logger: a.opts.Logger, Now: a.opts.Now, OnChange: func() { a.current(evaluateEvery) }})
		lctx, stopLocks = context.WithCancel(a.ctx)
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		stopLocks()
		return errShuttingDown
	}
	a.cfg = cfg
	a.store.Configure(cfg)
	a.metrics.SetConfig(cfg)
	a.sched, a.probes = sched, probes
	oldStopLocks := a.stopLocks
	a.locks, a.stopLocks = locks, stopLocks
	a.mu.Unlock()
	if oldStopLocks != nil {
		oldStopLocks()
	}
	if locks != nil {
		go locks.Run(lctx)
	}
	// A Close since the lock was released has stopped sched already, and
	// a stopped scheduler does not start: no collection runs after Close.
	sched.Start(a.ctx)
	if err := probes.Start(a.ctx); err != nil {
		return fmt.Errorf("start probes: %w", err)
	}
	a.current(evaluateEvery)
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

// probeStatus is what the metrics need of every probe and of every
// restore test a source reported.
func (a *app) probeStatus() []metrics.ProbeStatus {
	var states []policy.ProbeState
	if m := a.probeManager(); m != nil {
		states = m.States()
	}
	states = append(states, a.live.CollectedProbes()...)
	var out []metrics.ProbeStatus
	for _, st := range states {
		ps := metrics.ProbeStatus{Last: *st.Newest}
		if st.NewestSuccess != nil {
			ps.LastSuccess = st.NewestSuccess.Start
		}
		out = append(out, ps)
	}
	return out
}

// Gatherer serves the exporter's own metrics and those derived from state;
// the /metrics route caches the encoding of the derived part.
func (a *app) Gatherer() prometheus.Gatherer {
	return metrics.Exposition{Own: a.opts.Registry, Derived: a.metrics}
}

// Reload re-reads the configuration file and keeps the old configuration
// when the new one is invalid.
func (a *app) Reload() error {
	// Reloads (SIGHUP and POST /-/reload at once) are serialised: two
	// applies must not swap schedulers under each other.
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	cfg, err := config.Load(a.opts.ConfigFile)
	if err == nil {
		a.mu.Lock()
		old := a.cfg
		a.mu.Unlock()
		if old.History.Root != cfg.History.Root {
			a.opts.Logger.Warn("history.root changed; the new root is used after a restart", "in_use", old.History.Root)
		}
		if err = a.reconfigureEvents(cfg); err == nil {
			err = a.apply(cfg)
		}
	}
	a.self.Reloaded(err == nil, a.opts.Now())
	if err != nil {
		return err
	}
	a.opts.Logger.Info("configuration reloaded", "sources", len(cfg.Sources))
	return nil
}

// onRun records a collection (history first, then the served state) and
// evaluates the policy over the new state at once, so that the gate, its
// gauge and the finding metrics change together with the catalog.
func (a *app) onRun(r collectors.Run) {
	a.self.ObserveRun(r)
	st, err := a.live.Record(r)
	if err != nil {
		a.self.HistoryFailed()
		a.opts.Logger.Error("append to history failed", "backup_source", r.Source, "err", err)
	} else if r.Catalog != nil && a.history != nil {
		a.self.HistoryWritten("backups", st.Backups+st.Removed)
		a.self.HistoryWritten("repositories", st.Repositories)
		a.self.HistoryWritten("request_counts", st.Requests)
		a.self.HistoryWritten(history.TableCostLines, st.CostLines)
		a.self.HistoryWritten(history.TableProbes, st.Probes)
	}
	a.recordOwnCalls(r)
	a.current(evaluateEvery)
}

// recordOwnCalls appends the collection's own API requests that the price
// table prices to the history's request_counts table (origin exporter):
// programs run and unpriced operations stay in the call counters only, so
// that a source collected every few minutes does not write a row each
// time for nothing to price.
func (a *app) recordOwnCalls(r collectors.Run) {
	if a.history == nil {
		return
	}
	var priced []model.RequestCount
	for _, o := range r.Own {
		if o.CostKnown {
			priced = append(priced, o)
		}
	}
	n, err := a.history.AppendRequests(r.Source, priced)
	if err != nil {
		a.self.HistoryFailed()
		a.opts.Logger.Error("append own API requests to history failed", "backup_source", r.Source, "err", err)
		return
	}
	a.self.HistoryWritten("request_counts", n)
}

// The probe routes go to the manager of the configuration in use, which a
// reload replaces.
func (a *app) HandleList(w http.ResponseWriter, r *http.Request) { a.probeManager().HandleList(w, r) }
func (a *app) HandleRun(w http.ResponseWriter, r *http.Request)  { a.probeManager().HandleRun(w, r) }
func (a *app) HandleLog(w http.ResponseWriter, r *http.Request)  { a.probeManager().HandleLog(w, r) }

var _ server.ProbeAPI = (*app)(nil)

// Close stops collections and flushes history.
func (a *app) Close() {
	// Stopping waits for the running collections, and each reports its
	// run through onRun, which takes a.mu: the lock is released before
	// (TestCloseDuringACollection), as apply does, and closed keeps a
	// reload from starting new ones meanwhile (TestReloadAfterCloseIsRefused);
	// a scheduler a reload published but had not started yet is stopped
	// here and then refuses to start (collectors.Scheduler.Start).
	a.mu.Lock()
	a.closed = true
	sched, probes, stopLocks := a.sched, a.probes, a.stopLocks
	a.mu.Unlock()
	if sched != nil {
		sched.Stop()
	}
	if probes != nil {
		probes.Stop()
	}
	if stopLocks != nil {
		stopLocks()
	}
	a.closeEvents()
	// The journal is closed: no event arrives any more; what the history
	// lacks is written now (and would be replayed at the next start).
	a.flushEvents()
	if a.audits != nil {
		a.audits.Close()
	}
	if a.history != nil {
		if err := a.history.Close(); err != nil {
			a.opts.Logger.Error("close history", "err", err)
		}
	}
}
