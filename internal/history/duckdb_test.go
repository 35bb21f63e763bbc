package history

import (
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	// The analyzer reads the history with DuckDB; the test binary links it
	// to prove that what the pure-Go writer produces reads back as intended.
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/restorable/restorable/internal/model"
)

// duckHistory writes a small history over two days and opens DuckDB on it.
func duckHistory(t *testing.T) (root string, db *sql.DB) {
	t.Helper()
	root = t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)

	b1 := backup("pg", "payments", "b1", day0().Add(-2*time.Hour))
	b2 := backup("pg", "payments", "b2", day0().Add(-time.Hour))
	b2.Status, b2.End, b2.StoredBytes, b2.Tags, b2.Detail.Paths = model.StatusRunning, time.Time{}, 0, nil, nil
	// b2's source read the schedule that made it; b1's knows none.
	b2.Detail.ExpectedInterval = 6 * time.Hour
	mustAppend(t, w, "pg", &model.Catalog{
		Backups:      []model.Backup{b1, b2},
		Repositories: []model.Repository{repository("pg", "main", 100<<30)},
	})
	unknownRPO := probeResult("run-0", "files-restore", day0().Add(-3*time.Hour))
	unknownRPO.RestoredPoint, unknownRPO.TablesMismatched, unknownRPO.Success = time.Time{}, nil, true
	if err := w.AppendProbes(probeResult("run-1", "payments-restore", day0().Add(-time.Hour)), unknownRPO); err != nil {
		t.Fatal(err)
	}

	// The next day b2 has finished and b1 was expired.
	c.Set(day0().Add(24 * time.Hour))
	b2.Status, b2.End, b2.StoredBytes = model.StatusSucceeded, day0().Add(10*time.Minute), 7<<30
	mustAppend(t, w, "pg", &model.Catalog{
		Backups:      []model.Backup{b2},
		Repositories: []model.Repository{repository("pg", "main", 101<<30)},
	})

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return root, db
}

// from is the table expression the analyzer uses for a table.
func from(root, table string) string {
	glob := filepath.Join(root, table, "**", "*.parquet")
	return "read_parquet('" + strings.ReplaceAll(glob, "'", "''") + "', hive_partitioning = true, union_by_name = true)"
}

