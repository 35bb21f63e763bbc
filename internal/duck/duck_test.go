package duck

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// t0 is when the test histories begin.
func t0() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }

// recorder writes a history through the real writer, with a clock the
// test moves.
type recorder struct {
	t   *testing.T
	now time.Time
	w   *history.Writer
}

func newRecorder(t *testing.T) (*recorder, string) {
	t.Helper()
	dir := t.TempDir()
	r := &recorder{t: t, now: t0()}
	w, err := history.Open(dir, history.Options{Now: func() time.Time { return r.now }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	r.w = w
	return r, dir
}

// collect records a catalog of source at time at.
func (r *recorder) collect(at time.Time, source string, backups []model.Backup, repos ...model.Repository) {
	r.t.Helper()
	r.now = at
	for i := range backups {
		backups[i].Source = source
	}
	for i := range repos {
		repos[i].Source = source
	}
	if _, err := r.w.AppendCatalog(source, &model.Catalog{Backups: backups, Repositories: repos}); err != nil {
		r.t.Fatal(err)
	}
}

func backup(id string, end time.Time, status model.Status) model.Backup {
	return model.Backup{Env: "prod", Dataset: "orders", ID: id, Type: model.BackupFull, Start: end.Add(-time.Hour), End: end, Status: status}
}

func openDB(t *testing.T, dir string) *DB {
	t.Helper()
	root, err := ParseRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

// stateAt returns "id:status" of every retained backup at a moment.
func stateAt(t *testing.T, db *DB, at time.Time) []string {
	t.Helper()
	ctx := context.Background()
	if err := db.BuildState(ctx, at); err != nil {
		t.Fatal(err)
	}
	var out []string
	err := db.EachSeries(ctx, func(bs []model.Backup) error {
		for _, b := range bs {
			out = append(out, b.ID+":"+string(b.Status))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestStateFollowsVersionsRemovalsAndReturns(t *testing.T) {
	rec, dir := newRecorder(t)
	day := 24 * time.Hour
	a := backup("a", t0().Add(-time.Hour), model.StatusSucceeded)
	bRunning := backup("b", time.Time{}, model.StatusRunning)
	bRunning.Start = t0().Add(day - time.Hour)
	bDone := backup("b", t0().Add(day+time.Hour), model.StatusSucceeded)
	bDone.Start = bRunning.Start

	rec.collect(t0(), "db", []model.Backup{a})
	rec.collect(t0().Add(day), "db", []model.Backup{a, bRunning})
	rec.collect(t0().Add(2*day), "db", []model.Backup{a, bDone})
	rec.collect(t0().Add(3*day), "db", []model.Backup{bDone})
	rec.collect(t0().Add(4*day), "db", []model.Backup{a, bDone})
	rec.collect(t0().Add(5*day), "db", nil)
	db := openDB(t, dir)

	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		{t0().Add(-time.Minute), nil},
		{t0(), []string{"a:succeeded"}},
		{t0().Add(day + time.Minute), []string{"a:succeeded", "b:running"}},
		{t0().Add(2*day + time.Minute), []string{"a:succeeded", "b:succeeded"}},
		{t0().Add(3*day + time.Minute), []string{"b:succeeded"}},
		{t0().Add(4*day + time.Minute), []string{"a:succeeded", "b:succeeded"}},
		{t0().Add(6 * day), nil},
	} {
		if got := stateAt(t, db, tc.at); !slices.Equal(got, tc.want) {
			t.Errorf("state at %s = %v, want %v", tc.at.Format(time.RFC3339), got, tc.want)
		}
	}
}

func TestRecordsReadBackWhole(t *testing.T) {
	rec, dir := newRecorder(t)
	want := model.Backup{
		Env: "prod", Dataset: "orders", ID: "full-1", Type: model.BackupFull, Release: "v1", Parent: "p",
		Start: t0().Add(-time.Hour), End: t0().Add(-time.Minute), Status: model.StatusSucceeded,
		LogicalBytes: 10, StoredBytes: 5, Location: "s3://b/p", StorageClass: "STANDARD", Region: "eu-west-1",
		Encrypted: true, KeyID: "k", Immutable: true, RetainUntil: t0().Add(time.Hour),
		Classification: "pii", Tags: map[string]string{"app": "x"},

		Detail: &model.BackupDetail{FileCount: 3, Checksum: "sha256:00", Agent: "pgbackrest", AgentVersion: "2.54.0", Paths: []string{"/a", "/b"}, LSNStart: "0/1", LSNStop: "0/2", WALStart: "w1", WALStop: "w2", ExpectedInterval: 90 * time.Minute},
	}
	rec.collect(t0(), "db", []model.Backup{want})
	db := openDB(t, dir)
	ctx := context.Background()
	if err := db.BuildState(ctx, t0()); err != nil {
		t.Fatal(err)
	}
	var got []model.Backup
	if err := db.EachSeries(ctx, func(bs []model.Backup) error { got = append(got, bs...); return nil }); err != nil {
		t.Fatal(err)
	}
	want.Source = "db"
	if len(got) != 1 || !equalBackup(got[0], want) {
		t.Fatalf("read back %+v\nwant %+v", got, want)
	}
}

func equalBackup(a, b model.Backup) bool {
	return a.Source == b.Source && a.ID == b.ID && a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.RetainUntil.Equal(b.RetainUntil) &&
		slices.Equal(a.Details().Paths, b.Details().Paths) && a.Tags["app"] == b.Tags["app"] && a.Release == b.Release && a.Parent == b.Parent &&
		a.LogicalBytes == b.LogicalBytes && a.StoredBytes == b.StoredBytes && a.Details().FileCount == b.Details().FileCount && a.Location == b.Location &&
		a.StorageClass == b.StorageClass && a.Region == b.Region && a.Encrypted == b.Encrypted && a.KeyID == b.KeyID &&
		a.Immutable == b.Immutable && a.Details().Checksum == b.Details().Checksum && a.Details().Agent == b.Details().Agent && a.Details().AgentVersion == b.Details().AgentVersion &&
		a.Classification == b.Classification && a.Details().LSNStart == b.Details().LSNStart && a.Details().LSNStop == b.Details().LSNStop && a.Details().WALStart == b.Details().WALStart &&
		a.Details().WALStop == b.Details().WALStop && a.Type == b.Type && a.Status == b.Status &&
		a.Details().ExpectedInterval == b.Details().ExpectedInterval
}

// A failure the catalog dropped before the analysis still counts within
// the failure window.
func TestAttemptsIncludeFailuresTheCatalogDropped(t *testing.T) {
	rec, dir := newRecorder(t)
	f := backup("f", t0().Add(time.Hour), model.StatusFailed)
	late := backup("late", t0().Add(3*time.Hour), model.StatusFailed)
	retried := backup("r", t0().Add(2*time.Hour), model.StatusFailed)
	rec.collect(t0().Add(4*time.Hour), "db", []model.Backup{f, retried, late})
	retried.Status = model.StatusSucceeded
	rec.collect(t0().Add(5*time.Hour), "db", []model.Backup{retried})
	db := openDB(t, dir)
	got, err := db.Attempts(context.Background(), t0().Add(90*time.Minute), t0().Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if !slices.Equal(ids, []string{"late"}) {
		t.Errorf("attempts = %v, want [late]: f is before the window, r succeeded on retry", ids)
	}
}

func TestSeriesHistoryAndEvidenceIDs(t *testing.T) {
	rec, dir := newRecorder(t)
	v1 := backup("b1", t0().Add(time.Hour), model.StatusSucceeded)
	v1.Release = "v1"
	v2fail := backup("b2", t0().Add(2*time.Hour), model.StatusFailed)
	v2fail.Release = "v2"
	v2 := backup("b3", t0().Add(3*time.Hour), model.StatusSucceeded)
	v2.Release = "v2"
	rec.collect(t0().Add(4*time.Hour), "db", []model.Backup{v1, v2fail, v2})
	rec.collect(t0().Add(5*time.Hour), "db", []model.Backup{v2})
	db := openDB(t, dir)
	h, err := db.SeriesHistory(context.Background(), t0().Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	k := model.SeriesKey{Env: "prod", Source: "db", Dataset: "orders"}
	if !h.FirstGood[k].Equal(v1.End) || !h.LastSeen[k].Equal(t0().Add(5*time.Hour)) {
		t.Errorf("first good %s, last seen %s", h.FirstGood[k], h.LastSeen[k])
	}
	slices.SortFunc(h.Sightings, func(a, b policy.ReleaseSighting) int { return strings.Compare(a.Release, b.Release) })
	if len(h.Sightings) != 2 || !h.Sightings[1].FirstSeen.Equal(v2fail.Start) || !h.Sightings[1].FirstGood.Time.Equal(v2.End) {
		t.Fatalf("sightings %+v", h.Sightings)
	}
	fs := []policy.Finding{{Subject: policy.Subject{Source: "db", Dataset: "orders"}, Evidence: []policy.Evidence{h.Sightings[1].First, h.Sightings[1].FirstGood}}}
	if err := db.FillEvidenceIDs(context.Background(), fs); err != nil {
		t.Fatal(err)
	}
	if fs[0].Evidence[0].ID != "b2" || fs[0].Evidence[1].ID != "b3" {
		t.Errorf("evidence ids %+v", fs[0].Evidence)
	}
}

func TestRepositoriesKnowSinceWhenWALStopped(t *testing.T) {
	rec, dir := newRecorder(t)
	repo := func(walMax string) model.Repository {
		return model.Repository{Env: "prod", Dataset: "orders", Name: "orders", WALMin: "w00", WALMax: walMax, StoredBytes: 100, Healthy: true}
	}
	rec.collect(t0(), "db", nil, repo("w01"))
	rec.collect(t0().Add(time.Hour), "db", nil, repo("w02"))
	rec.collect(t0().Add(2*time.Hour), "db", nil, repo("w03"))
	rec.collect(t0().Add(25*time.Hour), "db", nil, repo("w03"))
	rec.collect(t0().Add(49*time.Hour), "db", nil, repo("w03"))
	db := openDB(t, dir)
	for _, tc := range []struct {
		at          time.Time
		max         string
		since, seen time.Time
	}{
		{t0().Add(90 * time.Minute), "w02", t0().Add(time.Hour), t0().Add(time.Hour)},
		{t0().Add(50 * time.Hour), "w03", t0().Add(2 * time.Hour), t0().Add(49 * time.Hour)},
	} {
		got, err := db.Repositories(context.Background(), tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].WALMax != tc.max || !got[0].WALSince.Equal(tc.since) || !got[0].ObservedAt.Equal(tc.seen) {
			t.Errorf("at %s: %+v", tc.at, got)
		}
	}
	// A window that holds no change of the newest segment looks back over
	// the whole history for since when it stands.
	got, err := db.RepositoriesSince(context.Background(), t0().Add(26*time.Hour), t0().Add(50*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].WALSince.Equal(t0().Add(2*time.Hour)) || !got[0].ObservedAt.Equal(t0().Add(49*time.Hour)) {
		t.Errorf("in a window: %+v", got)
	}
	// A repository not observed in the window is no longer collected.
	if got, err := db.RepositoriesSince(context.Background(), t0().Add(50*time.Hour), t0().Add(100*time.Hour)); err != nil || len(got) != 0 {
		t.Errorf("after the last observation: %+v, %v", got, err)
	}
}

func TestProbesKeepNewestSuccessAndFailure(t *testing.T) {
	rec, dir := newRecorder(t)
	run := func(id string, start time.Time, ok bool) model.ProbeResult {
		return model.ProbeResult{RunID: id, Probe: "p", Kind: "k", Env: "prod", Dataset: "orders", Start: start, Duration: time.Minute, Success: ok,
			RestoredPoint: start.Add(-time.Hour), TablesMismatched: []string{"t"}}
	}
	if err := rec.w.AppendProbes(run("1", t0(), true), run("2", t0().Add(time.Hour), false), run("3", t0().Add(2*time.Hour), true), run("4", t0().Add(3*time.Hour), false)); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir)
	got, err := db.Probes(context.Background(), t0().Add(150*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range got {
		ids = append(ids, p.RunID)
	}
	if !slices.Equal(ids, []string{"2", "3"}) || got[1].AchievedRPO() != time.Hour || !slices.Equal(got[0].TablesMismatched, []string{"t"}) {
		t.Errorf("probes %v: %+v", ids, got)
	}
}

func TestRPOBreaches(t *testing.T) {
	rec, dir := newRecorder(t)
	hour := time.Hour
	// Good backups at hours 0, 1, 2, 6 (a gap) and 7; a failure at 4; a
	// second dataset born at hour 5.
	var all []model.Backup
	for _, h := range []int{0, 1, 2, 6, 7} {
		all = append(all, backup("o"+string(rune('0'+h)), t0().Add(time.Duration(h)*hour), model.StatusSucceeded))
	}
	all = append(all, backup("fail", t0().Add(4*hour), model.StatusFailed))
	born := backup("n5", t0().Add(5*hour), model.StatusSucceeded)
	born.Dataset = "new"
	all = append(all, born)
	rec.collect(t0().Add(8*hour), "db", all)
	// Backups that expired later still count for the time they existed.
	rec.collect(t0().Add(9*hour), "db", all[3:5])
	db := openDB(t, dir)
	ctx := context.Background()
	h, err := db.SeriesHistory(ctx, t0().Add(10*hour))
	if err != nil {
		t.Fatal(err)
	}
	rpo := map[string]time.Duration{"prod": 90 * time.Minute}
	got, err := db.RPOBreaches(ctx, rpo, h.FirstGood, t0(), t0().Add(10*hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("breaches %+v", got)
	}
	b := got[0]
	if b.Series.Dataset != "orders" || !b.Start.Equal(t0().Add(2*hour+90*time.Minute)) || !b.End.Equal(t0().Add(6*hour)) || b.Before.ID != "o2" || b.After.ID != "o6" {
		t.Errorf("breach %+v", b)
	}
	// A period starting inside the gap reports it from the period's start.
	got, err = db.RPOBreaches(ctx, rpo, h.FirstGood, t0().Add(5*hour), t0().Add(10*hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Start.Equal(t0().Add(5*hour)) || got[0].Before.ID != "" || !got[0].End.Equal(t0().Add(6*hour)) {
		t.Errorf("breach from the period's start %+v", got)
	}
}

func TestUserQueryOnlyReads(t *testing.T) {
	rec, dir := newRecorder(t)
	rec.collect(t0(), "db", []model.Backup{backup("a", t0(), model.StatusSucceeded)})
	db := openDB(t, dir)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT count(*) FROM backups",
		"SELECT count(*) FROM backups;",
		"-- how many\nSELECT count(*) FROM backups",
		"SELECT 'a;b' AS semicolon",
		"WITH x AS (SELECT 1) SELECT * FROM x",
		"FROM backups",
		"VALUES (1)",
		"DESCRIBE backups",
		"SHOW TABLES",
		"SUMMARIZE probes",
		"EXPLAIN SELECT 1",
		"explain analyze SELECT count(*) FROM backups",
	} {
		rows, err := db.UserQuery(ctx, q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		rows.Close()
	}

	before := listFiles(t, dir)
	target := filepath.Join(dir, "backups", "dt=2026-03-01", "x.parquet")
	exportDir := filepath.Join(dir, "export")
	// Each query would leave a trace the checks below look for, had any
	// of its statements run.
	for _, q := range []string{
		"CREATE TABLE z AS SELECT 42 AS v; SELECT * FROM z",
		"CREATE TABLE z AS SELECT 42 AS v",
		"SELECT 1; CREATE TABLE z AS SELECT 42 AS v",
		"SELECT 1 AS a; SELECT 2 AS b",
		"COPY (SELECT 1) TO '" + target + "'",
		"SELECT 1; COPY (SELECT 1) TO '" + target + "'",
		"EXPORT DATABASE '" + exportDir + "'",
		"EXPLAIN ANALYZE CREATE TABLE z AS SELECT 42 AS v",
		"EXPLAIN ANALYZE COPY (SELECT 1) TO '" + target + "'",
		"/* hidden */ EXPLAIN ANALYZE CREATE TABLE z AS SELECT 42 AS v",
		"ATTACH ':memory:' AS other",
		"USE system",
		"PRAGMA enable_profiling",
		"SET enable_profiling = 'json'",
		"CALL pragma_version()",
		"INSTALL httpfs",
		"LOAD json",
		"VACUUM",
		"CREATE MACRO m() AS 1",
		"",
		" ; ",
	} {
		rows, err := db.UserQuery(ctx, q)
		if err == nil {
			rows.Close()
			t.Errorf("%q was allowed", q)
			continue
		}
		if !errors.Is(err, ErrNotReadOnly) {
			t.Errorf("%q: error %v does not say only one statement that reads is allowed", q, err)
		}
	}
	var tables, databases, macros int
	var profiling string
	err := db.QueryRow(ctx, `SELECT (SELECT count(*) FROM duckdb_tables()),
		(SELECT count(*) FROM duckdb_databases() WHERE NOT internal),
		(SELECT count(*) FROM duckdb_functions() WHERE function_name = 'm'),
		coalesce(current_setting('enable_profiling')::VARCHAR, '')`).Scan(&tables, &databases, &macros, &profiling)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 0 || databases != 1 || macros != 0 {
		t.Errorf("a refused query ran: %d tables, %d databases, %d macros", tables, databases, macros)
	}
	if profiling != "" && profiling != "false" {
		t.Errorf("a refused query turned profiling on: %q", profiling)
	}
	if after := listFiles(t, dir); !slices.Equal(before, after) {
		t.Errorf("a refused query wrote into the history:\nbefore %v\nafter  %v", before, after)
	}

	if rows, err := db.UserQuery(ctx, "SELEC 1"); err == nil {
		rows.Close()
		t.Error("a syntax error was allowed")
	} else if !strings.Contains(err.Error(), "syntax error") || errors.Is(err, ErrNotReadOnly) {
		t.Errorf("syntax error reported as %v", err)
	}
	for _, q := range []string{"SELECT * FROM read_text('/etc/hostname')", "SELECT * FROM glob('/etc/*')"} {
		if rows, err := db.UserQuery(ctx, q); err == nil {
			rows.Close()
			t.Errorf("%s read outside the history root", q)
		}
	}
}

// listFiles lists every file and directory under dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
		out = append(out, path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEmptyHistory(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	err := db.Require(TableBackups)
	if !errors.Is(err, ErrEmpty) || !strings.Contains(err.Error(), "has no backups yet: run the exporter first") {
		t.Errorf("Require = %v", err)
	}
	ctx := context.Background()
	for _, table := range Tables() {
		var n int
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n != 0 {
			t.Errorf("empty %s: %d rows, %v", table, n, err)
		}
	}
	if err := db.BuildState(ctx, t0()); err != nil {
		t.Errorf("state of an empty history: %v", err)
	}
	if _, err := db.Repositories(ctx, t0()); err != nil {
		t.Errorf("repositories of an empty history: %v", err)
	}
}

func TestParseRoot(t *testing.T) {
	for _, tc := range []struct{ root, err string }{
		{"s3://bucket/prefix", "s3:// roots are not supported by the analyzer yet"},
		{filepath.Join(t.TempDir(), "missing"), "does not exist: run the exporter first"},
	} {
		if _, err := ParseRoot(tc.root); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ParseRoot(%s) = %v, want %q", tc.root, err, tc.err)
		}
	}
}
