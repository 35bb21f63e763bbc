package probe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// commandConfig is a configuration of command probes run from dir.
func commandConfig(t *testing.T, dir, probes string) *config.Config {
	t.Helper()
	return loadConfig(t, dir, "environments:\n  prod: {rpo: 1h}\nprobes:\n"+probes)
}

// newManager builds a manager on stateDir with sink, retrying refused
// results after 10 ms instead of seconds.
func newManager(t *testing.T, cfg *config.Config, stateDir string, sink func(model.ProbeResult) error) *Manager {
	t.Helper()
	m, err := NewManager(cfg, catalogs{}, Options{Now: time.Now, StateDir: stateDir, Sink: sink})
	if err != nil {
		t.Fatal(err)
	}
	m.retryAfter = func(time.Duration) <-chan time.Time { return time.After(10 * time.Millisecond) }
	return m
}

// runOf returns the run with id as the API lists it.
func runOf(m *Manager, id string) (runInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.runs {
		if r.ID == id {
			return *r, true
		}
	}
	return runInfo{}, false
}

// waitFor polls cond until it holds; the bound only keeps a broken test
// from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The case: a check whose helper starts a session of its own and
// keeps the output pipe open stayed "running" past its timeout. The run
// now ends at its timeout, as a failure that says so.
func TestCommandProbeWithSetsidHelperEndsAtItsTimeout(t *testing.T) {
	dir := t.TempDir()
	cfg := commandConfig(t, dir, `  - {name: stuck, kind: command, env: prod, timeout: 1s, options: {command: [sh, -c, "setsid sleep 600 & exec sleep 100000"]}}`+"\n")
	results := make(chan model.ProbeResult, 1)
	m := newManager(t, cfg, t.TempDir(), func(r model.ProbeResult) error { results <- r; return nil })
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	id, err := m.RunNow("stuck")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-results:
		if r.Success || !strings.Contains(r.Error, "timed out after 1s") {
			t.Errorf("result: success %v, error %q; want a timeout", r.Success, r.Error)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end within 20s although its timeout is 1s")
	}
	// The result is written before it is served: the state follows.
	waitFor(t, "the run shows as finished", func() bool { ri, _ := runOf(m, id); return ri.State == StateFinished })
}