func TestDuckDBReadsBackups(t *testing.T) {
	root, db := duckHistory(t)
	rows, err := db.Query(`
		SELECT id, status, removed, dt, typeof(dt), typeof(collected_at), collected_at, start_time, end_time,
		       stored_bytes, encrypted, immutable, retain_until, len(paths), paths[1],
		       json_extract_string(tags, '$.team'), release, expected_interval_seconds
		FROM ` + from(root, TableBackups) + `
		ORDER BY collected_at, removed, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // read-only query
	type row struct {
		id, status               string
		removed                  bool
		dt                       time.Time
		dtType, tsType           string
		collected, start         time.Time
		end, retain              sql.NullTime
		stored                   sql.NullInt64
		encrypted, immutable     bool
		paths                    int64
		firstPath, team, release sql.NullString
		interval                 sql.NullInt64
	}
	var got []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.status, &r.removed, &r.dt, &r.dtType, &r.tsType, &r.collected, &r.start, &r.end,
			&r.stored, &r.encrypted, &r.immutable, &r.retain, &r.paths, &r.firstPath, &r.team, &r.release, &r.interval); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("got %d backup rows, want 4: %+v", len(got), got)
	}
	day1, day2 := time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	b1, running, done, removed := got[0], got[1], got[2], got[3]
	if b1.id != "b1" || !b1.dt.Equal(day1) || b1.dtType != "DATE" || !strings.HasPrefix(b1.tsType, "TIMESTAMP") {
		t.Errorf("first row = %+v, want b1 in dt=2025-03-10 with DATE and TIMESTAMP types", b1)
	}
	if !b1.collected.Equal(day0()) || !b1.start.Equal(day0().Add(-2*time.Hour)) || !b1.retain.Valid ||
		!b1.retain.Time.Equal(day0().Add(-2*time.Hour+35*24*time.Hour)) {
		t.Errorf("b1 times = collected %v start %v retain %v", b1.collected, b1.start, b1.retain)
	}
	if !b1.encrypted || !b1.immutable || b1.removed || b1.paths != 2 || b1.firstPath.String != "/var/lib/postgresql" ||
		b1.team.String != "payments" || b1.stored.Int64 != 3<<30 {
		t.Errorf("b1 = %+v, want encrypted, immutable, two paths, team tag and stored bytes", b1)
	}
	if running.id != "b2" || running.status != "running" || running.end.Valid || running.stored.Valid || running.team.Valid || running.paths != 0 {
		t.Errorf("running b2 = %+v, want NULL end_time, stored_bytes and tags, no paths", running)
	}
	if done.id != "b2" || done.status != "succeeded" || !done.dt.Equal(day2) || !done.end.Valid || done.stored.Int64 != 7<<30 {
		t.Errorf("finished b2 = %+v, want succeeded on dt=2025-03-11 with end time and size", done)
	}
	// expected_interval_seconds is NULL, not 0, for a backup whose source
	// knows no schedule, the removal row of one included.
	for _, r := range []row{b1, removed} {
		if r.interval.Valid {
			t.Errorf("%s (removed %v) expected_interval_seconds = %d, want NULL", r.id, r.removed, r.interval.Int64)
		}
	}
	for _, r := range []row{running, done} {
		if !r.interval.Valid || r.interval.Int64 != 6*3600 {
			t.Errorf("%s (%s) expected_interval_seconds = %+v, want 21600", r.id, r.status, r.interval)
		}
	}
	if removed.id != "b1" || !removed.removed || !removed.dt.Equal(day2) || removed.release.String != "v1.4.2" {
		t.Errorf("removal row = %+v, want b1 removed on dt=2025-03-11", removed)
	}

	// The set of backups retained at a time: the latest row per backup
	// up to then, unless it is a removal.
	retained := func(at time.Time) []string {
		var ids []string
		rows, err := db.Query(`
			SELECT id FROM (
				SELECT id, arg_max(removed, collected_at) AS removed
				FROM `+from(root, TableBackups)+`
				WHERE collected_at <= ?
				GROUP BY source, id)
			WHERE NOT removed ORDER BY id`, at)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close() //nolint:errcheck // read-only query
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return ids
	}
	if got, want := retained(day0().Add(time.Hour)), []string{"b1", "b2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("retained on day 1 = %v, want %v", got, want)
	}
	if got, want := retained(day0().Add(25*time.Hour)), []string{"b2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("retained on day 2 = %v, want %v", got, want)
	}
}

func TestDuckDBReadsRepositories(t *testing.T) {
	root, db := duckHistory(t)
	rows, err := db.Query(`
		SELECT dt, observed_at, name, stored_bytes, dedup_ratio, healthy, status_code, backup_locked
		FROM ` + from(root, TableRepositories) + ` ORDER BY observed_at`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // read-only query
	var n int
	for rows.Next() {
		var (
			dt, observed    time.Time
			name            string
			stored, code    int64
			dedup           float64
			healthy, locked bool
		)
		if err := rows.Scan(&dt, &observed, &name, &stored, &dedup, &healthy, &code, &locked); err != nil {
			t.Fatal(err)
		}
		wantAt := day0().Add(time.Duration(n) * 24 * time.Hour)
		if !observed.Equal(wantAt) || !dt.Equal(wantAt.Truncate(24*time.Hour)) || name != "main" ||
			stored != int64(100+n)<<30 || dedup != 2.5 || !healthy || code != 0 || locked {
			t.Errorf("repository row %d = %v %v %s %d %v %v %d %v", n, dt, observed, name, stored, dedup, healthy, code, locked)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("got %d repository rows, want 2", n)
	}
}

func TestDuckDBReadsProbes(t *testing.T) {
	root, db := duckHistory(t)
	rows, err := db.Query(`
		SELECT run_id, dt, start_time, restored_point, duration_seconds, success, tables_compared,
		       len(tables_mismatched), list_contains(tables_mismatched, 'public.orders'),
		       rto_target_seconds, achieved_rpo_seconds
		FROM ` + from(root, TableProbes) + ` ORDER BY start_time`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // read-only query
	var got []string
	for rows.Next() {
		var (
			runID          string
			dt, start      time.Time
			restored       sql.NullTime
			duration, rto  float64
			success        bool
			compared, nMis int64
			hasOrders      sql.NullBool
			rpo            sql.NullFloat64
		)
		if err := rows.Scan(&runID, &dt, &start, &restored, &duration, &success, &compared, &nMis, &hasOrders, &rto, &rpo); err != nil {
			t.Fatal(err)
		}
		got = append(got, runID)
		if !dt.Equal(time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC)) || duration != 1020.25 || rto != 1800 || compared != 42 {
			t.Errorf("probe %s = dt %v, duration %v, rto %v, compared %d", runID, dt, duration, rto, compared)
		}
		switch runID {
		case "run-0":
			if restored.Valid || rpo.Valid || !success || nMis != 0 {
				t.Errorf("run-0 = restored %v, rpo %v, success %v, mismatched %d; want NULL restored point and RPO", restored, rpo, success, nMis)
			}
		case "run-1":
			if !restored.Valid || !restored.Time.Equal(start.Add(-90*time.Minute)) || !rpo.Valid || rpo.Float64 != 5400 ||
				success || nMis != 2 || !hasOrders.Bool {
				t.Errorf("run-1 = restored %v, rpo %v, success %v, mismatched %d (orders %v)", restored, rpo, success, nMis, hasOrders)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"run-0", "run-1"}) {
		t.Errorf("probe runs = %v, want run-0, run-1", got)
	}
}
