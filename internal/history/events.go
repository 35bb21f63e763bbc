package history

import (
	"cmp"
	"fmt"
	"path/filepath"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// TableEvents holds the release events (deploy, rollback,
// pre_release_backup, freeze_ack, migration) the exporter acknowledged, one
// row per event id, partitioned by the UTC day the exporter received it.
// The events journal stays the record; the table is what the analyzer
// reads them from.
const TableEvents = "events"

// EventRow is one release event in the events table.
type EventRow struct {
	ID           string    `parquet:"id"`
	Sender       string    `parquet:"sender,dict"`
	Kind         string    `parquet:"kind,dict"`
	Env          string    `parquet:"env,dict"`
	Dataset      string    `parquet:"dataset,dict"`
	Release      string    `parquet:"release,optional,dict"`
	Revision     string    `parquet:"revision,optional"`
	Actor        string    `parquet:"actor,optional"`
	Result       string    `parquet:"result,dict"`
	Time         time.Time `parquet:"time,timestamp(microsecond:utc)"`
	Received     time.Time `parquet:"received,timestamp(microsecond:utc)"`
	BackupSource string    `parquet:"backup_source,optional,dict"`
	BackupID     string    `parquet:"backup_id,optional"`
	Migration    bool      `parquet:"migration"`
	Reason       string    `parquet:"reason,optional"`
	URL          string    `parquet:"url,optional"`
}

// EventRowOf maps an event to its row. An event without a receipt time is
// received at its own time.
func EventRowOf(e *model.Event) EventRow {
	return EventRow{
		ID: e.ID, Sender: e.Sender, Kind: string(e.Kind), Env: e.Env, Dataset: e.Dataset, Release: e.Release,
		Revision: e.Revision, Actor: e.Actor, Result: string(e.Result), Time: micros(e.Time),
		Received: micros(cmp.Or(e.Received, e.Time)), BackupSource: e.BackupSource, BackupID: e.BackupID,
		Migration: e.Migration, Reason: e.Reason, URL: e.URL,
	}
}

// Event maps the row back to its event, with times to the microsecond.
func (r *EventRow) Event() model.Event {
	return model.Event{
		ID: r.ID, Sender: r.Sender, Kind: model.EventKind(r.Kind), Env: r.Env, Dataset: r.Dataset, Release: r.Release,
		Revision: r.Revision, Actor: r.Actor, Result: model.EventResult(r.Result), Time: r.Time.UTC(),
		Received: r.Received.UTC(), BackupSource: r.BackupSource, BackupID: r.BackupID, Migration: r.Migration,
		Reason: r.Reason, URL: r.URL,
	}
}

// AppendEvents records release events, one file per UTC day of receipt,
// and returns how many rows it appended. An event whose id the history
// already holds is skipped, so replaying the events journal at every start
// adds nothing.
func (w *Writer) AppendEvents(events ...model.Event) (int, error) {
	if err := w.begin(); err != nil {
		return 0, fmt.Errorf("append events: %w", err)
	}
	defer w.life.RUnlock()
	w.probeMu.Lock()
	defer w.probeMu.Unlock()
	var rows []EventRow
	batch := map[string]struct{}{}
	for i := range events {
		e := &events[i]
		if e.ID == "" {
			return 0, fmt.Errorf("append %s event of %s/%s: no id", e.Kind, e.Env, e.Dataset)
		}
		if _, ok := w.eventIDs[e.ID]; ok {
			continue
		}
		if _, ok := batch[e.ID]; ok {
			continue
		}
		batch[e.ID] = struct{}{}
		rows = append(rows, EventRowOf(e))
	}
	now := micros(w.now())
	n := 0
	for _, day := range byDay(rows, func(r *EventRow) time.Time { return r.Received }) {
		dir := filepath.Join(w.tableDir(TableEvents), partitionOf(day[0].Received))
		if _, err := writeFile(dir, now, day, nil); err != nil {
			return n, fmt.Errorf("append events: %w", err)
		}
		for i := range day {
			w.eventIDs[day[i].ID] = struct{}{}
		}
		n += len(day)
	}
	return n, nil
}

// Events reads every event of the table back, in no particular order.
func (w *Writer) Events() ([]model.Event, error) {
	if err := w.begin(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer w.life.RUnlock()
	var out []model.Event
	err := scanTable(w.tableDir(TableEvents), func(r *EventRow) error {
		out = append(out, r.Event())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
