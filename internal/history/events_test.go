package history

import (
	"database/sql"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func releaseEvents() []model.Event {
	t := day0()
	return []model.Event{
		{ID: "d1", Sender: "gitlab", Kind: model.EventDeploy, Env: "prod", Dataset: "orders", Release: "v4", Revision: "abc123",
			Actor: "ci", Result: model.ResultSucceeded, Time: t, Received: t.Add(time.Second), URL: "https://ci/1"},
		{ID: "m1", Sender: "generic", Kind: model.EventMigration, Env: "prod", Dataset: "orders", Release: "v4",
			Result: model.ResultSucceeded, Time: t.Add(time.Minute), Received: t.Add(time.Minute)},
		// Received on the next day: it goes to the next partition.
		{ID: "r1", Sender: "argocd", Kind: model.EventRollback, Env: "prod", Dataset: "orders", Release: "v3",
			Result: model.ResultSucceeded, Time: t.Add(24 * time.Hour), Received: t.Add(24*time.Hour + time.Second),
			BackupSource: "pg", BackupID: "b7", Migration: true, Reason: "bad release"},
	}
}

// Events are appended once per id: a replay of the journal, within one
// writer and after a restart, appends no row, and the rows read back as
// the events they were made from.
func TestAppendEventsOncePerID(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	evs := releaseEvents()
	if n, err := w.AppendEvents(evs...); err != nil || n != 3 {
		t.Fatalf("first append: %d rows, %v", n, err)
	}
	if n, err := w.AppendEvents(append(evs, evs...)...); err != nil || n != 0 {
		t.Fatalf("replay: %d rows, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	if n, err := w.AppendEvents(evs...); err != nil || n != 0 {
		t.Fatalf("replay after a restart: %d rows, %v", n, err)
	}
	if got := readRows[EventRow](t, root, TableEvents); len(got) != 3 {
		t.Fatalf("%d rows, want 3", len(got))
	}
	if parts := files(t, root, TableEvents); len(parts) != 2 {
		t.Errorf("partitions %v, want one per day of receipt", parts)
	}
	back, err := w.Events()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(back, func(a, b model.Event) int { return strings.Compare(a.ID, b.ID) })
	want := slices.Clone(evs)
	slices.SortFunc(want, func(a, b model.Event) int { return strings.Compare(a.ID, b.ID) })
	if !reflect.DeepEqual(back, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, want)
	}
	if _, err := w.AppendEvents(model.Event{Kind: model.EventDeploy}); err == nil {
		t.Error("an event without an id was appended")
	}
}

// DuckDB reads the events table as the analyzer does.
func TestEventsReadByDuckDB(t *testing.T) {
	root := t.TempDir()
	w := openTest(t, root, newClock(day0()), 0)
	if _, err := w.AppendEvents(releaseEvents()...); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var kinds string
	var migrated bool
	err = db.QueryRow(`SELECT count(*), string_agg(kind, ',' ORDER BY time), bool_or(migration) FROM `+from(root, TableEvents)+` WHERE env = 'prod'`).Scan(&n, &kinds, &migrated)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 || kinds != "deploy,migration,rollback" || !migrated {
		t.Errorf("duckdb read %d events %q migration %v", n, kinds, migrated)
	}
}
