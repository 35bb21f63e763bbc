package collectors

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
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
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Logger *slog.Logger
	Now    func() time.Time
	// OnRun is called once after every collection, from the goroutine
	// that ran it.
	OnRun func(Run)
}

// Scheduler runs every source in the background on its own schedule, with
// a timeout per run, a bound on concurrent runs and a random start delay
// (jitter) so that many exporters do not hit shared storage at once.
type Scheduler struct {
	opts    SchedulerOptions
	jitter  time.Duration
	sem     chan struct{}
	entries []*entry
	cron    *cron.Cron
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type entry struct {
	src       *config.Source
	collector Collector
	schedule  cron.Schedule
	running   sync.Mutex
}

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
// returns at once; runs happen in the background until Stop.
func (s *Scheduler) Start(ctx context.Context) {
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

// Stop cancels running collections and waits for them to return.
func (s *Scheduler) Stop() {
	if s.cancel == nil {
		return
	}
	<-s.cron.Stop().Done()
	s.cancel()
	s.wg.Wait()
}

// run collects one source unless its previous run is still going.
func (s *Scheduler) run(e *entry, jitter time.Duration) {
	if !e.running.TryLock() {
		s.opts.Logger.Warn("collection still running, skipping this turn", "source", e.src.Name)
		return
	}
	defer e.running.Unlock()
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
	s.opts.OnRun(Collect(s.ctx, e.src, e.collector, s.opts.Now, s.opts.Logger))
}

// Collect runs one collection of src with its timeout and classifies the
// outcome. A panic in a collector is turned into a failed run so that one
// broken source cannot take the exporter down.
func Collect(ctx context.Context, src *config.Source, c Collector, now func() time.Time, logger *slog.Logger) (r Run) {
	var meter runx.Meter
	ctx, cancel := context.WithTimeout(runx.WithMeter(ctx, &meter), src.Timeout.D())
	defer cancel()
	r = Run{Source: src.Name, Type: src.Type, Start: now()}
	began := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.Catalog, r.Err = nil, runx.Errorf(runx.KindOther, "collector panicked: %v", p)
		}
		r.Duration = time.Since(began)
		r.Calls, r.ReadBytes = meter.Calls(), meter.ReadBytes()
		if r.Err == nil && ctx.Err() != nil {
			r.Catalog, r.Err = nil, fmt.Errorf("collect: %w", ctx.Err())
		}
		r.Kind = runx.KindOf(r.Err)
		if r.Err != nil {
			logger.Error("collection failed", "source", src.Name, "type", src.Type, "kind", r.Kind, "duration", r.Duration, "err", r.Err)
			return
		}
		logger.Debug("collection finished", "source", src.Name, "type", src.Type, "backups", len(r.Catalog.Backups), "duration", r.Duration)
	}()
	cat, err := c.Collect(ctx)
	if err != nil {
		r.Err = err
		return r
	}
	if cat == nil {
		cat = &model.Catalog{}
	}
	normalize(src, cat, r.Start)
	r.Catalog = cat
	return r
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
