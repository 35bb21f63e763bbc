package collectors

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/prices"
	"github.com/restorable/restorable/internal/runx"
)

// Run is the outcome of one collection of one source.
type Run struct {
	Source   string
	Type     string
	Start    time.Time
	Duration time.Duration
	// Catalog is nil when the collection failed.
	Catalog *model.Catalog
	Err     error
	Kind    runx.Kind
	// Calls and ReadBytes are what the collection cost: external calls by
	// operation and bytes its programs read.
	Calls     map[string]int
	ReadBytes int64
	// Own are Calls as request counts of origin exporter, priced
	// (OwnRequests); set by a Scheduler with a price table.
	Own []model.RequestCount
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Logger *slog.Logger
	Now    func() time.Time
	// OnRun is called once after every collection, from the goroutine
	// that ran it.
	OnRun func(Run)
	// Prices prices the collections' own calls (Run.Own); nil leaves
	// them unpriced and Own empty.
	Prices *prices.Table
}

// Scheduler runs every source in the background on its own schedule, with
// a timeout per run, a bound on concurrent runs and a random start delay
// (jitter) so that many exporters do not hit shared storage at once.
type Scheduler struct {
	opts    SchedulerOptions
	jitter  time.Duration
	sem     chan struct{}
	entries []*entry
	wg      sync.WaitGroup

	// mu guards the fields below: Start and Stop may run at once (an
	// exporter that stops during a reload stops a scheduler the reload
	// has published but not yet started).
	mu sync.Mutex
	// stopped is set by Stop; a Start after it starts nothing.
	stopped bool
	cron    *cron.Cron
	ctx     context.Context
	cancel  context.CancelFunc
}

type entry struct {
	src       *config.Source
	collector Collector
	schedule  cron.Schedule
	// running is held from the start of a run until its collector has
	// returned, which for an abandoned collection is after run returned.
	running sync.Mutex
	// stuck is set while an abandoned collection has not returned.
	stuck atomic.Bool
}

// abandonAfter is how long a collection may go on after its timeout before
// it is reported as timed out without waiting for the collector: a read
// the collector cannot interrupt (a hung network file system) must not
// make the source look as if it were still collecting.
const abandonAfter = 5 * time.Second

// NewScheduler prepares the runs of every configured source.
func NewScheduler(cfg *config.Config, cs map[string]Collector, opts SchedulerOptions) (*Scheduler, error) {
	s := &Scheduler{
		opts:   opts,
		jitter: cfg.Collection.Jitter.D(),
		sem:    make(chan struct{}, max(1, cfg.Collection.Concurrency)),
	}
	for _, src := range cfg.Sources {
		sched, err := src.Schedule()
		if err != nil {
			return nil, fmt.Errorf("schedule of source %s: %w", src.Name, err)
		}
		c, ok := cs[src.Name]
		if !ok {
			return nil, fmt.Errorf("source %s has no collector", src.Name)
		}
		s.entries = append(s.entries, &entry{src: src, collector: c, schedule: sched})
	}
	return s, nil
}

// Start runs every source once right away, then on its schedule. It
// returns at once; runs happen in the background until Stop. A Start
// after Stop (or one that loses a race with Stop) does nothing: a stopped
// scheduler never collects, so that nothing is recorded after the
// exporter closed its history.
func (s *Scheduler) Start(ctx context.Context) {
	// Setting up blocks on nothing, so the lock is held throughout: a
	// Stop at the same time either comes first and this Start does
	// nothing, or sees everything started and stops it.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.cron = cron.New(cron.WithLogger(cron.DiscardLogger))
	for _, e := range s.entries {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.run(e, 0)
		}()
		s.cron.Schedule(e.schedule, cron.FuncJob(func() {
			s.wg.Add(1)
			defer s.wg.Done()
			s.run(e, s.jitter)
		}))
	}
	s.cron.Start()
}

// Stop cancels running collections and waits for them to return. After
// Stop, Start does nothing, even when the scheduler was never started.
func (s *Scheduler) Stop() {
	// The waits below are not made under the lock: Start must not hang
	// behind them.
	s.mu.Lock()
	s.stopped = true
	c, cancel := s.cron, s.cancel
	s.mu.Unlock()
	if cancel == nil {
		return
	}
	// No turn starts after cron.Stop; the running ones are cancelled
	// before they are waited for, or a long collection would hold the
	// exporter's shutdown until it finished on its own.
	running := c.Stop()
	cancel()
	<-running.Done()
	s.wg.Wait()
}

