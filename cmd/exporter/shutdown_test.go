package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Close stops a collection that is running and returns: the collection,
// cancelled, reports its run, and recording a run takes the lock Close
// held while it waited for the collection (an exporter given SIGTERM
// during a collection never exited).
func TestCloseDuringACollection(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	tool := filepath.Join(dir, "pgbackrest")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\ntouch "+started+"\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments: {prod: {rpo: 1h}}
sources:
  - {name: slow-db, type: pgbackrest, env: prod, interval: 1h, timeout: 10m, pgbackrest: {binary: `+tool+`}}
history: {root: `+filepath.Join(dir, "history")+`}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, appOptions{ConfigFile: cfg, Logger: slog.New(slog.DiscardHandler), Now: time.Now, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	waitForFile(t, a, started, "the collection did not start")
	closed := make(chan struct{})
	go func() {
		a.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return while a collection was running")
	}
}

// A reload after Close is refused and changes nothing: no scheduler
// starts, so no collection runs and nothing is recorded into the history
// Close has flushed and closed.
func TestReloadAfterCloseIsRefused(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	tool := filepath.Join(dir, "pgbackrest")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\necho run >> "+runs+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	source := func(name string) string {
		return "  - {name: " + name + ", type: pgbackrest, env: prod, interval: 1h, timeout: 10m, pgbackrest: {binary: " + tool + "}}\n"
	}
	write := func(sources string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte("environments: {prod: {rpo: 1h}}\nsources:\n"+sources+
			"history: {root: "+filepath.Join(dir, "history")+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(source("db"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, appOptions{ConfigFile: cfg, Logger: slog.New(slog.DiscardHandler), Now: time.Now, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	waitForFile(t, a, runs, "the collection at start did not run")
	a.Close()
	before, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	write(source("db") + source("other-db"))
	if err := a.Reload(); !errors.Is(err, errShuttingDown) {
		t.Fatalf("Reload after Close returned %v, want %v", err, errShuttingDown)
	}
	a.mu.Lock()
	n := len(a.cfg.Sources)
	a.mu.Unlock()
	if n != 1 {
		t.Errorf("after a refused reload the configuration has %d sources, want the 1 it had", n)
	}
	// A started scheduler runs every source at once.
	time.Sleep(time.Second)
	after, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("collections ran after Close and a refused reload: %q, then %q", before, after)
	}
}

// waitForFile waits up to 30 s for a file a fake tool writes; without it
// it closes the app and fails with msg.
func waitForFile(t *testing.T, a *app, path, msg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			a.Close()
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
