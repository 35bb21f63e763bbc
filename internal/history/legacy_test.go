package history

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// downgrade is the row an earlier version wrote for the same backup: the
// same columns but delta_bytes, restore_bytes and databases.
func downgrade[Old any](t *testing.T, row any) Old {
	t.Helper()
	data, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	var old Old
	if err := json.Unmarshal(data, &old); err != nil {
		t.Fatal(err)
	}
	return old
}

// writeV1 writes b as an earlier version did, into the backups table of
// root, collected at at.
func writeV1(t *testing.T, root string, at time.Time, bs ...model.Backup) {
	t.Helper()
	var rows []backupRowV1
	for i := range bs {
		rows = append(rows, downgrade[backupRowV1](t, BackupRowOf(&bs[i], at)))
	}
	writeRowsOf(t, root, TableBackups, at, rows)
}

// A history written before delta_bytes, restore_bytes and databases
// existed still reads back: every old row with its booleans intact (the
// schema conversion of parquet-go would turn them false) and the new
// columns empty; the writer appends new versions next to the old files,
// and compaction merges old and new files into the new schema.
func TestHistoryWrittenWithoutTheNewColumnsReadsBack(t *testing.T) {
	root := t.TempDir()
	old := backup("pg", "payments", "20250310-080000F", day0().Add(-2*time.Hour))
	// An earlier version knew none of the new facts.
	old.Detail.DeltaBytes, old.Detail.RestoreBytes, old.Detail.Databases = 0, 0, nil
	writeV1(t, root, day0().Add(-time.Hour), old)

	c := newClock(day0())
	w := openTest(t, root, c, 2)
	snap, err := w.Latest()
	if err != nil {
		t.Fatalf("read a history of the earlier schema: %v", err)
	}
	got := snap.Backups["pg"]
	if len(got) != 1 || !got[0].Encrypted || !got[0].Immutable || got[0].StoredBytes != old.StoredBytes || got[0].Details().DeltaBytes != 0 || got[0].Details().Databases != nil {
		t.Fatalf("old backup read back as %+v", got)
	}

	// The same backup, now with the new facts, is a new version; an
	// unchanged one is not.
	withFacts := old
	d := old.Details()
	d.DeltaBytes, d.RestoreBytes, d.Databases = 4<<30, 9<<30, []string{"payments", "postgres"}
	withFacts.SetDetails(d)
	other := backup("pg", "payments", "20250310-083000F", day0().Add(-time.Hour))
	if st := mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{old, other}}); st.Backups != 1 {
		t.Errorf("re-reading the unchanged backup wrote %d rows, want only the new backup", st.Backups)
	}
	c.Advance(time.Minute)
	if st := mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{withFacts, other}}); st.Backups != 1 {
		t.Errorf("the backup with its new facts wrote %d rows, want 1", st.Backups)
	}
	c.Advance(time.Minute)
	if err := w.Compact(); err != nil {
		t.Fatalf("compact old and new files: %v", err)
	}
	rows := readRows[BackupRow](t, root, TableBackups)
	if len(rows) != 3 {
		t.Fatalf("%d rows after compaction, want 3 (old, new backup, new version)", len(rows))
	}
	for _, r := range rows {
		if !r.Encrypted || !r.Immutable {
			t.Errorf("%s collected %s lost its booleans", r.ID, r.CollectedAt)
		}
	}
	// A restarted writer reads the compacted history back.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w3, err := Open(root, Options{Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer w3.Close() //nolint:errcheck // test
	snap, err = w3.Latest()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range snap.Backups["pg"] {
		if b.ID == old.ID && (b.Details().DeltaBytes != 4<<30 || b.Details().RestoreBytes != 9<<30 || !slices.Equal(b.Details().Databases, withFacts.Details().Databases) || !b.Encrypted) {
			t.Errorf("latest version of %s: %+v", b.ID, b)
		}
	}
}

