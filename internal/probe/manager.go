package probe

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/runx"
)

// Catalogs gives the latest collected catalog of a source (what to restore
// is named by catalog records).
type Catalogs interface {
	Catalog(source string) (*model.Catalog, bool)
}

// Options configure a Manager.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; tests inject their own.
	Now func() time.Time
	// StateDir is where the probes record the sandboxes they create (to
	// clean orphans at the next start) and keep run logs. Empty uses the
	// configuration's probing.state_dir.
	StateDir string
	// Sink persists the result of a finished run (the exporter appends it
	// to history). It is called before the result is served, from the
	// goroutine that ran the probe or from the one that retries, possibly
	// at once, and never with a lock of the manager held. When it returns
	// an error the result is served anyway and the manager calls Sink
	// again with it after a backoff (1 s doubling up to 5 min), until it
	// succeeds: a result is never dropped. Sink must therefore accept a
	// result it has already stored (the exporter's history skips a known
	// run id).
	Sink func(model.ProbeResult) error
}

// Why a run was cancelled, as its result's error says.
const (
	ReasonReload   = "cancelled by reload"
	ReasonShutdown = "cancelled because the exporter stopped"
)

const (
	// maxPending bounds the results kept while they wait for Sink. When
	// it is reached no run starts (the API answers 503) until results are
	// written, so that none is ever dropped.
	maxPending = 1000
	// sinkRetryMin and sinkRetryMax bound the wait between two calls of
	// Sink for a result it refused.
	sinkRetryMin = time.Second
	sinkRetryMax = 5 * time.Minute
	// pendingFile holds, in the state directory, the results Sink has not
	// taken yet and those of runs a stop cancelled, so that a reload or a
	// restart serves and writes them.
	pendingFile = "results-pending.json"
)

// The states of a result towards history (Sink), as the API shows them.
const (
	HistoryWritten = "written"
	HistoryPending = "pending"
)

// The triggers of a run and the states it goes through.
const (
	TriggerSchedule = "schedule"
	TriggerAPI      = "api"

	StateQueued   = "queued"
	StateRunning  = "running"
	StateFinished = "finished"
	StateSkipped  = "skipped"
)

// Manager schedules the configured probes and keeps their results.
type Manager struct {
	cfg     *config.Config
	cats    Catalogs
	opts    Options
	log     *slog.Logger
	entries map[string]*entry
	names   []string
	sem     chan struct{}
	state   *stateStore
	keep    int
	// after waits for d; tests replace it to drive schedules without
	// sleeping.
	after func(d time.Duration) <-chan time.Time

	// retryAfter waits between calls of Sink; tests shorten it.
	retryAfter func(d time.Duration) <-chan time.Time
	// stopWait bounds how long a stop waits for Sink (stopSinkWait).
	stopWait time.Duration

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelCauseFunc
	stopped bool
	wg      sync.WaitGroup
	runs    []*runInfo
	latest  map[string]model.ProbeResult
	lastOK  map[string]model.ProbeResult
	// version counts recorded results, so that what derives from them
	// (the policy evaluation) knows when to renew.
	version atomic.Uint64
	// pending are the results Sink has not taken yet, oldest first.
	pending []*pendingResult
	// sinkErr is Sink's last error while results are pending.
	sinkErr error
	// handover are the results of runs that a stop cancelled.
	handover []*pendingResult
	// wake tells the persisting goroutine that a result is pending.
	wake           chan struct{}
	persistCancel  context.CancelFunc
	persistStopped chan struct{}
	// fileMu serialises writes of the pending file.
	fileMu sync.Mutex
}

// pendingResult is a result on its way to Sink, as the state directory
// keeps it across a reload or restart.
type pendingResult struct {
	Result  model.ProbeResult `json:"result"`
	Written bool              `json:"written"`
	Trigger string            `json:"trigger,omitempty"`

	run *runInfo
}

type entry struct {
	probe    *config.Probe
	prober   Prober
	schedule cron.Schedule
	// active is the queued or running run of this probe: a probe never
	// runs twice at once.
	active *runInfo
	next   time.Time
}

