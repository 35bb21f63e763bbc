package live

import (
	"fmt"
	"testing"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// RecordEvents remembers each id once and writes it to the history, and
// when a history write fails still serves the events and writes them with
// the next call.
func TestRecordEventsOnceAndRetried(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	hist, err := history.Open(root, history.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	s := New(collectors.NewStore(), hist, clock)
	ev := func(id string) model.Event {
		return model.Event{ID: id, Kind: model.EventDeploy, Env: "prod", Dataset: "orders", Result: model.ResultSucceeded, Time: now, Received: now}
	}
	if err := hist.Close(); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.RecordEvents([]model.Event{ev("e1"), ev("e1")})
	if err == nil || len(fresh) != 1 || len(s.Events()) != 1 || s.EventsVersion() != 1 {
		t.Fatalf("with a closed history: fresh %d, err %v, served %d, version %d", len(fresh), err, len(s.Events()), s.EventsVersion())
	}
	if s.History, err = history.Open(root, history.Options{Now: clock}); err != nil {
		t.Fatal(err)
	}
	defer s.History.Close()
	fresh, err = s.RecordEvents([]model.Event{ev("e1"), ev("e2")})
	if err != nil || len(fresh) != 1 || fresh[0].ID != "e2" {
		t.Fatalf("second call: fresh %+v, err %v", fresh, err)
	}
	rows, err := s.History.Events()
	if err != nil || len(rows) != 2 {
		t.Fatalf("history holds %d events (%v), want e1 retried and e2", len(rows), err)
	}
	if fresh, _ := s.RecordEvents([]model.Event{ev("e2"), ev("e1")}); len(fresh) != 0 || s.EventsVersion() != 2 || len(s.Events()) != 2 {
		t.Errorf("a replay changed the state: fresh %d, version %d, served %d", len(fresh), s.EventsVersion(), len(s.Events()))
	}
}

// RememberEvents serves new events at once without touching the history;
// FlushEvents then writes every one of them in one append, and a replay
// of the same ids queues nothing more.
func TestRememberThenFlush(t *testing.T) {
	root := t.TempDir()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	hist, err := history.Open(root, history.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer hist.Close()
	s := New(collectors.NewStore(), hist, clock)
	var evs []model.Event
	for i := range 50 {
		evs = append(evs, model.Event{ID: fmt.Sprintf("e%d", i), Kind: model.EventDeploy, Env: "prod", Dataset: "orders", Result: model.ResultSucceeded, Time: now, Received: now})
	}
	for i := 0; i < len(evs); i += 10 {
		if fresh := s.RememberEvents(evs[i : i+10]); len(fresh) != 10 {
			t.Fatalf("batch %d: %d fresh, want 10", i/10, len(fresh))
		}
	}
	if len(s.Events()) != 50 {
		t.Fatalf("served %d events before any flush, want 50", len(s.Events()))
	}
	if rows, _ := hist.Events(); len(rows) != 0 {
		t.Fatalf("history holds %d events before a flush, want 0", len(rows))
	}
	if n, err := s.FlushEvents(); n != 50 || err != nil {
		t.Fatalf("flush wrote %d (%v), want 50", n, err)
	}
	if fresh := s.RememberEvents(evs); len(fresh) != 0 {
		t.Fatalf("a replay was new: %d", len(fresh))
	}
	if n, err := s.FlushEvents(); n != 0 || err != nil {
		t.Fatalf("second flush wrote %d (%v), want 0", n, err)
	}
	if rows, err := hist.Events(); err != nil || len(rows) != 50 {
		t.Fatalf("history holds %d events (%v), want 50", len(rows), err)
	}
}
