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

	"github.com/restorable/restorable/internal/model"
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

// myVictim creates a database the probes must never touch, with a table
// of rows, and drops it when the test ends.
func myVictim(t testing.TB, admin *sql.DB, name string) string {
	t.Helper()
	myExec(t, admin, "DROP DATABASE IF EXISTS `"+name+"`")
	myExec(t, admin, "CREATE DATABASE `"+name+"`")
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	myExec(t, admin, "CREATE TABLE `"+name+"`.t (id int PRIMARY KEY, v varchar(20))")
	myExec(t, admin, "INSERT INTO `"+name+"`.t VALUES (1, 'row 1'), (2, 'row 2'), (3, 'row 3'), (4, 'row 4'), (5, 'row 5')")
	return name
}

// myFingerprint describes a database's tables and rows.
func myFingerprint(t testing.TB, admin *sql.DB, db string) string {
	t.Helper()
	var tables string
	if err := admin.QueryRow("SELECT COALESCE(GROUP_CONCAT(table_name ORDER BY table_name), '') FROM information_schema.tables WHERE table_schema = ?", db).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	var rows, sum int64
	if err := admin.QueryRow("SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT(id, '|', v))), 0) FROM `"+db+"`.t").Scan(&rows, &sum); err != nil {
		return tables + " (table t unreadable: " + err.Error() + ")"
	}
	return fmt.Sprintf("%s: %d rows, sum %d", tables, rows, sum)
}

// myUserExists reports whether an account named user exists.
func myUserExists(t testing.TB, admin *sql.DB, user string) bool {
	t.Helper()
	var n int
	if err := admin.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE user = ?", user).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// assertMyRunLeftNothing checks that a run dropped its scratch database and
// its restore user and forgot its records.
func assertMyRunLeftNothing(t testing.TB, h *harness, admin *sql.DB, r model.ProbeResult) {
	t.Helper()
	if myDatabaseExists(t, admin, SandboxPrefix+r.RunID) {
		t.Error("scratch database not dropped")
	}
	if myUserExists(t, admin, SandboxPrefix+r.RunID) {
		t.Error("restore user not dropped")
	}
	if recs := h.records(t); len(recs) != 0 {
		t.Errorf("records left: %v", recs)
	}
}

func TestMySQLLogicalCraftedDumpsLeaveOtherDatabasesUntouched(t *testing.T) {
	admin := myServer(t)
	victim := myVictim(t, admin, sourceDBName(t, 40)+"_victim")
	spaced := myVictim(t, admin, sourceDBName(t, 40)+" victim db")
	before := map[string]string{victim: myFingerprint(t, admin, victim), spaced: myFingerprint(t, admin, spaced)}
	dir := t.TempDir()
	cfg := loadConfig(t, dir, myProbeConfig("      dump: crafted.sql\n      allow_missing_checksums: true\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	// Each crafted dump first creates and fills a table of its own, as a
	// real dump would, then tries to reach the victim.
	const prelude = "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1),(2);\n"
	type bypass struct{ name, dump string }
	var cases []bypass
	for _, b := range dumpBypasses() {
		if !b.wholeServer {
			cases = append(cases, bypass{b.name, prelude + bypassDump(b.dump, victim)})
		}
	}
	for _, d := range []string{
		"DROP TABLE `" + spaced + "`.`t`;",
		"INSERT INTO `" + spaced + "` . `t` VALUES (9, 'x');",
		"USE `" + spaced + "`;\nDROP TABLE t;",
		"/*!40000 USE `" + spaced + "`*/;\nDROP TABLE t;",
		"SET sql_mode='ANSI_QUOTES';\nDELETE FROM \"" + spaced + "\".t;",
	} {
		cases = append(cases, bypass{"backticked name with spaces: " + d, prelude + d})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "crafted.sql"), []byte(tc.dump), 0o600); err != nil {
				t.Fatal(err)
			}
			r := h.run(t, "my")
			if r.Success || !strings.Contains(r.Error, "refusing to restore crafted.sql") {
				t.Errorf("crafted dump not refused: success %v, error %q", r.Success, r.Error)
			}
			for db, want := range before {
				if got := myFingerprint(t, admin, db); got != want {
					t.Fatalf("database %q changed: %s, was %s (probe error: %s)", db, got, want, r.Error)
				}
			}
			assertMyRunLeftNothing(t, h, admin, r)
		})
	}
}