// runInfo is one run as the API shows it.
type runInfo struct {
	ID      string             `json:"run_id"`
	Probe   string             `json:"probe"`
	Trigger string             `json:"trigger"`
	State   string             `json:"state"`
	Queued  time.Time          `json:"queued"`
	Reason  string             `json:"reason,omitempty"`
	Result  *model.ProbeResult `json:"result,omitempty"`
	// History says whether the result is written to history yet
	// (HistoryWritten) or waits for a retry (HistoryPending, with the
	// last error in HistoryError).
	History      string `json:"history,omitempty"`
	HistoryError string `json:"history_error,omitempty"`

	log *runLog
}

// NewManager validates every probe, including its kind-specific options,
// and prepares their schedules. Nothing runs before Start.
func NewManager(cfg *config.Config, cats Catalogs, opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sink == nil {
		opts.Sink = func(model.ProbeResult) error { return nil }
	}
	if opts.StateDir == "" {
		opts.StateDir = cmp.Or(cfg.Probing.StateDir, config.DefaultProbeStateDir)
	}
	m := &Manager{
		cfg: cfg, cats: cats, opts: opts, log: opts.Logger,
		entries:    map[string]*entry{},
		sem:        make(chan struct{}, max(1, cfg.Probing.Concurrency)),
		keep:       cmp.Or(cfg.Probing.KeepResults, config.DefaultProbeKeep),
		after:      time.After,
		retryAfter: time.After,
		stopWait:   stopSinkWait,
		latest:     map[string]model.ProbeResult{},
		lastOK:     map[string]model.ProbeResult{},
		wake:       make(chan struct{}, 1),
	}
	ks := kinds()
	for i, p := range cfg.Probes {
		where := fmt.Sprintf("probes[%d] (%s)", i, p.Name)
		mk, ok := ks[p.Kind]
		if !ok {
			return nil, fmt.Errorf("%s:%d: %s.kind: %q is not one of %s", cfg.File, p.Line(), where, p.Kind, strings.Join(Kinds(), ", "))
		}
		pr, err := mk(&builder{cfg: cfg, probe: p, where: where})
		if err != nil {
			return nil, err
		}
		e := &entry{probe: p, prober: pr}
		if p.Schedule != "" {
			if e.schedule, err = config.ParseSchedule(p.Schedule); err != nil {
				return nil, fmt.Errorf("%s:%d: %s.schedule: %w", cfg.File, p.Line(), where, err)
			}
		}
		m.entries[p.Name] = e
		m.names = append(m.names, p.Name)
	}
	return m, nil
}

// Start removes sandboxes that an earlier process left behind, then runs
// every scheduled probe on its schedule until Stop. It returns at once.
// A Start after Stop (or StopFor) does nothing, also when the manager was
// never started: an exporter closing while a reload publishes a new
// manager runs no probe after it closed.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	stopped := m.stopped
	m.mu.Unlock()
	if stopped {
		return nil
	}
	st, err := newStateStore(m.opts.StateDir)
	if err != nil {
		return err
	}
	m.state = st
	m.cleanOrphans(ctx)
	left, err := readPending(m.opts.StateDir)
	if err != nil {
		// A damaged file must not stop the probes; it is kept for a
		// person to look at, and rewritten once a result is pending.
		m.log.Error("results an earlier run left pending are not served", "err", err)
	}
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return nil
	}
	m.ctx, m.cancel = context.WithCancelCause(ctx)
	m.adopt(left)
	// The persisting goroutine outlives the runs' context: a stop first
	// lets the cancelled runs finish, then stops it.
	pctx, pcancel := context.WithCancel(context.WithoutCancel(ctx))
	m.persistCancel, m.persistStopped = pcancel, make(chan struct{})
	go func() {
		defer close(m.persistStopped)
		m.persist(pctx)
	}()
	for _, name := range m.names {
		e := m.entries[name]
		if e.schedule == nil {
			continue
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.loop(e)
		}()
	}
	m.mu.Unlock()
	// Rewrite the file without the results adopted as written.
	m.savePending()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

