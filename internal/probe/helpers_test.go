package probe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// catalogs is a fixed set of catalogs.
type catalogs map[string]*model.Catalog

func (c catalogs) Catalog(source string) (*model.Catalog, bool) {
	cat, ok := c[source]
	return cat, ok
}

// loadConfig parses a configuration written to a file in dir, so that
// relative paths resolve against dir.
func loadConfig(t testing.TB, dir, yml string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	return cfg
}

// sourceDBName names a test's source database after the process and the
// test (its length too, so that names cut to the server's limit stay
// apart), in lower-case letters, digits and _.
func sourceDBName(t testing.TB, maxLen int) string {
	name := fmt.Sprintf("probe_test_src_%d_%d_", os.Getpid(), len(t.Name())) + strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, strings.ToLower(t.Name()))
	return name[:min(len(name), maxLen)]
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// harness is a Manager with its results collected.
type harness struct {
	m       *Manager
	results chan model.ProbeResult
	state   string
	clock   *clock
}

func newHarness(t testing.TB, cfg *config.Config, cats Catalogs) *harness {
	t.Helper()
	h := &harness{results: make(chan model.ProbeResult, 16), state: t.TempDir(), clock: &clock{t: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}}
	m, err := NewManager(cfg, cats, Options{Now: h.clock.Now, StateDir: h.state, Sink: func(r model.ProbeResult) error { h.results <- r; return nil }})
	if err != nil {
		t.Fatalf("new manager: %v", err)
	}
	h.m = m
	return h
}

func (h *harness) start(t testing.TB) {
	t.Helper()
	if err := h.m.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(h.m.Stop)
}

// run starts the named probe now and waits for its result.
func (h *harness) run(t testing.TB, name string) model.ProbeResult {
	t.Helper()
	id, err := h.m.RunNow(name)
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	r := h.wait(t)
	// The result reaches the sink before the manager marks the run
	// finished; a test that runs the probe again right away must wait for
	// that, or the manager rightly refuses a second run while one is
	// active. The bound only keeps a broken test from hanging.
	deadline := time.Now().Add(time.Minute)
	for {
		if ri, ok := runOf(h.m, id); ok && ri.State == StateFinished {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s never showed as finished", id, name)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wait returns the next result. The bound only keeps a broken test from
// hanging the suite; it asserts nothing about speed.
func (h *harness) wait(t testing.TB) model.ProbeResult {
	t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-time.After(5 * time.Minute):
		t.Fatal("no probe result")
		return model.ProbeResult{}
	}
}

// records returns the sandbox records left in the state directory.
func (h *harness) records(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.state, sandboxesSubdir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}
