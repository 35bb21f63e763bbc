package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
	"github.com/restorable/restorable/internal/testutil"
)

// pgAdmin is the development server's superuser connection.
const pgAdmin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"

// pgServer returns a connection to the PostgreSQL server on 127.0.0.1:5432,
// or skips (fails in CI) when there is none.
func pgServer(t testing.TB) *pgx.Conn {
	t.Helper()
	if !testutil.TCPReachable("127.0.0.1:5432") {
		testutil.Unavailable(t, "no PostgreSQL server on 127.0.0.1:5432")
	}
	testutil.Program(t, "pg_restore")
	conn, err := pgx.Connect(context.Background(), pgAdmin)
	if err != nil {
		testutil.Unavailable(t, fmt.Sprintf("connect to PostgreSQL on 127.0.0.1:5432 as postgres: %v", err))
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// pgSourceDB creates a small source database with three tables and drops
// it when the test ends.
func pgSourceDB(t testing.TB, admin *pgx.Conn) string {
	t.Helper()
	ctx := context.Background()
	name := sourceDBName(t, 63)
	ident := pgx.Identifier{name}.Sanitize()
	mustExec(t, admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)")
	mustExec(t, admin, "CREATE DATABASE "+ident)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)") })
	conn, err := pgx.Connect(ctx, pgAdminDB(name))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx) //nolint:errcheck // test
	mustExec(t, conn, `
CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, created timestamptz NOT NULL DEFAULT '2026-01-01');
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int REFERENCES customers, amount numeric(10,2), note text);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE notes (id int, body text, meta json);
INSERT INTO customers (name) SELECT 'customer ' || g FROM generate_series(1, 200) g;
INSERT INTO orders SELECT g, 1 + g % 200, g * 1.25, CASE WHEN g % 7 = 0 THEN NULL ELSE 'order ' || g END FROM generate_series(1, 1000) g;
INSERT INTO notes SELECT g % 10, repeat('n', g), json_build_object('g', g) FROM generate_series(1, 50) g;
INSERT INTO notes VALUES (NULL, NULL, NULL);`)
	return name
}

func pgAdminDB(db string) string { return strings.Replace(pgAdmin, "dbname=postgres", "dbname="+db, 1) }