func TestMySQLLogicalRestoresADumpWithRoutinesTriggersEventsAndViews(t *testing.T) {
	admin := myServer(t)
	src := mySourceDB(t, admin)
	myExec(t, admin, "USE `"+src+"`; "+`
CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, note varchar(200));
CREATE TRIGGER orders_audit AFTER UPDATE ON orders FOR EACH ROW INSERT INTO audit (note) VALUES (CONCAT('order ', NEW.id, '; changed'));
CREATE PROCEDURE big_orders(IN lim decimal(10,2)) BEGIN SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.amount > lim; END;
CREATE FUNCTION tax(x decimal(10,2)) RETURNS decimal(10,2) DETERMINISTIC RETURN x * 0.2;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DO DELETE FROM audit WHERE id < 0;
CREATE VIEW order_names AS SELECT o.id, c.name FROM orders o JOIN customers c ON c.id = o.customer_id;
CREATE SEQUENCE invoice_no;
SET sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES';
CREATE PROCEDURE ansi_proc() SELECT "id", 'back\' AS b FROM orders LIMIT 1;
SET sql_mode = DEFAULT;
UPDATE orders SET amount = amount + 1 WHERE id <= 3;`)
	dir := t.TempDir()
	if _, err := DumpMySQL(context.Background(), mySource(src), filepath.Join(dir, "src.sql"), MySQLDumpOptions{ExtraArgs: []string{"--events"}}); err != nil {
		t.Fatalf("dump: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "src.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TRIGGER orders_audit", "PROCEDURE `big_orders`", "FUNCTION `tax`", "EVENT `nightly`", "VIEW `order_names`", "DEFINER="} {
		if !strings.Contains(string(data), want) {
			t.Fatalf("the dump lacks %q: the test does not test what it says", want)
		}
	}
	cfg := loadConfig(t, dir, myProbeConfig("      dump: src.sql\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "my")
	if !r.Success || r.TablesCompared != 4 {
		t.Fatalf("probe: success %v, %d tables: %s\n%s", r.Success, r.TablesCompared, r.Error, r.Details)
	}
	assertMyRunLeftNothing(t, h, admin, r)
}

func TestMySQLRestoreUserCannotReachOtherDatabases(t *testing.T) {
	admin := myServer(t)
	victim := myVictim(t, admin, sourceDBName(t, 40)+"_victim")
	scratch := SandboxPrefix + fmt.Sprintf("t%d_user", os.Getpid())
	// A database the grant would match if "_" were not escaped.
	lookalike := strings.ReplaceAll(scratch, "_", "x")
	for _, db := range []string{scratch, lookalike} {
		myExec(t, admin, "DROP DATABASE IF EXISTS `"+db+"`")
		myExec(t, admin, "CREATE DATABASE `"+db+"`")
		t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + db + "`") })
	}
	myExec(t, admin, "CREATE TABLE `"+lookalike+"`.t (id int PRIMARY KEY, v varchar(20))")
	before, beforeLook := myFingerprint(t, admin, victim), myFingerprint(t, admin, lookalike)
	box, err := readMySQLSandbox(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	acct := mysqlAccount{user: scratch, host: box.host}
	_, _ = admin.Exec("DROP USER IF EXISTS " + acct.String())
	password, err := createMySQLRestoreUser(context.Background(), admin, acct, scratch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dropMySQLUser(context.Background(), admin, acct) })
	if _, err := createMySQLRestoreUser(context.Background(), admin, acct, scratch); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("second creation: %v, want a refusal", err)
	}
	// The password is sent as the server's own hash of it.
	var hash string
	if err := admin.QueryRow("SELECT PASSWORD(?)", password).Scan(&hash); err != nil || hash != nativePasswordHash(password) {
		t.Errorf("hash %s, the server's %s (%v)", nativePasswordHash(password), hash, err)
	}
	sb, err := newMySQLClient(myAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sb.openAs(acct, password, scratch)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // pool
	// The restore user works in its database...
	myExec(t, db, "CREATE TABLE own (id int)")
	myExec(t, db, "INSERT INTO own VALUES (1)")
	// One call runs one statement: a second one hidden after a semicolon
	// is a syntax error, not executed.
	if _, err := db.Exec("INSERT INTO own VALUES (2); DROP TABLE own"); err == nil {
		t.Error("two statements ran in one call")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM own").Scan(&n); err != nil || n != 1 {
		t.Errorf("after a call with two statements: %d rows, %v", n, err)
	}
	// ...and nowhere else. Should it get through, what it did is undone.
	outfile := filepath.Join(os.TempDir(), scratch+"-outfile")
	t.Cleanup(func() {
		_ = os.Remove(outfile)
		_, _ = admin.Exec("DROP USER IF EXISTS '" + scratch + "_2'@'%'")
		_, _ = admin.Exec("DROP DATABASE IF EXISTS restorable_probe_other")
	})
	for _, q := range []string{
		"DROP TABLE `" + victim + "`.t",
		"DELETE FROM `" + victim + "`.t",
		"INSERT INTO `" + victim + "`.t VALUES (9, 'x')",
		"SELECT COUNT(*) FROM `" + victim + "`.t",
		"USE `" + victim + "`",
		"DROP DATABASE `" + victim + "`",
		"CREATE DATABASE restorable_probe_other",
		"DROP TABLE `" + lookalike + "`.t",
		"CREATE TABLE `" + lookalike + "`.x (id int)",
		"GRANT ALL ON `" + victim + "`.* TO " + acct.String(),
		"CREATE USER '" + scratch + "_2'@'%'",
		"SET GLOBAL slow_launch_time = 3",
		"SELECT 1 INTO OUTFILE '" + outfile + "'",
		"CREATE DEFINER=`root`@`localhost` PROCEDURE p() SELECT 1",
	} {
		if _, err := db.Exec(q); err == nil {
			t.Errorf("the restore user could run %s", q)
		}
	}
	if got := myFingerprint(t, admin, victim); got != before {
		t.Errorf("victim changed: %s, was %s", got, before)
	}
	if got := myFingerprint(t, admin, lookalike); got != beforeLook {
		t.Errorf("look-alike database changed: %s, was %s", got, beforeLook)
	}
}

