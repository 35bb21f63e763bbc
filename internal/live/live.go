// Package live is the exporter's producer of the one policy evaluation. It
// holds what the exporter knows now, the latest catalog of every source
// and what a policy.Memory remembers of earlier collections, records every
// collection in the history before the state it serves changes, reads the
// state back from history after a restart, and turns it into the
// policy.Input that internal/policy evaluates. The analyzer fills the same
// Input from the history (internal/duck), so the exporter's gate and
// metrics and `analyze gate` and `analyze findings` judge the same facts.
package live

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// State is the exporter's live state. History is nil when history is off;
// the Memory then remembers only what was collected since the start.
type State struct {
	Store   *collectors.Store
	History *history.Writer
	Memory  *policy.Memory
	// Now is the clock; collections without history are stamped with it.
	Now func() time.Time

	// evWriteMu serialises RecordEvents; evMu guards ev.
	evWriteMu sync.Mutex
	evMu      sync.Mutex
	ev        events
	// probeMu guards probes, the restore tests sources reported.
	probeMu sync.Mutex
	probes  collected
}

// New returns the live state over a store and an optional history writer.
func New(store *collectors.Store, hist *history.Writer, now func() time.Time) *State {
	return &State{Store: store, History: hist, Memory: policy.NewMemory(), Now: now, ev: events{ids: map[string]struct{}{}},
		probes: collected{states: map[string]*policy.ProbeState{}, runs: map[string]struct{}{}}}
}

// Seed reads the last state back from history: every source's catalog,
// the memory of earlier collections (failed attempts within cfg's failures
// window), the restore tests sources reported, and the results of the
// probes, which it returns for the probe manager.
func (s *State) Seed(cfg *config.Config) ([]model.ProbeResult, error) {
	if s.History == nil {
		return nil, nil
	}
	snap, err := s.History.Latest()
	if err != nil {
		return nil, err
	}
	failed, err := s.History.FailedSince(s.Now().Add(-cfg.Checks.Failures.Window.D()))
	if err != nil {
		return nil, err
	}
	sources := map[string]bool{}
	for src := range snap.Backups {
		sources[src] = true
	}
	for src := range snap.Repositories {
		sources[src] = true
	}
	for src := range sources {
		s.Store.Seed(src, &model.Catalog{Backups: snap.Backups[src], Repositories: snap.Repositories[src]}, time.Time{})
	}
	series := make([]policy.SeriesSummary, 0, len(snap.Series))
	for _, r := range snap.Series {
		series = append(series, policy.SeriesSummary{
			Series:  model.SeriesKey{Env: r.Env, Source: r.Source, Dataset: r.Dataset},
			Release: r.Release, FirstSeen: r.FirstSeen, FirstGood: r.FirstGood, LastSeen: r.LastCollectedAt,
		})
	}
	s.Memory.Seed(series, failed, snap.Backups, snap.WALSince, snap.Repositories)
	var states []policy.ProbeState
	var reported []model.ProbeResult
	for name, r := range snap.Probes {
		st := policy.ProbeState{Newest: &r}
		if ok, found := snap.ProbeSuccesses[name]; found {
			st.NewestSuccess = &ok
		}
		if r.Collected {
			reported = append(reported, policy.Runs([]policy.ProbeState{st})...)
			continue
		}
		states = append(states, st)
	}
	s.probeMu.Lock()
	s.probes.take(reported)
	s.probeMu.Unlock()
	return policy.Runs(states), nil
}

// Record takes one finished collection: a catalog is appended to history
// first, then remembered, and only then served, so that what a scrape or
// the gate shows is already persisted and comes back after a restart. A
// failed history write is returned, and the catalog is still served.
func (s *State) Record(r collectors.Run) (history.Stats, error) {
	defer s.Store.Record(r)
	if r.Catalog == nil {
		return history.Stats{}, nil
	}
	var (
		st  history.Stats
		err error
	)
	at := s.Now()
	// The restore tests the catalog reports are taken once each, in the
	// version the history holds: with a history, those it wrote now.
	tests := r.Catalog.Probes
	if s.History != nil {
		st, err = s.History.AppendCatalog(r.Source, r.Catalog)
		if err != nil {
			err = fmt.Errorf("append catalog of %s to history: %w", r.Source, err)
		} else {
			at = st.CollectedAt
		}
		var perr error
		if tests, perr = s.History.AppendNewProbes(tests...); perr != nil && err == nil {
			err = fmt.Errorf("append restore tests of %s to history: %w", r.Source, perr)
		}
		st.Probes = len(tests)
	}
	s.probeMu.Lock()
	s.probes.take(tests)
	s.probeMu.Unlock()
	s.Memory.Observe(r.Source, r.Catalog, at)
	return st, err
}

// Input is the policy input of the state at at, under cfg, with the given
// probe states (the probe manager's) and the restore tests sources
// reported: the catalogs of the configured sources as the store holds
// them (never copied into one slice), what the memory adds and the release
// events recorded.
func (s *State) Input(cfg *config.Config, at time.Time, probes []policy.ProbeState) policy.Input {
	view := s.Store.View()
	var catalogs [][]model.Backup
	var repos []policy.RepositoryState
	for _, src := range view.Sources {
		if src.Catalog == nil {
			continue
		}
		catalogs = append(catalogs, src.Catalog.Backups)
		for _, r := range src.Catalog.Repositories {
			repos = append(repos, policy.RepositoryState{Repository: r})
		}
	}
	in := policy.Input{
		At:           at.UTC(),
		Since:        at.UTC().Add(-cfg.Checks.Period.D()),
		Backups:      policy.Backups(catalogs...),
		Repositories: repos,
		Probes:       append(slices.Clip(probes), s.CollectedProbes()...),
		Events:       s.Events(),
	}
	s.Memory.Fill(&in, cfg.Checks.Failures.Window.D())
	return in
}