// Stop cancels running probes as the exporter stops, waits until their
// sandboxes are cleaned up and stops the schedules. It is StopFor with
// ReasonShutdown.
func (m *Manager) Stop() { m.StopFor(ReasonShutdown) }

// StopFor cancels running probes with reason (ReasonReload,
// ReasonShutdown), which their results' errors name, waits until their
// sandboxes are cleaned up and stops the schedules. The results of the
// cancelled runs and those Sink has not taken yet are kept in the state
// directory: the next manager started on it (after a reload or a restart)
// serves them and hands them to its Sink.
func (m *Manager) StopFor(reason string) {
	m.mu.Lock()
	m.stopped = true
	cancel := m.cancel
	m.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel(errors.New(reason))
	m.wg.Wait()
	m.stopPersist()
	m.savePending()
}

// loop triggers one probe each time its schedule comes due.
func (m *Manager) loop(e *entry) {
	last := m.opts.Now()
	for {
		now := m.opts.Now()
		next := e.schedule.Next(later(now, last))
		m.mu.Lock()
		e.next = next
		m.mu.Unlock()
		select {
		case <-m.ctx.Done():
			return
		case <-m.after(next.Sub(now)):
		}
		last = next
		if _, err := m.trigger(e, TriggerSchedule); err != nil {
			m.log.Warn("scheduled probe run skipped", "probe", e.probe.Name, "reason", err)
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// refusedError says why a run was not queued, with the HTTP status the
// API answers.
type refusedError struct {
	status int
	msg    string
	// runID is the run already queued or running, when that is the reason.
	runID string
}

func (e *refusedError) Error() string { return e.msg }

func quietRefusal(env string, until time.Time) error {
	return &refusedError{status: http.StatusConflict, msg: fmt.Sprintf("environment %s is in a quiet window until %s: no probe starts now", env, until.UTC().Format(time.RFC3339))}
}

// trigger queues a run of e unless one is already queued or running or
// its environment is in a quiet window.
func (m *Manager) trigger(e *entry, trigger string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped || m.ctx == nil || m.ctx.Err() != nil {
		return "", &refusedError{status: http.StatusServiceUnavailable, msg: "probes are not running (the exporter is starting or stopping)"}
	}
	if e.active != nil {
		return "", &refusedError{status: http.StatusConflict, msg: fmt.Sprintf("run %s of this probe is already %s", e.active.ID, e.active.State), runID: e.active.ID}
	}
	if err := m.pendingFull(); err != nil {
		return "", err
	}
	now := m.opts.Now()
	if err := m.quiet(e.probe, now); err != nil {
		return "", err
	}
	ri := &runInfo{ID: newRunID(now), Probe: e.probe.Name, Trigger: trigger, State: StateQueued, Queued: now, log: &runLog{}}
	e.active = ri
	m.runs = append(m.runs, ri)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.execute(e, ri)
	}()
	return ri.ID, nil
}

// probeEnv is the environment a probe runs in as far as the configuration
// says: its own, or its source's.
func (m *Manager) probeEnv(p *config.Probe) string {
	if p.Env != "" {
		return p.Env
	}
	if s := m.cfg.Source(p.Source); s != nil {
		return s.Env
	}
	return ""
}

// quiet returns a refusal when the probe's environment is inside one
// of its quiet windows at t.
func (m *Manager) quiet(p *config.Probe, t time.Time) error {
	env := m.probeEnv(p)
	e := m.cfg.Environments[env]
	if e == nil {
		return nil
	}
	for _, w := range e.QuietWindows {
		if until, in := inWindow(w, t); in {
			return quietRefusal(env, until)
		}
	}
	return nil
}

// inWindow reports whether t falls inside an occurrence of w, and when that
// occurrence ends. An occurrence that opened at o covers [o, o+duration).
func inWindow(w config.QuietWindow, t time.Time) (time.Time, bool) {
	s, err := config.ParseSchedule(w.Start)
	if err != nil {
		return time.Time{}, false
	}
	d := w.Duration.D()
	// Next returns the first opening strictly after its argument; an
	// opening in (t-d-1s, t] is the one t may fall in. Cron has
	// one-second resolution, hence the second.
	o := s.Next(t.Add(-d).Add(-time.Second))
	if o.After(t) || !t.Before(o.Add(d)) {
		return time.Time{}, false
	}
	return o.Add(d), true
}

// execute waits for a free slot, runs the probe and publishes the result.
func (m *Manager) execute(e *entry, ri *runInfo) {
	defer func() {
		m.mu.Lock()
		e.active = nil
		m.prune()
		m.mu.Unlock()
	}()
	select {
	case m.sem <- struct{}{}:
	case <-m.ctx.Done():
		m.skip(ri, "the exporter stopped before the run could start")
		return
	}
	defer func() { <-m.sem }()
	// The window may have opened while the run waited for a slot.
	if err := m.quiet(e.probe, m.opts.Now()); err != nil {
		m.skip(ri, err.Error())
		return
	}
	m.mu.Lock()
	ri.State = StateRunning
	m.mu.Unlock()
	res := m.runProbe(e, ri)
	m.saveLog(ri)
	p := &pendingResult{Result: res, Trigger: ri.Trigger, run: ri}
	// The result is written before it is served, so that what metrics and
	// the API show is already in history and comes back after a restart;
	// behind results that wait for a retry, it waits its turn instead.
	m.mu.Lock()
	queued := len(m.pending) > 0
	m.mu.Unlock()
	var err error
	if !queued {
		if err = m.opts.Sink(res); err != nil {
			m.log.Error("probe result not written to history; it is served and retried", "probe", res.Probe, "run_id", res.RunID, "err", err)
		}
	}
	m.mu.Lock()
	ri.State, ri.Result, ri.History = StateFinished, &res, HistoryWritten
	m.record(res)
	p.Written = !queued && err == nil
	if !p.Written {
		ri.History = HistoryPending
		if err != nil {
			m.sinkErr, ri.HistoryError = err, err.Error()
		}
		m.pending = append(m.pending, p)
	}
	if m.ctx.Err() != nil {
		// A stop cancelled the run: the next manager serves its result.
		m.handover = append(m.handover, p)
	}
	save := !p.Written || m.ctx.Err() != nil
	m.mu.Unlock()
	if save {
		m.savePending()
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

func (m *Manager) skip(ri *runInfo, reason string) {
	m.log.Warn("probe run skipped", "probe", ri.Probe, "run_id", ri.ID, "reason", reason)
	_, _ = fmt.Fprintf(ri.log, "run skipped: %s\n", reason)
	m.mu.Lock()
	ri.State, ri.Reason = StateSkipped, reason
	m.mu.Unlock()
	m.saveLog(ri)
}

// runProbe runs one probe with its timeout and cleans up after it.
func (m *Manager) runProbe(e *entry, ri *runInfo) (res model.ProbeResult) {
	p := e.probe
	start := m.opts.Now()
	res = model.ProbeResult{RunID: ri.ID, Probe: p.Name, Kind: p.Kind, Env: m.probeEnv(p), Dataset: p.Dataset, Source: p.Source, Release: p.Release, Start: start.UTC()}
	logger := newRunLogger(m.log, ri.log, ri.ID, p.Name)
	r := &run{id: ri.ID, probe: p, cfg: m.cfg, cats: m.cats, now: m.opts.Now, log: logger, state: m.state, result: &res}
	ctx, cancel := context.WithTimeout(m.ctx, p.Timeout.D())
	defer cancel()
	logger.Info("probe run started", "kind", p.Kind, "trigger", ri.Trigger, "timeout", p.Timeout.D())
	began := time.Now()
	err := m.safeRun(ctx, e.prober, r)
	res.Duration = time.Since(began)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	switch {
	case err != nil && m.ctx.Err() != nil:
		err = fmt.Errorf("%w: %w", context.Cause(m.ctx), err)
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %s: %w", p.Timeout, err)
	}
	if err != nil && m.ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !strings.HasPrefix(err.Error(), "timed out") {
		err = fmt.Errorf("timed out after %s: %w", p.Timeout, err)
	}
	res.Success = err == nil
	if err != nil {
		res.Error = err.Error()
	}
	if cerr := m.cleanupRun(ctx, r); cerr != nil {
		res.Details = strings.TrimSpace(res.Details + "\ncleanup: " + cerr.Error())
	}
	if env := m.cfg.Environments[res.Env]; env != nil {
		res.RTOTarget = env.RTO.D()
	}
	if res.Success {
		logger.Info("probe run succeeded", "duration", res.Duration, "backup_id", res.BackupID, "bytes_verified", res.BytesVerified, "tables_compared", res.TablesCompared)
	} else {
		logger.Error("probe run failed", "duration", res.Duration, "backup_id", res.BackupID, "kind", runx.KindOf(err), "err", res.Error)
	}
	return res
}

// safeRun turns a panicking prober into a failed run, so that one broken
// probe cannot take the exporter down.
func (m *Manager) safeRun(ctx context.Context, p Prober, r *run) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("probe panicked: %v", v)
		}
	}()
	return p.Run(ctx, r)
}

// cleanupRun runs the run's cleanups, last registered first, with a
// deadline of their own: a run that timed out must still be cleaned up.
func (m *Manager) cleanupRun(ctx context.Context, r *run) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupDeadline)
	defer cancel()
	var errs []error
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		c := r.cleanup[i]
		if err := c.fn(ctx); err != nil {
			r.log.Error("cleanup failed; the sandbox stays recorded and is removed at the next start", "what", c.what, "err", err)
			errs = append(errs, fmt.Errorf("%s: %w", c.what, err))
			continue
		}
		r.log.Debug("cleaned up", "what", c.what)
	}
	return errors.Join(errs...)
}