// mySandboxAccount creates an account with the given grants for the test,
// and returns its DSN.
func mySandboxAccount(t testing.TB, admin *sql.DB, name string, grants ...string) string {
	t.Helper()
	myExec(t, admin, "DROP USER IF EXISTS '"+name+"'@'%'")
	myExec(t, admin, "CREATE USER '"+name+"'@'%' IDENTIFIED BY 'pw-"+name+"'")
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER IF EXISTS '" + name + "'@'%'") })
	for _, g := range grants {
		myExec(t, admin, "GRANT "+g+" TO '"+name+"'@'%'")
	}
	return name + ":pw-" + name + "@tcp(127.0.0.1:3306)/"
}

func TestMySQLLogicalRefusesToRestoreAsASandboxAccountThatCannotMakeTheRestoreUser(t *testing.T) {
	admin := myServer(t)
	src := mySourceDB(t, admin)
	dir := t.TempDir()
	if _, err := DumpMySQL(context.Background(), mySource(src), filepath.Join(dir, "src.sql"), MySQLDumpOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		grants []string
	}{
		{"no CREATE USER", []string{"ALL PRIVILEGES ON `restorable\\_probe\\_%`.*"}},
		{"no GRANT OPTION", []string{"ALL PRIVILEGES ON `restorable\\_probe\\_%`.*", "CREATE USER ON *.*", "SELECT ON mysql.*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := mySandboxAccount(t, admin, fmt.Sprintf("rp_sandbox_%d", os.Getpid()), tc.grants...)
			dsnFile := filepath.Join(t.TempDir(), "sandbox.dsn")
			if err := os.WriteFile(dsnFile, []byte(dsn), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := loadConfig(t, dir, strings.Replace(myProbeConfig("      dump: src.sql\n"), `{dsn: "`+myAdmin+`"}`, `{dsn_file: "`+dsnFile+`"}`, 1))
			h := newHarness(t, cfg, catalogs{})
			h.start(t)
			r := h.run(t, "my")
			if r.Success || !strings.Contains(r.Error, "the sandbox account needs CREATE USER and all privileges on the scratch databases WITH GRANT OPTION") {
				t.Fatalf("probe: success %v, error %q", r.Success, r.Error)
			}
			if strings.Contains(r.Error, "pw-") {
				t.Errorf("the error shows the sandbox password: %s", r.Error)
			}
			assertMyRunLeftNothing(t, h, admin, r)
		})
	}
}

func TestMySQLOrphanedScratchDatabaseAndUserAreDroppedAtStart(t *testing.T) {
	admin := myServer(t)
	dir := t.TempDir()
	cfg := loadConfig(t, dir, myProbeConfig("      dump: x.sql\n"))
	h := newHarness(t, cfg, catalogs{})
	st, err := newStateStore(h.state)
	if err != nil {
		t.Fatal(err)
	}
	box, err := readMySQLSandbox(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	// A crashed run: its database carries its mark, its user exists.
	crashed := fmt.Sprintf("20260101t000000_%06x", os.Getpid()%0xffffff)
	ours := SandboxPrefix + crashed
	acct := mysqlAccount{user: ours, host: box.host}
	myExec(t, admin, "DROP DATABASE IF EXISTS `"+ours+"`")
	myExec(t, admin, "CREATE DATABASE `"+ours+"` COMMENT '"+markerText+crashed+"'")
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + ours + "`") })
	_, _ = admin.Exec("DROP USER IF EXISTS " + acct.String())
	if _, err := createMySQLRestoreUser(context.Background(), admin, acct, ours); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER IF EXISTS " + acct.String()) })
	// A database and user of the same shape that someone else made: no
	// mark, so both stay.
	foreign := fmt.Sprintf("20260101t000001_%06x", os.Getpid()%0xffffff)
	theirs := SandboxPrefix + foreign
	myExec(t, admin, "DROP DATABASE IF EXISTS `"+theirs+"`")
	myExec(t, admin, "CREATE DATABASE `"+theirs+"`")
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + theirs + "`") })
	myExec(t, admin, "CREATE OR REPLACE USER '"+theirs+"'@'%'")
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER IF EXISTS '" + theirs + "'@'%'") })
	server := myEndpoint(&mysql.Config{Net: "tcp", Addr: "127.0.0.1:3306"}).server()
	for _, rec := range []sandboxRecord{
		{RunID: crashed, Probe: "my", Kind: sandboxDatabase, Server: server, Name: ours},
		{RunID: foreign, Probe: "my", Kind: sandboxDatabase, Server: server, Name: theirs},
	} {
		if _, err := st.record(rec); err != nil {
			t.Fatal(err)
		}
	}
	h.start(t)
	if myDatabaseExists(t, admin, ours) || myUserExists(t, admin, ours) {
		t.Error("the orphaned scratch database or its user was not dropped")
	}
	if !myDatabaseExists(t, admin, theirs) || !myUserExists(t, admin, theirs) {
		t.Error("a database without the probe's mark, or its namesake user, was dropped")
	}
	if recs := h.records(t); len(recs) != 1 {
		t.Errorf("records left %v, want only the unmarked database's", recs)
	}
}

