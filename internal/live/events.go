package live

import (
	"fmt"
	"slices"

	"github.com/restorable/restorable/internal/model"
)

// events are the release events the exporter knows: every event the
// journal handed over, once per id, in the order they came.
type events struct {
	ids  map[string]struct{}
	list []model.Event
	// unwritten are events not yet in the history: remembered since the
	// last FlushEvents, or kept because its append failed.
	unwritten []model.Event
	version   uint64
}

// RememberEvents takes release events that the events journal committed
// (in commit order; at every start the whole journal is replayed): each
// event whose id is new is remembered, so that the next Input judges it,
// and queued for the history's events table, which FlushEvents writes.
// An id already known is ignored, so a replay changes nothing. It returns
// the events that were new. It does no I/O: the journal has made the
// events durable already, so the exporter answers a delivery without
// waiting for a Parquet file, and the history gets the events in batches.
func (s *State) RememberEvents(evs []model.Event) []model.Event {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	var fresh []model.Event
	for _, e := range evs {
		if e.ID == "" {
			continue
		}
		if _, known := s.ev.ids[e.ID]; known {
			continue
		}
		s.ev.ids[e.ID] = struct{}{}
		fresh = append(fresh, e)
	}
	if len(fresh) > 0 {
		s.ev.list = append(s.ev.list, fresh...)
		s.ev.unwritten = append(s.ev.unwritten, fresh...)
		s.ev.version++
	}
	return fresh
}

// FlushEvents appends the remembered events not yet in the history to its
// events table, in one write, and returns how many it wrote. A failed
// write keeps them queued for the next call; nothing is lost meanwhile,
// because the journal holds every event and is replayed at every start,
// and the table keeps one row per id. Calls are serialised; no lock that
// readers take is held across the write.
func (s *State) FlushEvents() (int, error) {
	s.evWriteMu.Lock()
	defer s.evWriteMu.Unlock()
	s.evMu.Lock()
	pending := s.ev.unwritten
	s.ev.unwritten = nil
	s.evMu.Unlock()
	if s.History == nil || len(pending) == 0 {
		return 0, nil
	}
	if _, err := s.History.AppendEvents(pending...); err != nil {
		s.evMu.Lock()
		s.ev.unwritten = append(pending, s.ev.unwritten...)
		s.evMu.Unlock()
		return 0, fmt.Errorf("append %d events to history: %w", len(pending), err)
	}
	return len(pending), nil
}

// RecordEvents remembers evs and writes what is new to the history at
// once (RememberEvents, then FlushEvents): the analyzer's producer and
// tests, which need the history to hold the events when it returns, use
// it.
func (s *State) RecordEvents(evs []model.Event) ([]model.Event, error) {
	fresh := s.RememberEvents(evs)
	_, err := s.FlushEvents()
	return fresh, err
}

// Events returns the release events known, in the order they came. The
// slice is shared: callers must not change it.
func (s *State) Events() []model.Event {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return slices.Clip(s.ev.list)
}

// EventsVersion increases whenever RememberEvents remembers a new event.
func (s *State) EventsVersion() uint64 {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return s.ev.version
}
