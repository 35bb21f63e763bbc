package collectors

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

type fakeCollector func(ctx context.Context) (*model.Catalog, error)

func (f fakeCollector) Collect(ctx context.Context) (*model.Catalog, error) { return f(ctx) }

func testConfig(t *testing.T, names ...string) *config.Config {
	t.Helper()
	y := "environments:\n  prod: {rpo: 1h}\ncollection: {concurrency: 2, jitter: 1ms}\nsources:\n"
	for _, n := range names {
		y += "  - {name: " + n + ", type: manifest, env: prod, interval: 1h, timeout: 200ms, manifest: {dir: x}}\n"
	}
	cfg, err := config.Parse("test.yml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func okCatalog(id string) *model.Catalog {
	return &model.Catalog{Backups: []model.Backup{{ID: id, Type: model.BackupFull, Status: model.StatusSucceeded,
		Start: time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)}}}
}

// One hanging, one failing, one panicking and one garbage-printing source
// must not hide the healthy one, and each failure must say why.
func TestSchedulerIsolatesFailingSources(t *testing.T) {
	cfg := testConfig(t, "good", "hangs", "fails", "panics", "garbage")
	cs := map[string]Collector{
		"good": fakeCollector(func(context.Context) (*model.Catalog, error) { return okCatalog("b1"), nil }),
		"hangs": fakeCollector(func(ctx context.Context) (*model.Catalog, error) {
			<-ctx.Done() // a well-behaved collector returns when its deadline passes
			return nil, ctx.Err()
		}),
		"fails": fakeCollector(func(context.Context) (*model.Catalog, error) {
			return nil, runx.Errorf(runx.KindExit, "restic snapshots: exit status 1: repository does not exist")
		}),
		"panics": fakeCollector(func(context.Context) (*model.Catalog, error) { panic("index out of range") }),
		"garbage": fakeCollector(func(context.Context) (*model.Catalog, error) {
			return nil, runx.ParseError(errors.New("parse restic snapshots output: invalid character 'x'"))
		}),
	}
	store := NewStore()
	store.Configure(cfg)
	runs := make(chan Run, 10)
	s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(r Run) {
		store.Record(r)
		runs <- r
	}})
	if err != nil {
		t.Fatal(err)
	}
	if store.Ready() {
		t.Fatal("ready before any collection")
	}
	s.Start(context.Background())
	defer s.Stop()
	got := map[string]Run{}
	for len(got) < 5 {
		select {
		case r := <-runs:
			got[r.Source] = r
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d of 5 sources reported: %v", len(got), got)
		}
	}
	want := map[string]runx.Kind{"good": runx.KindNone, "hangs": runx.KindTimeout, "fails": runx.KindExit, "panics": runx.KindOther, "garbage": runx.KindParse}
	for src, kind := range want {
		if got[src].Kind != kind {
			t.Errorf("%s: kind %q (err %v), want %q", src, got[src].Kind, got[src].Err, kind)
		}
	}
	if !store.Ready() {
		t.Error("not ready after every source was tried")
	}
	v := store.View()
	if st := v.Source("good"); !st.Success() || st.Catalog == nil || st.Catalog.Backups[0].Env != "prod" || st.Catalog.Backups[0].Source != "good" {
		t.Errorf("good source state = %+v", st)
	}
	if st := v.Source("hangs"); st.Success() || st.Catalog != nil || st.LastError == "" {
		t.Errorf("hanging source state = %+v", st)
	}
}

// A failed collection keeps the last good catalog, so freshness keeps ageing
// from the last known backup instead of vanishing.
func TestStoreKeepsLastGoodCatalogOnFailure(t *testing.T) {
	cfg := testConfig(t, "a")
	store := NewStore()
	store.Configure(cfg)
	now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	store.Record(Run{Source: "a", Type: "manifest", Start: now, Catalog: okCatalog("b1")})
	store.Record(Run{Source: "a", Type: "manifest", Start: now.Add(time.Hour), Err: errors.New("boom"), Kind: runx.KindOther})
	st := store.View().Source("a")
	if st.Success() || st.Catalog == nil || st.Catalog.Backups[0].ID != "b1" || !st.LastSuccess.Equal(now) {
		t.Errorf("state after failure = %+v", st)
	}
}