// record keeps res as the latest result of its probe. m.mu is held.
func (m *Manager) record(res model.ProbeResult) {
	defer m.version.Add(1)
	if prev, ok := m.latest[res.Probe]; !ok || !res.Start.Before(prev.Start) {
		m.latest[res.Probe] = res
	}
	if prev, ok := m.lastOK[res.Probe]; res.Success && (!ok || policy.NewerRun(&res, &prev)) {
		m.lastOK[res.Probe] = res
	}
}

// prune keeps the most recent keep runs that are done. m.mu is held.
func (m *Manager) prune() {
	done := 0
	for _, r := range m.runs {
		if r.State == StateFinished || r.State == StateSkipped {
			done++
		}
	}
	if done <= m.keep {
		return
	}
	drop := done - m.keep
	kept := m.runs[:0]
	for _, r := range m.runs {
		if drop > 0 && (r.State == StateFinished || r.State == StateSkipped) {
			drop--
			continue
		}
		kept = append(kept, r)
	}
	clear(m.runs[len(kept):])
	m.runs = kept
}

// saveLog writes the run's log to the state directory and removes the
// oldest logs beyond keep.
func (m *Manager) saveLog(ri *runInfo) {
	dir := filepath.Join(m.opts.StateDir, logsSubdir)
	if err := os.WriteFile(filepath.Join(dir, ri.ID+logSuffix), ri.log.Bytes(), filePerm); err != nil {
		m.log.Warn("keep probe run log", "run_id", ri.ID, "err", err)
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var logs []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), logSuffix); ok && validRunID(id) {
			logs = append(logs, e.Name())
		}
	}
	slices.Sort(logs)
	for len(logs) > m.keep {
		_ = os.Remove(filepath.Join(dir, logs[0]))
		logs = logs[1:]
	}
}