// Checkpoint files of the earlier schema read back too.
func TestCheckpointWrittenWithoutTheNewColumnsReadsBack(t *testing.T) {
	dir := t.TempDir()
	b := backup("pg", "payments", "20250310-080000F", day0())
	row := BackupCheckpointRow{BackupRow: BackupRowOf(&b, day0()), CheckpointAt: day0()}
	v1 := backupCheckpointRowV1{backupRowV1: downgrade[backupRowV1](t, row.BackupRow), CheckpointAt: day0()}
	name, err := writeFile(dir, day0(), []backupCheckpointRowV1{v1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, filepath.Base(name))
	var got []BackupCheckpointRow
	if err := scanFile(path, nil, func(r *BackupCheckpointRow) error { got = append(got, *r); return nil }); err != nil {
		t.Fatalf("read a checkpoint of the earlier schema: %v", err)
	}
	if len(got) != 1 || !got[0].Encrypted || !got[0].CheckpointAt.Equal(day0()) || got[0].ID != b.ID {
		t.Errorf("checkpoint read back as %+v", got)
	}
}

// DuckDB reads a table whose older files lack the new columns with
// union_by_name, the way the analyzer does: NULL for the old rows, the
// values for the new ones, booleans intact in both.
func TestDuckDBReadsOldAndNewFilesTogether(t *testing.T) {
	root := t.TempDir()
	old := backup("pg", "payments", "old", day0().Add(-2*time.Hour))
	old.Detail.DeltaBytes, old.Detail.RestoreBytes, old.Detail.Databases = 0, 0, nil
	writeV1(t, root, day0().Add(-time.Hour), old)
	w := openTest(t, root, newClock(day0()), 0)
	mustAppend(t, w, "pg", &model.Catalog{Backups: []model.Backup{old, backup("pg", "payments", "new", day0().Add(-time.Hour))}})

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // test
	rows, err := db.Query("SELECT id, encrypted, delta_bytes, restore_bytes, array_to_string(databases, ',') FROM " + from(root, TableBackups) + " ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // test
	var got []string
	for rows.Next() {
		var id string
		var enc bool
		var delta, restore sql.NullInt64
		var dbs sql.NullString
		if err := rows.Scan(&id, &enc, &delta, &restore, &dbs); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %v %v/%d %v/%d %v/%s", id, enc, delta.Valid, delta.Int64, restore.Valid, restore.Int64, dbs.Valid, dbs.String))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("new true true/%d true/%d true/payments,postgres", int64(2<<30), int64(6<<30)),
		"old true false/0 false/0 false/",
	}
	if !slices.Equal(got, want) {
		t.Errorf("DuckDB read\n%q\nwant\n%q", got, want)
	}
}

// A probes file written before the collected column reads back with its
// booleans intact and every run one of a configured probe; its run ids
// still count as held, and compaction merges it with newer files.
func TestProbesWrittenWithoutCollectedReadBack(t *testing.T) {
	root := t.TempDir()
	ok := probeResult("run-1", "payments-restore", day0().Add(-time.Hour))
	ok.Success, ok.Error, ok.TablesMismatched = true, "", nil
	old := downgrade[probeRowV1](t, ProbeRowOf(&ok))
	dir := filepath.Join(root, TableProbes, partitionPrefix+day0().Format("2006-01-02"))
	if _, err := writeFile(dir, day0(), []probeRowV1{old}, nil); err != nil {
		t.Fatal(err)
	}
	w := openTest(t, root, newClock(day0()), 4)
	test := probeResult("j-1", "aws-backup:aws/plan/prod/payments", day0().Add(-30*time.Minute))
	test.Collected, test.Success, test.Error, test.TablesMismatched = true, true, "", nil
	written, err := w.AppendNewProbes(ok, test)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 1 || written[0].RunID != "j-1" {
		t.Errorf("wrote %+v, want only the restore test (run-1 is held by the old file)", written)
	}
	snap, err := w.Latest()
	if err != nil {
		t.Fatalf("read the earlier schema: %v", err)
	}
	if got := snap.Probes["payments-restore"]; !got.Success || got.Collected || got.RunID != "run-1" {
		t.Errorf("old run read back as %+v", got)
	}
	if got := snap.ProbeSuccesses["aws-backup:aws/plan/prod/payments"]; !got.Collected || got.RunID != "j-1" {
		t.Errorf("restore test read back as %+v", got)
	}
	if err := w.Compact(); err != nil {
		t.Fatalf("compact old and new files: %v", err)
	}
	rows := readRows[ProbeRow](t, root, TableProbes)
	if len(rows) != 2 {
		t.Fatalf("%d rows after compaction, want 2", len(rows))
	}
	for _, r := range rows {
		if r.Collected != (r.RunID == "j-1") || !r.Success {
			t.Errorf("row after compaction %+v", r)
		}
	}
}

// AppendNewProbes returns each run it wrote once, in the version given
// first, and nothing for runs the history holds, also after a restart.
func TestAppendNewProbesReturnsTheRunsItWrote(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	a := probeResult("j-1", "aws-backup:aws/plan/prod/payments", day0().Add(-26*time.Hour))
	b := probeResult("j-2", "aws-backup:aws/plan/prod/payments", day0().Add(-time.Hour))
	again := a
	again.Dataset = "other"
	written, err := w.AppendNewProbes(a, b, again)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 2 || written[0].RunID != "j-1" || written[0].Dataset != "payments" || written[1].RunID != "j-2" {
		t.Errorf("first append wrote %+v", written)
	}
	if written, err = w.AppendNewProbes(a, b); err != nil || len(written) != 0 {
		t.Errorf("second append wrote %+v (%v)", written, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	if written, err = w.AppendNewProbes(again, b); err != nil || len(written) != 0 {
		t.Errorf("append after a restart wrote %+v (%v)", written, err)
	}
}

// A history written before expected_interval_seconds existed (schema V2,
// with delta_bytes) reads back with no interval and its booleans intact;
// a backup that now carries an interval is a new version, one without is
// not, and a checkpoint of that schema reads back too.
func TestHistoryWrittenWithoutExpectedIntervalReadsBack(t *testing.T) {
	root := t.TempDir()
	old := backup("velero", "hourly", "hourly-1", day0().Add(-2*time.Hour))
	writeRowsOf(t, root, TableBackups, day0().Add(-time.Hour), []backupRowV2{downgrade[backupRowV2](t, BackupRowOf(&old, day0().Add(-time.Hour)))})
	c := newClock(day0())
	w := openTest(t, root, c, 2)
	snap, err := w.Latest()
	if err != nil {
		t.Fatalf("read a history of schema V2: %v", err)
	}
	got := snap.Backups["velero"]
	if len(got) != 1 || !got[0].Encrypted || !got[0].Immutable || got[0].Details().DeltaBytes != old.Details().DeltaBytes || got[0].Details().ExpectedInterval != 0 {
		t.Fatalf("old backup read back as %+v", got)
	}
	if st := mustAppend(t, w, "velero", &model.Catalog{Backups: []model.Backup{old}}); st.Backups != 0 {
		t.Errorf("the unchanged backup wrote %d rows after the upgrade", st.Backups)
	}
	scheduled := old
	d := scheduled.Details()
	d.ExpectedInterval = time.Hour
	scheduled.SetDetails(d)
	c.Advance(time.Minute)
	if st := mustAppend(t, w, "velero", &model.Catalog{Backups: []model.Backup{scheduled}}); st.Backups != 1 {
		t.Errorf("the backup with its schedule's interval wrote %d rows, want 1", st.Backups)
	}
	if err := w.Compact(); err != nil {
		t.Fatalf("compact old and new files: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 2)
	if snap, err = w.Latest(); err != nil {
		t.Fatal(err)
	}
	if got := snap.Backups["velero"]; len(got) != 1 || got[0].Details().ExpectedInterval != time.Hour || !got[0].Encrypted {
		t.Errorf("after compaction and a restart: %+v", got)
	}

	dir := t.TempDir()
	cp := BackupCheckpointRow{BackupRow: BackupRowOf(&old, day0()), CheckpointAt: day0()}
	v2 := backupCheckpointRowV2{backupRowV2: downgrade[backupRowV2](t, cp.BackupRow), CheckpointAt: day0()}
	name, err := writeFile(dir, day0(), []backupCheckpointRowV2{v2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var cps []BackupCheckpointRow
	if err := scanFile(filepath.Join(dir, filepath.Base(name)), nil, func(r *BackupCheckpointRow) error { cps = append(cps, *r); return nil }); err != nil {
		t.Fatalf("read a checkpoint of schema V2: %v", err)
	}
	if len(cps) != 1 || !cps[0].Encrypted || cps[0].DeltaBytes != old.Details().DeltaBytes || !cps[0].CheckpointAt.Equal(day0()) {
		t.Errorf("checkpoint read back as %+v", cps)
	}
}

// writeRowsOf writes rows of an earlier schema into a partition of table.
func writeRowsOf[T any](t *testing.T, root, table string, at time.Time, rows []T) {
	t.Helper()
	dir := filepath.Join(root, table, partitionPrefix+at.Format("2006-01-02"))
	if _, err := writeFile(dir, at, rows, nil); err != nil {
		t.Fatal(err)
	}
}