func TestStoreSeedAndReload(t *testing.T) {
	cfg := testConfig(t, "a", "b")
	store := NewStore()
	store.Configure(cfg)
	seeded := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	store.Seed("a", okCatalog("old"), seeded)
	st := store.View().Source("a")
	if !st.FromHistory || st.Tried || !st.LastSuccess.Equal(seeded) {
		t.Errorf("seeded state = %+v", st)
	}
	if store.Ready() {
		t.Error("a seeded source counts as tried")
	}
	store.Record(Run{Source: "a", Type: "manifest", Start: seeded.Add(time.Hour), Catalog: okCatalog("new")})
	store.Seed("a", okCatalog("old"), seeded)
	if st := store.View().Source("a"); st.FromHistory || st.Catalog.Backups[0].ID != "new" {
		t.Errorf("a late seed overwrote a fresh collection: %+v", st)
	}
	// Reload without b: its state goes, a's stays.
	store.Configure(testConfig(t, "a"))
	v := store.View()
	if v.Source("b") != nil || v.Source("a").Catalog.Backups[0].ID != "new" {
		t.Errorf("after reload: %+v", v.Sources)
	}
	if got := v.Source("a").Interval; got != time.Hour {
		t.Errorf("interval = %s, want 1h", got)
	}
}

func TestSchedulerBoundsConcurrency(t *testing.T) {
	cfg := testConfig(t, "s1", "s2", "s3", "s4", "s5")
	var running, peak atomic.Int32
	cs := map[string]Collector{}
	for _, n := range []string{"s1", "s2", "s3", "s4", "s5"} {
		cs[n] = fakeCollector(func(ctx context.Context) (*model.Catalog, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-ctx.Done()
			running.Add(-1)
			return &model.Catalog{}, nil
		})
	}
	done := make(chan Run, 5)
	s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(r Run) { done <- r }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	defer s.Stop()
	// Every collection blocks until its 200ms timeout, so without a bound
	// all five would run at once.
	for range 5 {
		<-done
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("%d collections ran at once, limit is 2", p)
	}
}

