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
	// unwritten are events not yet in the history because an append
	// failed; the next RecordEvents retries them.
	unwritten []model.Event
	version   uint64
}

// RecordEvents takes release events that the events journal committed
// (in commit order; at every start the whole journal is replayed): each
// event whose id is new is appended to the history's events table, then
// remembered, so that the next Input judges it. An id already known is
// ignored, so a replay changes nothing. It returns the events that were
// new. A failed history write is returned, the events are still
// remembered, and the write is retried with the next call.
func (s *State) RecordEvents(evs []model.Event) ([]model.Event, error) {
	// Calls are serialised, so that an event is in the history before it
	// is served; readers take evMu only, never across the history write.
	s.evWriteMu.Lock()
	defer s.evWriteMu.Unlock()
	s.evMu.Lock()
	var fresh []model.Event
	batch := map[string]struct{}{}
	for _, e := range evs {
		if e.ID == "" {
			continue
		}
		_, known := s.ev.ids[e.ID]
		_, twice := batch[e.ID]
		if known || twice {
			continue
		}
		batch[e.ID] = struct{}{}
		fresh = append(fresh, e)
	}
	pending := append(slices.Clip(s.ev.unwritten), fresh...)
	s.evMu.Unlock()

	var err error
	written := true
	if s.History != nil && len(pending) > 0 {
		if _, err = s.History.AppendEvents(pending...); err != nil {
			written = false
			err = fmt.Errorf("append %d events to history: %w", len(pending), err)
		}
	}

	s.evMu.Lock()
	defer s.evMu.Unlock()
	if written {
		s.ev.unwritten = nil
	} else {
		s.ev.unwritten = pending
	}
	for _, e := range fresh {
		s.ev.ids[e.ID] = struct{}{}
	}
	if len(fresh) > 0 {
		s.ev.list = append(s.ev.list, fresh...)
		s.ev.version++
	}
	return fresh, err
}

// Events returns the release events known, in the order they came. The
// slice is shared: callers must not change it.
func (s *State) Events() []model.Event {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return slices.Clip(s.ev.list)
}

// EventsVersion increases whenever RecordEvents remembers a new event.
func (s *State) EventsVersion() uint64 {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return s.ev.version
}
