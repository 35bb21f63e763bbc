package probe

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/restorable/restorable/internal/runx"
	"github.com/restorable/restorable/internal/testutil"
)

const myAdmin = "root@tcp(127.0.0.1:3306)/"

// myServer returns a pool on the MariaDB server on 127.0.0.1:3306, or skips
// (fails in CI) when there is none.
func myServer(t testing.TB) *sql.DB {
	t.Helper()
	if !testutil.TCPReachable("127.0.0.1:3306") {
		testutil.Unavailable(t, "no MariaDB/MySQL server on 127.0.0.1:3306")
	}
	testutil.Program(t, "mysqldump")
	testutil.Program(t, "mysql")
	cfg, _ := mysql.ParseDSN(myAdmin)
	cfg.MultiStatements = true
	c, _ := mysql.NewConnector(cfg)
	db := sql.OpenDB(c)
	if err := db.Ping(); err != nil {
		testutil.Unavailable(t, fmt.Sprintf("connect to MariaDB on 127.0.0.1:3306 as root: %v", err))
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func myExec(t testing.TB, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// mySourceDB creates a small source database and drops it when the test
// ends.
func mySourceDB(t testing.TB, admin *sql.DB) string {
	t.Helper()
	name := sourceDBName(t, 64)
	myExec(t, admin, "DROP DATABASE IF EXISTS `"+name+"`")
	myExec(t, admin, "CREATE DATABASE `"+name+"`")
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	myExec(t, admin, "USE `"+name+"`; "+`
CREATE TABLE customers (id int AUTO_INCREMENT PRIMARY KEY, name varchar(100) NOT NULL, created datetime NOT NULL DEFAULT '2026-01-01 00:00:00');
CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount decimal(10,2), note text, tag varbinary(16), KEY orders_customer (customer_id));
CREATE TABLE notes (id int, body text, meta json);
INSERT INTO customers (name) SELECT CONCAT('customer ', seq) FROM seq_1_to_200;
INSERT INTO orders SELECT seq, 1 + seq % 200, seq * 1.25, IF(seq % 7 = 0, NULL, CONCAT('order ', seq)), UNHEX(MD5(seq)) FROM seq_1_to_1000;
INSERT INTO notes SELECT seq % 10, REPEAT('n', seq), JSON_OBJECT('g', seq) FROM seq_1_to_50;
INSERT INTO notes VALUES (NULL, NULL, NULL);`)
	return name
}

func mySource(db string) string { return "root@tcp(127.0.0.1:3306)/" + db }

func myProbeConfig(options string) string {
	return `
environments:
  staging: {rpo: 24h}
probes:
  - name: my
    kind: mysql-logical
    env: staging
    timeout: 5m
    options:
      sandbox: {dsn: "` + myAdmin + `"}
` + options
}

func myDatabaseExists(t testing.TB, admin *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func TestMySQLLogicalRestoresAndVerifiesADumpWithItsChecksums(t *testing.T) {
	admin := myServer(t)
	src := mySourceDB(t, admin)
	dir := t.TempDir()
	sums, err := DumpMySQL(context.Background(), mySource(src), filepath.Join(dir, "src.sql"), MySQLDumpOptions{})
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	if len(sums.Tables) != 3 {
		t.Fatalf("checksums of %d tables, want 3", len(sums.Tables))
	}
	// Changes after the dump are in neither the dump nor its checksums.
	myExec(t, admin, "UPDATE `"+src+"`.orders SET amount = 0 WHERE id = 7")
	cfg := loadConfig(t, dir, myProbeConfig("      dump: src.sql\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "my")
	if !r.Success || r.TablesCompared != 3 || r.BytesVerified <= 0 {
		t.Fatalf("probe: success %v, %d tables, %d bytes: %s\n%s", r.Success, r.TablesCompared, r.BytesVerified, r.Error, r.Details)
	}
	if myDatabaseExists(t, admin, SandboxPrefix+r.RunID) {
		t.Error("scratch database not dropped")
	}
	if recs := h.records(t); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
}

func TestMySQLLogicalDetectsCorruption(t *testing.T) {
	admin := myServer(t)
	for _, tc := range []struct {
		name           string
		dumpArgs       func(src string) []string
		corrupt        func(t *testing.T, src, dump string)
		wantMismatched []string
		wantError      string
	}{
		{
			name: "row changed in the source after checksumming",
			corrupt: func(t *testing.T, src, dump string) {
				myExec(t, admin, "UPDATE `"+src+"`.orders SET note = 'tampered' WHERE id = 500")
				if _, err := runx.Run(context.Background(), runx.Cmd{Path: "mysqldump", Args: []string{"--protocol=TCP", "--host=127.0.0.1", "--user=root", "--single-transaction", "--result-file=" + dump, src}}); err != nil {
					t.Fatal(err)
				}
			},
			wantMismatched: []string{"orders"},
			wantError:      "restore differs from the source in 1 of 3 tables: orders",
		},
		{
			name:           "missing table",
			dumpArgs:       func(src string) []string { return []string{"--ignore-table=" + src + ".notes"} },
			wantMismatched: []string{"notes"},
			wantError:      "notes",
		},
		{
			name: "truncated archive",
			corrupt: func(t *testing.T, _, dump string) {
				info, _ := os.Stat(dump)
				if err := os.Truncate(dump, info.Size()*2/3); err != nil {
					t.Fatal(err)
				}
			},
			wantError: "is truncated",
		},
		{
			name: "dump that names its database",
			corrupt: func(t *testing.T, src, dump string) {
				if _, err := runx.Run(context.Background(), runx.Cmd{Path: "mysqldump", Args: []string{"--protocol=TCP", "--host=127.0.0.1", "--user=root", "--single-transaction", "--result-file=" + dump, "--databases", src}}); err != nil {
					t.Fatal(err)
				}
			},
			wantError: "it names databases",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := mySourceDB(t, admin)
			dir := t.TempDir()
			dump := filepath.Join(dir, "src.sql")
			var extra []string
			if tc.dumpArgs != nil {
				extra = tc.dumpArgs(src)
			}
			if _, err := DumpMySQL(context.Background(), mySource(src), dump, MySQLDumpOptions{ExtraArgs: extra}); err != nil {
				t.Fatalf("dump: %v", err)
			}
			if tc.corrupt != nil {
				tc.corrupt(t, src, dump)
			}
			cfg := loadConfig(t, dir, myProbeConfig("      dump: src.sql\n"))
			h := newHarness(t, cfg, catalogs{})
			h.start(t)
			r := h.run(t, "my")
			if r.Success {
				t.Fatalf("corruption passed: %s", r.Details)
			}
			if !strings.Contains(r.Error, tc.wantError) || !slices.Equal(r.TablesMismatched, tc.wantMismatched) {
				t.Errorf("error %q, mismatched %v; want %q and %v", r.Error, r.TablesMismatched, tc.wantError, tc.wantMismatched)
			}
			if myDatabaseExists(t, admin, SandboxPrefix+r.RunID) {
				t.Error("scratch database not dropped")
			}
		})
	}
}

func TestMySQLLogicalDumpsOnTheFly(t *testing.T) {
	admin := myServer(t)
	src := mySourceDB(t, admin)
	dir := t.TempDir()
	cfg := loadConfig(t, dir, myProbeConfig("      dump_from: {dsn: \""+mySource(src)+"\"}\n      work_dir: "+dir+"\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "my")
	if !r.Success || r.TablesCompared != 3 || r.RestoredPoint.IsZero() {
		t.Fatalf("on-the-fly probe: %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, DirPrefix+"*")); len(left) != 0 {
		t.Errorf("dump directories left: %v", left)
	}
}

func TestMySQLLogicalRefusesAPreexistingSandboxDatabase(t *testing.T) {
	admin := myServer(t)
	src := mySourceDB(t, admin)
	const existing = SandboxPrefix + "preexisting_my_test"
	myExec(t, admin, "DROP DATABASE IF EXISTS "+existing)
	myExec(t, admin, "CREATE DATABASE "+existing)
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + existing) })
	dir := t.TempDir()
	if _, err := DumpMySQL(context.Background(), mySource(src), filepath.Join(dir, "src.sql"), MySQLDumpOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, myProbeConfig("      dump: src.sql\n      database: "+existing+"\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "my")
	if r.Success || !strings.Contains(r.Error, "refusing to use database "+existing) {
		t.Fatalf("pre-existing sandbox database not refused: %+v", r)
	}
	if !myDatabaseExists(t, admin, existing) {
		t.Fatal("the probe dropped a database it did not create")
	}
}