// A collector stuck in a read it cannot interrupt (the FIFO, a hung
// network file system) is reported as timed out shortly after its timeout
// instead of keeping the source "still running" for ever; while it stays
// stuck every turn counts as a failed collection, and once it returns the
// source is collected again.
func TestSchedulerAbandonsAStuckCollector(t *testing.T) {
	cfg := testConfig(t, "stuck")
	release := make(chan struct{})
	var calls atomic.Int32
	cs := map[string]Collector{"stuck": fakeCollector(func(context.Context) (*model.Catalog, error) {
		if calls.Add(1) == 1 {
			<-release // ignores its context
		}
		return okCatalog("b1"), nil
	})}
	runs := make(chan Run, 10)
	s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(r Run) { runs <- r }})
	if err != nil {
		t.Fatal(err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer s.cancel()
	e := s.entries[0]
	// Without the fix the first turn never reports; the 20s bound only
	// keeps a broken scheduler from hanging the suite.
	turn := func() Run {
		t.Helper()
		go s.run(e, 0)
		select {
		case r := <-runs:
			return r
		case <-time.After(20 * time.Second):
			t.Fatal("no run reported within 20s")
			return Run{}
		}
	}
	r := turn()
	if r.Kind != runx.KindTimeout || r.Catalog != nil || !strings.Contains(r.Err.Error(), "abandoned") {
		t.Fatalf("stuck collection: kind %q err %v", r.Kind, r.Err)
	}
	r = turn()
	if r.Kind != runx.KindTimeout || !strings.Contains(r.Err.Error(), "previous collection is still stuck") {
		t.Errorf("turn while stuck: kind %q err %v", r.Kind, r.Err)
	}
	if calls.Load() != 1 {
		t.Errorf("the collector was called %d times while stuck, want 1 (no pile-up)", calls.Load())
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for !e.running.TryLock() {
		if time.Now().After(deadline) {
			t.Fatal("the source stayed locked after its collector returned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.running.Unlock()
	if r = turn(); r.Err != nil || r.Catalog == nil {
		t.Errorf("after the collector returned: %v", r.Err)
	}
}

// The exporter logs through promslog, which keeps the key "source" for the
// caller's file and line and renames any other "source" to
// "logged_source". The name of the backup source a message is about must
// come out under a key of its own.
func TestFailureLogNamesTheBackupSource(t *testing.T) {
	cfg := testConfig(t, "payments-db")
	var buf syncBuffer
	level := promslog.NewLevel()
	if err := level.Set("debug"); err != nil {
		t.Fatal(err)
	}
	logger := promslog.New(&promslog.Config{Level: level, Writer: &buf})
	cs := map[string]Collector{"payments-db": fakeCollector(func(context.Context) (*model.Catalog, error) {
		return nil, runx.Errorf(runx.KindExit, "exit status 1")
	})}
	runs := make(chan Run, 1)
	s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: logger, Now: time.Now, OnRun: func(r Run) { runs <- r }})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	select {
	case <-runs:
	case <-time.After(30 * time.Second):
		t.Fatal("no collection")
	}
	s.Stop()
	out := buf.String()
	if !strings.Contains(out, "backup_source=payments-db") || strings.Contains(out, "logged_source") {
		t.Errorf("failure log does not name the source under backup_source:\n%s", out)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Stop cancels a scheduled collection that is running and waits for it
// to return, rather than waiting for it to finish on its own: a SIGTERM
// during a long listing stopped the exporter only once the listing (and
// its timeout, an hour here) was over.
func TestStopCancelsScheduledCollections(t *testing.T) {
	cfg, err := config.Parse("test.yml", []byte("environments:\n  prod: {rpo: 1h}\ncollection: {jitter: 1ms}\nsources:\n"+
		"  - {name: slow, type: manifest, env: prod, interval: 1s, timeout: 1h, manifest: {dir: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	started := make(chan struct{})
	cs := map[string]Collector{"slow": fakeCollector(func(ctx context.Context) (*model.Catalog, error) {
		if calls.Add(1) == 1 {
			return okCatalog("b1"), nil
		}
		close(started) // the scheduled turn, not the one at start
		<-ctx.Done()
		return nil, ctx.Err()
	})}
	s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(Run) {}})
	if err != nil {
		t.Fatal(err)
	}
	s.Start(context.Background())
	select {
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("the scheduled collection did not start")
	}
	stopped := make(chan struct{})
	go func() {
		s.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop waited for the running collection instead of cancelling it")
	}
}

// A Start after Stop collects nothing, neither at once nor on the
// schedule: an exporter that stops during a reload stops the new
// scheduler before the reload starts it, and a collection then would be
// recorded into a history already closed.
func TestStartAfterStopCollectsNothing(t *testing.T) {
	cfg, err := config.Parse("test.yml", []byte("environments:\n  prod: {rpo: 1h}\ncollection: {jitter: 1ms}\nsources:\n"+
		"  - {name: db, type: manifest, env: prod, interval: 1s, timeout: 1h, manifest: {dir: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var calls, runs atomic.Int32
	cs := map[string]Collector{"db": fakeCollector(func(context.Context) (*model.Catalog, error) {
		calls.Add(1)
		return okCatalog("b1"), nil
	})}
	s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(Run) { runs.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Stop()
	s.Start(context.Background())
	defer s.Stop()
	// Past the run at start and the first scheduled turn (every second).
	time.Sleep(1500 * time.Millisecond)
	if c, r := calls.Load(), runs.Load(); c != 0 || r != 0 {
		t.Errorf("after Stop, Start collected %d times and reported %d runs, want none", c, r)
	}
}

// Start and Stop at once (a reload racing the exporter's shutdown): once
// both have returned, no collection runs or reports any more, whichever
// came first; the race detector checks that they share nothing unguarded.
func TestStopRacingStartLeavesNothingRunning(t *testing.T) {
	cfg, err := config.Parse("test.yml", []byte("environments:\n  prod: {rpo: 1h}\ncollection: {jitter: 1ms}\nsources:\n"+
		"  - {name: db, type: manifest, env: prod, interval: 1s, timeout: 1h, manifest: {dir: x}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	cs := map[string]Collector{"db": fakeCollector(func(context.Context) (*model.Catalog, error) {
		return okCatalog("b1"), nil
	})}
	for range 50 {
		s, err := NewScheduler(cfg, cs, SchedulerOptions{Logger: slog.New(slog.DiscardHandler), Now: time.Now, OnRun: func(Run) { runs.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			s.Start(context.Background())
		}()
		go func() {
			defer wg.Done()
			s.Stop()
		}()
		wg.Wait()
	}
	before := runs.Load()
	time.Sleep(1500 * time.Millisecond)
	if after := runs.Load(); after != before {
		t.Errorf("%d runs were reported after every scheduler had stopped", after-before)
	}
}