// Seed makes results read back from history the latest again after a
// restart, so that metrics do not forget a probe until its next run.
func (m *Manager) Seed(results []model.ProbeResult) {
	sorted := slices.Clone(results)
	slices.SortFunc(sorted, func(a, b model.ProbeResult) int { return a.Start.Compare(b.Start) })
	m.mu.Lock()
	defer m.mu.Unlock()
	seeded := make([]*runInfo, 0, len(sorted))
	for _, res := range sorted {
		m.record(res)
		seeded = append(seeded, &runInfo{ID: res.RunID, Probe: res.Probe, Trigger: "history", State: StateFinished, Queued: res.Start, Result: &res, History: HistoryWritten})
	}
	m.runs = append(seeded, m.runs...)
	m.prune()
}

// Latest returns the latest result of every probe that ran, by probe name.
func (m *Manager) Latest() []model.ProbeResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]model.ProbeResult, 0, len(m.latest))
	for _, r := range m.latest {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b model.ProbeResult) int { return strings.Compare(a.Probe, b.Probe) })
	return out
}

// LastSuccess returns the latest successful run of every probe that
// succeeded at least once, by probe name: the whole record, because the
// policy judges the data a success restored even after a later failure.
func (m *Manager) LastSuccess() map[string]model.ProbeResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]model.ProbeResult, len(m.lastOK))
	for k, v := range m.lastOK {
		out[k] = v
	}
	return out
}