// The case: 1.5 GB of output held whole. A command probe keeps only
// the tail it reports, however much the check prints.
func TestCommandProbeOutputCostsNoMemory(t *testing.T) {
	dir := t.TempDir()
	const printed = 200 << 20
	cfg := commandConfig(t, dir, fmt.Sprintf(`  - {name: chatty, kind: command, env: prod, timeout: 1m, options: {output_tail: 64, command: [sh, -c, "head -c %d /dev/zero | tr '\\000' x; echo; echo the end"]}}`, printed)+"\n")
	results := make(chan model.ProbeResult, 1)
	m := newManager(t, cfg, t.TempDir(), func(r model.ProbeResult) error { results <- r; return nil })
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := m.RunNow("chatty"); err != nil {
		t.Fatal(err)
	}
	var r model.ProbeResult
	select {
	case r = <-results:
	case <-time.After(time.Minute):
		t.Fatal("no result within a minute")
	}
	runtime.ReadMemStats(&after)
	if !r.Success || !strings.HasSuffix(r.Details, "the end") || len(r.Details) > 64 {
		t.Errorf("result: success %v (%s), details %q", r.Success, r.Error, r.Details)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > printed/4 {
		t.Errorf("the run allocated %d MiB for %d MiB of output; the output must not be held", grew>>20, printed>>20)
	}
}

// The case: a result whose history write failed (disk full) was
// never retried. Here the real history fails to write the run's partition,
// then recovers: the result is retried until it is in history, and the API
// says meanwhile that it is pending and why.
func TestResultIsRetriedUntilInHistory(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(t.TempDir(), "history")
	h, err := history.Open(root, history.Options{Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close() //nolint:errcheck // test
	// A file where the day's partition directory must go makes every
	// append of a probe result fail, as a full disk does.
	blocker := filepath.Join(root, history.TableProbes, "dt="+time.Now().UTC().Format("2006-01-02"))
	if err := os.MkdirAll(filepath.Dir(blocker), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failures := 0
	cfg := commandConfig(t, dir, `  - {name: check, kind: command, env: prod, options: {command: ["true"]}}`+"\n")
	m := newManager(t, cfg, t.TempDir(), func(r model.ProbeResult) error {
		err := h.AppendProbes(r)
		if err != nil {
			mu.Lock()
			failures++
			mu.Unlock()
		}
		return err
	})
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	id, err := m.RunNow("check")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "history refused the result twice", func() bool { mu.Lock(); defer mu.Unlock(); return failures >= 2 })
	ri, _ := runOf(m, id)
	if ri.State != StateFinished || ri.History != HistoryPending || ri.HistoryError == "" {
		t.Errorf("while history fails the run shows state %q, history %q (%q)", ri.State, ri.History, ri.HistoryError)
	}
	if latest := m.Latest(); len(latest) != 1 || latest[0].RunID != id {
		t.Errorf("the result is not served while it waits for history: %+v", latest)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the result was written", func() bool { ri, _ := runOf(m, id); return ri.History == HistoryWritten })
	snap, err := h.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Probes["check"]; got.RunID != id || !got.Success {
		t.Errorf("history holds %+v, want run %s", got, id)
	}
	if _, err := os.Stat(filepath.Join(m.opts.StateDir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the pending file is left behind once everything is written: %v", err)
	}
}

// The case: a reload lost the result of the run it cancelled. The
// cancelled run's result says why it ended, and the next manager (after
// the reload) serves it and writes it to history, even when the old one
// could not.
func TestReloadKeepsTheResultOfTheRunItCancelled(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		stop         func(*Manager)
	}{
		{"reload", ReasonReload, func(m *Manager) { m.StopFor(ReasonReload) }},
		{"shutdown", ReasonShutdown, (*Manager).Stop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, state := t.TempDir(), t.TempDir()
			cfg := commandConfig(t, dir, `  - {name: long, kind: command, env: prod, timeout: 1h, options: {command: [sleep, "600"]}}`+"\n")
			old := newManager(t, cfg, state, func(model.ProbeResult) error { return errors.New("no space left on device") })
			if err := old.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			id, err := old.RunNow("long")
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the run started", func() bool { ri, _ := runOf(old, id); return ri.State == StateRunning })
			stopped := make(chan struct{})
			go func() { tc.stop(old); close(stopped) }()
			select {
			case <-stopped:
			case <-time.After(time.Minute):
				t.Fatal("stop did not return within a minute")
			}

			written := make(chan model.ProbeResult, 4)
			next := newManager(t, cfg, state, func(r model.ProbeResult) error { written <- r; return nil })
			if err := next.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer next.Stop()
			latest := next.Latest()
			if len(latest) != 1 || latest[0].RunID != id || latest[0].Success || !strings.Contains(latest[0].Error, tc.reason) {
				t.Fatalf("after the %s the probe's latest result is %+v, want run %s failed with %q", tc.name, latest, id, tc.reason)
			}
			if ri, ok := runOf(next, id); !ok || ri.State != StateFinished || ri.Result == nil {
				t.Errorf("the API does not list the cancelled run: %+v", ri)
			}
			select {
			case r := <-written:
				if r.RunID != id || !strings.Contains(r.Error, tc.reason) {
					t.Errorf("written %+v, want run %s", r, id)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the cancelled run's result never reached history")
			}
		})
	}
}

// A run's result that history took before the stop is served after it but
// not written twice.
func TestWrittenResultsAreNotWrittenAgainAfterReload(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	cfg := commandConfig(t, dir, `  - {name: long, kind: command, env: prod, timeout: 1h, options: {command: [sleep, "600"]}}`+"\n")
	var mu sync.Mutex
	var got []string
	sink := func(r model.ProbeResult) error { mu.Lock(); got = append(got, r.RunID); mu.Unlock(); return nil }
	old := newManager(t, cfg, state, sink)
	if err := old.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	id, err := old.RunNow("long")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the run started", func() bool { ri, _ := runOf(old, id); return ri.State == StateRunning })
	old.StopFor(ReasonReload)
	next := newManager(t, cfg, state, sink)
	if err := next.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer next.Stop()
	if l := next.Latest(); len(l) != 1 || l[0].RunID != id {
		t.Fatalf("latest after reload: %+v", l)
	}
	time.Sleep(100 * time.Millisecond) // let a wrong second write happen
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Errorf("history was handed %v, want run %s once", got, id)
	}
}

// Results are never dropped: when maxPending results wait for history, no
// run starts, and the refusal says why.
func TestFullPendingQueueRefusesRuns(t *testing.T) {
	dir := t.TempDir()
	cfg := commandConfig(t, dir, `  - {name: check, kind: command, env: prod, options: {command: ["true"]}}`+"\n")
	block := make(chan struct{})
	m := newManager(t, cfg, t.TempDir(), func(model.ProbeResult) error { <-block; return errors.New("no space left on device") })
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	defer close(block)
	m.mu.Lock()
	for i := range maxPending {
		m.pending = append(m.pending, &pendingResult{Result: model.ProbeResult{RunID: fmt.Sprintf("r%d", i), Probe: "check"}})
	}
	m.sinkErr = errors.New("no space left on device")
	m.mu.Unlock()
	_, err := m.RunNow("check")
	var re *refusedError
	if !errors.As(err, &re) || re.status != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "1000 probe results wait to be written to history (last error: no space left on device)") {
		t.Errorf("RunNow with a full queue: %v", err)
	}
}

// A refused result is retried after 1 s, then after twice as long each
// time, at most every 5 minutes.
func TestRetryBackoff(t *testing.T) {
	dir := t.TempDir()
	cfg := commandConfig(t, dir, `  - {name: check, kind: command, env: prod, options: {command: ["true"]}}`+"\n")
	m := newManager(t, cfg, t.TempDir(), func(model.ProbeResult) error { return errors.New("no space left on device") })
	waits := make(chan time.Duration, 100)
	m.retryAfter = func(d time.Duration) <-chan time.Time {
		waits <- d
		c := make(chan time.Time, 1)
		c <- time.Now()
		return c
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Stop()
	if _, err := m.RunNow("check"); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300}
	for i, w := range want {
		select {
		case d := <-waits:
			if d != w*time.Second {
				t.Fatalf("wait %d before a retry: %s, want %s", i+1, d, w*time.Second)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("only %d retries", i)
		}
	}
}

// A stop does not wait for ever for a Sink that hangs: the result stays in
// the pending file for the next start.
func TestStopDoesNotWaitForAHangingSink(t *testing.T) {
	dir, state := t.TempDir(), t.TempDir()
	cfg := commandConfig(t, dir, `  - {name: check, kind: command, env: prod, options: {command: ["true"]}}`+"\n")
	hang := make(chan struct{})
	calls := make(chan struct{}, 10)
	m := newManager(t, cfg, state, func(model.ProbeResult) error {
		calls <- struct{}{}
		if len(calls) == 1 {
			return errors.New("no space left on device")
		}
		<-hang
		return nil
	})
	m.stopWait = 100 * time.Millisecond
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Let the hanging call return before the state directory is removed.
	defer func() { close(hang); <-m.persistStopped }()
	id, err := m.RunNow("check")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retry hangs", func() bool { return len(calls) >= 2 })
	stopped := make(chan struct{})
	go func() { m.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop waits for a hanging Sink")
	}
	left, err := readPending(state)
	if err != nil || len(left) != 1 || left[0].Result.RunID != id || left[0].Written {
		t.Errorf("pending file after the stop: %+v, %v; want run %s not written", left, err, id)
	}
}