// run collects one source unless its previous run is still going. A turn
// skipped because the previous collection was abandoned past its timeout
// and is still stuck counts as a failed collection, so that the source keeps
// showing as failing instead of as busy.
func (s *Scheduler) run(e *entry, jitter time.Duration) {
	if !e.running.TryLock() {
		if e.stuck.Load() {
			err := runx.Errorf(runx.KindTimeout, "collect: the previous collection is still stuck %s after its timeout of %s; this turn is skipped", abandonAfter, e.src.Timeout)
			s.opts.Logger.Error("collection failed", "backup_source", e.src.Name, "type", e.src.Type, "kind", runx.KindTimeout, "err", err)
			s.opts.OnRun(Run{Source: e.src.Name, Type: e.src.Type, Start: s.opts.Now(), Err: err, Kind: runx.KindTimeout})
			return
		}
		s.opts.Logger.Warn("collection still running, skipping this turn", "backup_source", e.src.Name)
		return
	}
	unlock := e.running.Unlock
	defer func() {
		if unlock != nil {
			unlock()
		}
	}()
	if jitter > 0 {
		t := time.NewTimer(rand.N(jitter))
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}
	select {
	case s.sem <- struct{}{}:
	case <-s.ctx.Done():
		return
	}
	defer func() { <-s.sem }()
	r, finished := collect(s.ctx, e.src, e.collector, s.opts.Now, s.opts.Logger)
	var units map[string]float64
	if u, ok := e.collector.(UnitDeclarer); ok {
		units = u.UnitsPerCall()
	}
	r.Own = OwnRequests(e.src, r, s.opts.Prices, units)
	select {
	case <-finished:
	default:
		// The collector goes on in the background; the source stays
		// locked until it returns, so that stuck collections never pile
		// up, but the concurrency slot is given back.
		e.stuck.Store(true)
		release := unlock
		unlock = nil
		go func() {
			<-finished
			e.stuck.Store(false)
			release()
			s.opts.Logger.Warn("an abandoned collection returned at last", "backup_source", e.src.Name)
		}()
	}
	s.opts.OnRun(r)
}

// Collect runs one collection of src with its timeout and classifies the
// outcome. A panic in a collector is turned into a failed run so that one
// broken source cannot take the exporter down. Collect returns at most
// abandonAfter after the timeout, even when the collector does not.
func Collect(ctx context.Context, src *config.Source, c Collector, now func() time.Time, logger *slog.Logger) Run {
	r, _ := collect(ctx, src, c, now, logger)
	return r
}

// collect is Collect that also returns a channel closed once the collector
// has returned, which may be after collect returned.
func collect(ctx context.Context, src *config.Source, c Collector, now func() time.Time, logger *slog.Logger) (r Run, finished <-chan struct{}) {
	var meter runx.Meter
	ctx, cancel := context.WithTimeout(runx.WithMeter(ctx, &meter), src.Timeout.D())
	defer cancel()
	r = Run{Source: src.Name, Type: src.Type, Start: now()}
	began := time.Now()
	type outcome struct {
		cat *model.Catalog
		err error
	}
	out := make(chan outcome, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var o outcome
		defer func() {
			if p := recover(); p != nil {
				o = outcome{nil, runx.Errorf(runx.KindOther, "collector panicked: %v", p)}
			}
			out <- o
		}()
		o.cat, o.err = c.Collect(ctx)
	}()
	var o outcome
	select {
	case o = <-out:
	case <-ctx.Done():
		t := time.NewTimer(abandonAfter)
		select {
		case o = <-out:
			t.Stop()
		case <-t.C:
			o.err = fmt.Errorf("collect: the collector did not return within %s after its timeout of %s and is abandoned; the source is skipped until it returns: %w", abandonAfter, src.Timeout, ctx.Err())
		}
	}
	r.Duration = time.Since(began)
	r.Calls, r.ReadBytes = meter.Calls(), meter.ReadBytes()
	r.Catalog, r.Err = o.cat, o.err
	if r.Err == nil && ctx.Err() != nil {
		r.Err = fmt.Errorf("collect: %w", ctx.Err())
	}
	if r.Err != nil {
		r.Catalog = nil
		r.Kind = runx.KindOf(r.Err)
		logger.Error("collection failed", "backup_source", src.Name, "type", src.Type, "kind", r.Kind, "duration", r.Duration, "err", r.Err)
		return r, done
	}
	if r.Catalog == nil {
		r.Catalog = &model.Catalog{}
	}
	normalize(src, r.Catalog, r.Start)
	logger.Debug("collection finished", "backup_source", src.Name, "type", src.Type, "backups", len(r.Catalog.Backups), "duration", r.Duration)
	return r, done
}

// normalize fills what every record must carry from the source's settings,
// so that no collector can publish a record without its source, env and
// dataset.
func normalize(src *config.Source, cat *model.Catalog, at time.Time) {
	for i := range cat.Backups {
		b := &cat.Backups[i]
		b.Source = src.Name
		b.Env = cmp.Or(b.Env, src.Env, "unknown")
		b.Dataset = cmp.Or(b.Dataset, src.Dataset, src.Name)
		b.Classification = cmp.Or(b.Classification, src.Classification)
		b.Start, b.End, b.RetainUntil = b.Start.UTC(), b.End.UTC(), b.RetainUntil.UTC()
	}
	for i := range cat.Requests {
		r := &cat.Requests[i]
		r.Source = src.Name
		r.Env = cmp.Or(r.Env, src.Env, "unknown")
		r.Dataset = cmp.Or(r.Dataset, src.Dataset, r.Resource, src.Name)
		r.PeriodStart, r.PeriodEnd = r.PeriodStart.UTC(), r.PeriodEnd.UTC()
	}
	for i := range cat.Repositories {
		r := &cat.Repositories[i]
		r.Source = src.Name
		r.Env = cmp.Or(r.Env, src.Env, "unknown")
		r.Dataset = cmp.Or(r.Dataset, src.Dataset, src.Name)
		r.Name = cmp.Or(r.Name, src.Name)
		if r.ObservedAt.IsZero() {
			r.ObservedAt = at
		}
		r.ObservedAt = r.ObservedAt.UTC()
	}
}