// Version increases whenever a result is recorded.
func (m *Manager) Version() uint64 { return m.version.Load() }

// States returns the newest run and newest success of every probe that
// ran, ordered by probe name, as the policy reads them.
func (m *Manager) States() []policy.ProbeState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]policy.ProbeState, 0, len(m.latest))
	for name, r := range m.latest {
		st := policy.ProbeState{Newest: &r}
		if ok, found := m.lastOK[name]; found {
			st.NewestSuccess = &ok
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b policy.ProbeState) int { return strings.Compare(a.Newest.Probe, b.Newest.Probe) })
	return out
}

// RunNow queues a run of the named probe as the API does, and returns its
// id.
func (m *Manager) RunNow(name string) (string, error) {
	e, ok := m.entries[name]
	if !ok {
		return "", &refusedError{status: http.StatusNotFound, msg: fmt.Sprintf("unknown probe %q", name)}
	}
	return m.trigger(e, TriggerAPI)
}

// orphanDropper is implemented by probers that create scratch databases:
// it drops one left behind by an earlier process, after checking that the
// database is still the one the probe created.
type orphanDropper interface {
	dropOrphan(ctx context.Context, rec sandboxRecord) error
}

// cleanOrphans removes the sandboxes that the state directory records: an
// earlier process created them and did not get to remove them. A record
// that cannot be acted on safely is kept and reported at every start.
func (m *Manager) cleanOrphans(ctx context.Context) {
	recs, err := m.state.records()
	if err != nil {
		m.log.Error("read sandbox records", "err", err)
	}
	for _, rec := range recs {
		ctx, cancel := context.WithTimeout(ctx, orphanDeadline)
		err := m.cleanOrphan(ctx, rec)
		cancel()
		if err != nil {
			m.log.Error("orphaned sandbox kept", "probe", rec.Probe, "run_id", rec.RunID, "kind", rec.Kind, "name", rec.Name, "err", err)
			continue
		}
		if err := os.Remove(rec.file); err != nil {
			m.log.Warn("forget sandbox record", "file", rec.file, "err", err)
		}
		m.log.Info("orphaned sandbox removed", "probe", rec.Probe, "run_id", rec.RunID, "kind", rec.Kind, "name", rec.Name)
	}
}

func (m *Manager) cleanOrphan(ctx context.Context, rec sandboxRecord) error {
	if rec.Kind != sandboxDatabase {
		return cleanOrphanDir(ctx, rec)
	}
	e, ok := m.entries[rec.Probe]
	if !ok {
		return fmt.Errorf("probe %s is no longer configured, so its sandbox server is unknown; drop database %s yourself and remove %s", rec.Probe, rec.Name, rec.file)
	}
	d, ok := e.prober.(orphanDropper)
	if !ok {
		return fmt.Errorf("probe %s is now of kind %s, which has no databases; drop database %s yourself and remove %s", rec.Probe, e.probe.Kind, rec.Name, rec.file)
	}
	return d.dropOrphan(ctx, rec)
}
