package collectors

import (
	"slices"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// SourceState is what the exporter knows about one source. It is never
// modified after it was handed out, so readers need no lock.
type SourceState struct {
	Source string
	Type   string
	// Catalog is the catalog of the last successful collection, or the one
	// read back from history after a restart; nil when neither exists.
	Catalog *model.Catalog
	// FromHistory is true while Catalog was read back from history and no
	// collection has succeeded since the start.
	FromHistory bool
	// Tried is true once a collection of this source finished (either way)
	// since the exporter started.
	Tried        bool
	LastRun      time.Time
	LastDuration time.Duration
	LastSuccess  time.Time
	LastError    string
	LastKind     runx.Kind
	// Interval is the expected time between runs, for staleness alerts.
	Interval time.Duration
}

// Success reports whether the last finished collection succeeded.
func (s *SourceState) Success() bool { return s.Tried && s.LastKind == runx.KindNone }

// View is an immutable snapshot of every source's state.
type View struct {
	// Version increases with every change, so derived data (metrics, gate
	// answers) can be cached per version.
	Version uint64
	Sources []*SourceState // sorted by source name
}

// Source returns the state of the named source, or nil.
func (v *View) Source(name string) *SourceState {
	i, ok := slices.BinarySearchFunc(v.Sources, name, func(s *SourceState, n string) int {
		switch {
		case s.Source < n:
			return -1
		case s.Source > n:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return v.Sources[i]
}

// Store holds the latest state of every configured source.
type Store struct {
	mu   sync.RWMutex
	view *View
}

// NewStore returns an empty store.
func NewStore() *Store { return &Store{view: &View{}} }

// Configure sets the sources that exist: state of sources that are still
// configured with the same type is kept across reloads, others are dropped.
func (s *Store) Configure(cfg *config.Config) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next []*SourceState
	for _, src := range cfg.Sources {
		interval := ScheduleInterval(src)
		if old := s.view.Source(src.Name); old != nil && old.Type == src.Type {
			cp := *old
			cp.Interval = interval
			next = append(next, &cp)
			continue
		}
		next = append(next, &SourceState{Source: src.Name, Type: src.Type, Interval: interval})
	}
	slices.SortFunc(next, func(a, b *SourceState) int {
		if a.Source < b.Source {
			return -1
		}
		if a.Source > b.Source {
			return 1
		}
		return 0
	})
	s.view = &View{Version: s.view.Version + 1, Sources: next}
}

// ScheduleInterval is the expected time between two collections of src:
// the interval of @every, the usual gap of a cron spec.
func ScheduleInterval(src *config.Source) time.Duration {
	sched, err := src.Schedule()
	if err != nil {
		return 0
	}
	// The gap between two consecutive activations from a fixed point is
	// the interval for @every and the usual gap for cron specs.
	t0 := time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC)
	t1 := sched.Next(t0)
	return sched.Next(t1).Sub(t1)
}

// Seed installs a catalog read back from history after a restart, so that
// freshness metrics are right before the first collection finishes. A
// source that has already been collected since the start is left alone.
func (s *Store) Seed(source string, cat *model.Catalog, lastSuccess time.Time) {
	s.update(source, func(st *SourceState) {
		if st.Tried && st.Success() {
			return
		}
		st.Catalog, st.FromHistory = cat, true
		if lastSuccess.After(st.LastSuccess) {
			st.LastSuccess = lastSuccess
		}
	})
}

// Record stores the outcome of a collection. A failed run keeps the last
// good catalog: the backups did not vanish because the catalog could not
// be read, and freshness must keep ageing from the last known backup.
func (s *Store) Record(r Run) {
	s.update(r.Source, func(st *SourceState) {
		st.Tried = true
		st.LastRun = r.Start
		st.LastDuration = r.Duration
		st.LastKind = r.Kind
		st.LastError = ""
		if r.Err != nil {
			st.LastError = r.Err.Error()
			return
		}
		st.Catalog, st.FromHistory = r.Catalog, false
		st.LastSuccess = r.Start.Add(r.Duration)
	})
}

func (s *Store) update(source string, f func(*SourceState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.view.Source(source)
	if old == nil {
		return // not configured (any more)
	}
	cp := *old
	f(&cp)
	next := slices.Clone(s.view.Sources)
	for i, st := range next {
		if st.Source == source {
			next[i] = &cp
		}
	}
	s.view = &View{Version: s.view.Version + 1, Sources: next}
}

// View returns the current state.
func (s *Store) View() *View {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.view
}

// Ready reports whether every configured source was tried since the start.
func (s *Store) Ready() bool {
	for _, st := range s.View().Sources {
		if !st.Tried {
			return false
		}
	}
	return true
}

// Catalog returns the latest catalog of a source.
func (s *Store) Catalog(source string) (*model.Catalog, bool) {
	st := s.View().Source(source)
	if st == nil || st.Catalog == nil {
		return nil, false
	}
	return st.Catalog, true
}
