package live

import (
	"testing"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// RecordEvents remembers each id once, writes it to the history first, and
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