func mustExec(t testing.TB, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func pgDatabaseExists(t testing.TB, admin *pgx.Conn, name string) bool {
	t.Helper()
	var ok bool
	if err := admin.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// pgProbeConfig is a configuration with one postgres-logical probe.
func pgProbeConfig(options string) string {
	return `
environments:
  staging: {rpo: 24h, rto: 10m}
probes:
  - name: pg
    kind: postgres-logical
    env: staging
    timeout: 5m
    options:
      sandbox: {dsn: "` + pgAdmin + `"}
` + options
}

// assertNoScratchLeft checks that the run dropped its scratch database and
// forgot its records.
func assertNoScratchLeft(t *testing.T, h *harness, admin *pgx.Conn, r model.ProbeResult) {
	t.Helper()
	if pgDatabaseExists(t, admin, SandboxPrefix+r.RunID) {
		t.Errorf("scratch database %s%s was not dropped", SandboxPrefix, r.RunID)
	}
	if recs := h.records(t); len(recs) != 0 {
		t.Errorf("sandbox records left: %v", recs)
	}
}

func TestPostgresLogicalRestoresAndVerifiesADumpWithItsChecksums(t *testing.T) {
	admin := pgServer(t)
	src := pgSourceDB(t, admin)
	dir := t.TempDir()
	dump := filepath.Join(dir, "src.dump")
	sums, err := DumpPostgres(context.Background(), pgAdminDB(src), dump, PostgresDumpOptions{})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	if len(sums.Tables) != 3 || sums.Snapshot == "" {
		t.Fatalf("checksums of %d tables in snapshot %q, want 3 in a snapshot", len(sums.Tables), sums.Snapshot)
	}
	// Changes after the dump's snapshot are not in the dump, and not in
	// its checksums either.
	source, err := pgx.Connect(context.Background(), pgAdminDB(src))
	if err != nil {
		t.Fatal(err)
	}
	defer source.Close(context.Background()) //nolint:errcheck // test
	mustExec(t, source, "UPDATE orders SET amount = 0 WHERE id = 7; INSERT INTO notes VALUES (99, 'later')")

	cfg := loadConfig(t, dir, pgProbeConfig("      dump: src.dump\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "pg")
	if !r.Success {
		t.Fatalf("probe failed: %s\n%s", r.Error, r.Details)
	}
	if r.TablesCompared != 3 || len(r.TablesMismatched) != 0 || r.BytesVerified <= 0 {
		t.Errorf("compared %d tables, mismatched %v, verified %d bytes", r.TablesCompared, r.TablesMismatched, r.BytesVerified)
	}
	assertNoScratchLeft(t, h, admin, r)
}

func TestPostgresLogicalDetectsCorruption(t *testing.T) {
	admin := pgServer(t)
	for _, tc := range []struct {
		name string
		// corrupt damages the dump after DumpPostgres wrote it and its
		// checksums.
		corrupt        func(t *testing.T, src, dump string)
		dumpArgs       []string
		wantMismatched []string
		wantError      string
		wantDetail     string
	}{
		{
			name: "row changed in the source after checksumming",
			corrupt: func(t *testing.T, src, dump string) {
				conn, err := pgx.Connect(context.Background(), pgAdminDB(src))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(context.Background()) //nolint:errcheck // test
				mustExec(t, conn, "UPDATE orders SET note = 'tampered' WHERE id = 500")
				// A dump taken later, outside the checksums' snapshot.
				if _, err := runx.Run(context.Background(), runx.Cmd{Path: "pg_dump", Args: []string{"--format=custom", "--file=" + dump, pgAdminDB(src)}}); err != nil {
					t.Fatal(err)
				}
			},
			wantMismatched: []string{"public.orders"},
			wantError:      "restore differs from the source in 1 of 3 tables: public.orders",
			wantDetail:     "public.orders: content checksum differs (1000 rows on both sides)",
		},
		{
			name:           "missing table",
			dumpArgs:       []string{"--exclude-table=public.notes"},
			wantMismatched: []string{"public.notes"},
			wantError:      "public.notes",
			wantDetail:     "public.notes: missing from the restore (source has 51 rows)",
		},
		{
			name: "truncated archive",
			corrupt: func(t *testing.T, _, dump string) {
				info, err := os.Stat(dump)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(dump, info.Size()/2); err != nil {
					t.Fatal(err)
				}
			},
			wantError: "restore the dump (truncated or damaged archive?)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := pgSourceDB(t, admin)
			dir := t.TempDir()
			dump := filepath.Join(dir, "src.dump")
			if _, err := DumpPostgres(context.Background(), pgAdminDB(src), dump, PostgresDumpOptions{ExtraArgs: tc.dumpArgs}); err != nil {
				t.Fatalf("dump: %v", err)
			}
			if tc.corrupt != nil {
				tc.corrupt(t, src, dump)
			}
			cfg := loadConfig(t, dir, pgProbeConfig("      dump: src.dump\n"))
			h := newHarness(t, cfg, catalogs{})
			h.start(t)
			r := h.run(t, "pg")
			if r.Success {
				t.Fatalf("corruption passed: %s", r.Details)
			}
			if !strings.Contains(r.Error, tc.wantError) {
				t.Errorf("error %q does not contain %q", r.Error, tc.wantError)
			}
			if !slices.Equal(r.TablesMismatched, tc.wantMismatched) {
				t.Errorf("mismatched tables %v, want %v", r.TablesMismatched, tc.wantMismatched)
			}
			if !strings.Contains(r.Details, tc.wantDetail) {
				t.Errorf("details %q do not contain %q", r.Details, tc.wantDetail)
			}
			assertNoScratchLeft(t, h, admin, r)
		})
	}
}

func TestPostgresLogicalDumpsOnTheFlyInOneSnapshot(t *testing.T) {
	admin := pgServer(t)
	src := pgSourceDB(t, admin)
	dir := t.TempDir()
	cfg := loadConfig(t, dir, pgProbeConfig("      dump_from: {dsn: \""+pgAdminDB(src)+"\"}\n      work_dir: "+dir+"\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "pg")
	if !r.Success || r.TablesCompared != 3 || !strings.HasPrefix(r.BackupID, "snapshot:") || r.RestoredPoint.IsZero() {
		t.Fatalf("on-the-fly probe: success %v, %d tables, backup %q, point %s: %s", r.Success, r.TablesCompared, r.BackupID, r.RestoredPoint, r.Error)
	}
	assertNoScratchLeft(t, h, admin, r)
	if left, _ := filepath.Glob(filepath.Join(dir, DirPrefix+"*")); len(left) != 0 {
		t.Errorf("dump directories left: %v", left)
	}
}

func TestPostgresLogicalFromCatalogRecord(t *testing.T) {
	admin := pgServer(t)
	src := pgSourceDB(t, admin)
	dir := t.TempDir()
	if _, err := DumpPostgres(context.Background(), pgAdminDB(src), filepath.Join(dir, "nightly.dump"), PostgresDumpOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, `
environments:
  staging: {rpo: 24h}
sources:
  - {name: dumps, type: manifest, env: staging, manifest: {dir: .}}
probes:
  - name: pg
    kind: postgres-logical
    source: dumps
    options:
      sandbox: {dsn: "`+pgAdmin+`"}
`)
	b := model.Backup{Source: "dumps", Env: "staging", Dataset: "payments", ID: "nightly-1", Status: model.StatusSucceeded, Location: "nightly.dump", Release: "v3"}
	h := newHarness(t, cfg, catalogs{"dumps": {Backups: []model.Backup{b}}})
	h.start(t)
	r := h.run(t, "pg")
	if !r.Success || r.BackupID != "nightly-1" || r.Release != "v3" || r.Dataset != "payments" {
		t.Fatalf("catalog probe: %+v", r)
	}
}

func TestPostgresLogicalRefusesAPreexistingSandboxDatabase(t *testing.T) {
	admin := pgServer(t)
	src := pgSourceDB(t, admin)
	const existing = SandboxPrefix + "preexisting_test"
	mustExec(t, admin, "DROP DATABASE IF EXISTS "+existing)
	mustExec(t, admin, "CREATE DATABASE "+existing)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+existing) })
	dir := t.TempDir()
	if _, err := DumpPostgres(context.Background(), pgAdminDB(src), filepath.Join(dir, "src.dump"), PostgresDumpOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, pgProbeConfig("      dump: src.dump\n      database: "+existing+"\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "pg")
	if r.Success || !strings.Contains(r.Error, "refusing to use database "+existing) {
		t.Fatalf("pre-existing sandbox database not refused: %+v", r)
	}
	if !pgDatabaseExists(t, admin, existing) {
		t.Fatal("the probe dropped a database it did not create")
	}
	if recs := h.records(t); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
}

func TestPostgresLogicalRefusesSandboxThatIsTheSource(t *testing.T) {
	admin := pgServer(t)
	src := pgSourceDB(t, admin)
	// Names that only resolve at run time: the check cannot happen when
	// the configuration is loaded.
	t.Setenv("PROBE_TEST_SANDBOX", "postgres://postgres@localhost:5432/"+src)
	cfg := loadConfig(t, t.TempDir(), `
environments:
  staging: {rpo: 24h}
probes:
  - name: pg
    kind: postgres-logical
    env: staging
    options:
      sandbox: {dsn_env: PROBE_TEST_SANDBOX}
      dump_from: {dsn: "host=127.0.0.1 port=5432 user=postgres dbname=`+src+`"}
`)
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "pg")
	if r.Success || !strings.Contains(r.Error, "the sandbox resolves to the source's server and database "+src) {
		t.Fatalf("sandbox == source not refused: %+v", r)
	}
}

func TestPostgresLogicalTimeoutCancelsAndCleansUp(t *testing.T) {
	admin := pgServer(t)
	dir := t.TempDir()
	// pg_restore blocks opening a FIFO nobody writes to: a restore that
	// never ends.
	fifo := filepath.Join(dir, "stuck.dump")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sums, _ := json.Marshal(Checksums{Format: ChecksumsFormat, Engine: "postgres", Algorithm: pgAlgorithm, Database: "x"})
	if err := os.WriteFile(ChecksumsPath(fifo), sums, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, strings.Replace(pgProbeConfig("      dump: stuck.dump\n"), "timeout: 5m", "timeout: 2s", 1))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "pg")
	if r.Success || !strings.Contains(r.Error, "timed out after 2s") {
		t.Fatalf("overrunning probe: %+v", r)
	}
	assertNoScratchLeft(t, h, admin, r)
}

func TestOrphanedSandboxesAreCleanedAtStart(t *testing.T) {
	admin := pgServer(t)
	dir := t.TempDir()
	cfg := loadConfig(t, dir, pgProbeConfig("      dump: x.dump\n"))
	h := newHarness(t, cfg, catalogs{})
	st, err := newStateStore(h.state)
	if err != nil {
		t.Fatal(err)
	}
	server := pgEndpoint(map[string]string{"host": "127.0.0.1", "port": "5432"}).server()

	// A crashed run: its database carries its mark, its directory exists.
	const crashed = "20260101t000000_0a0b0c"
	ours := SandboxPrefix + crashed
	mustExec(t, admin, "DROP DATABASE IF EXISTS "+ours)
	mustExec(t, admin, "CREATE DATABASE "+ours)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+ours) })
	mustExec(t, admin, "COMMENT ON DATABASE "+ours+" IS '"+markerText+crashed+"'")
	orphanDir := filepath.Join(dir, DirPrefix+crashed+"-dump")
	if err := os.Mkdir(orphanDir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A database of the same shape that someone else made: no mark.
	const foreign = "20260101t000000_0d0e0f"
	theirs := SandboxPrefix + foreign
	mustExec(t, admin, "DROP DATABASE IF EXISTS "+theirs)
	mustExec(t, admin, "CREATE DATABASE "+theirs)
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+theirs) })
	for _, rec := range []sandboxRecord{
		{RunID: crashed, Probe: "pg", Kind: sandboxDatabase, Server: server, Name: ours},
		{RunID: crashed, Probe: "pg", Kind: sandboxDir, Name: orphanDir},
		{RunID: foreign, Probe: "pg", Kind: sandboxDatabase, Server: server, Name: theirs},
	} {
		if _, err := st.record(rec); err != nil {
			t.Fatal(err)
		}
	}

	h.start(t)
	if pgDatabaseExists(t, admin, ours) {
		t.Error("the orphaned scratch database was not dropped")
	}
	if _, err := os.Stat(orphanDir); !os.IsNotExist(err) {
		t.Errorf("the orphaned directory was not removed: %v", err)
	}
	if !pgDatabaseExists(t, admin, theirs) {
		t.Error("a database without the probe's mark was dropped")
	}
	if recs := h.records(t); len(recs) != 1 {
		t.Errorf("records left %v, want only the unmarked database's", recs)
	}
}