func TestMySQLRestoreRunsTriggersAsTheRestoreUser(t *testing.T) {
	admin := myServer(t)
	scratch := SandboxPrefix + fmt.Sprintf("t%d_definer", os.Getpid())
	myExec(t, admin, "DROP DATABASE IF EXISTS `"+scratch+"`")
	myExec(t, admin, "CREATE DATABASE `"+scratch+"`")
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + scratch + "`") })
	box, err := readMySQLSandbox(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	acct := mysqlAccount{user: scratch, host: box.host}
	_, _ = admin.Exec("DROP USER IF EXISTS " + acct.String())
	password, err := createMySQLRestoreUser(context.Background(), admin, acct, scratch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dropMySQLUser(context.Background(), admin, acct) })
	dump := filepath.Join(t.TempDir(), "definer.sql")
	if err := os.WriteFile(dump, []byte("CREATE TABLE `w` (`u` varchar(200));\n"+
		"DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `tr` BEFORE INSERT ON `w` FOR EACH ROW SET NEW.u = CURRENT_USER() */;;\nDELIMITER ;\n"+
		"INSERT INTO `w` VALUES ('x');\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sb, err := newMySQLClient(myAdmin, "")
	if err != nil {
		t.Fatal(err)
	}
	db, err := sb.openAs(acct, password, scratch)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close() //nolint:errcheck // pool
	if err := restoreMySQLDump(context.Background(), db, dump, box.scanOptions(scratch)); err != nil {
		t.Fatalf("restore: %v", err)
	}
	var definer, ranAs string
	if err := admin.QueryRow("SELECT definer FROM information_schema.triggers WHERE trigger_schema = ?", scratch).Scan(&definer); err != nil {
		t.Fatal(err)
	}
	if err := admin.QueryRow("SELECT u FROM `" + scratch + "`.w").Scan(&ranAs); err != nil {
		t.Fatal(err)
	}
	if want := acct.user + "@" + acct.host; definer != want || ranAs != want {
		t.Errorf("trigger defined by %s and run as %s, want %s for both", definer, ranAs, want)
	}
}

func TestMySQLLogicalRefusesAPreexistingRestoreUserAndLeavesIt(t *testing.T) {
	admin := myServer(t)
	src := mySourceDB(t, admin)
	scratch := SandboxPrefix + fmt.Sprintf("preexisting_user_%d", os.Getpid())
	box, err := readMySQLSandbox(context.Background(), admin)
	if err != nil {
		t.Fatal(err)
	}
	theirs := mysqlAccount{user: scratch, host: box.host}
	myExec(t, admin, "CREATE OR REPLACE USER "+theirs.String())
	t.Cleanup(func() { _, _ = admin.Exec("DROP USER IF EXISTS " + theirs.String()) })
	dir := t.TempDir()
	if _, err := DumpMySQL(context.Background(), mySource(src), filepath.Join(dir, "src.sql"), MySQLDumpOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, myProbeConfig("      dump: src.sql\n      database: "+scratch+"\n"))
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	r := h.run(t, "my")
	if r.Success || !strings.Contains(r.Error, "refusing to use user") {
		t.Fatalf("pre-existing restore user not refused: %+v", r)
	}
	if !myUserExists(t, admin, scratch) {
		t.Fatal("the probe dropped a user it did not create")
	}
	if myDatabaseExists(t, admin, scratch) {
		t.Error("scratch database not dropped")
	}
}
