package probe

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scanOpts are the scanner options of the unit tests: a MariaDB 10.11
// sandbox holding the database "victim".
func scanOpts() dumpScanOptions {
	return dumpScanOptions{ServerVersion: 101119, OtherDatabases: []string{"victim", "mysql"}, SQLMode: "STRICT_TRANS_TABLES", Charset: "utf8mb4", Keep: true}
}

// scanDump returns the statements of dump as the restore would send them.
func scanDump(dump string, o dumpScanOptions) ([]string, error) {
	s, err := newDumpScanner(strings.NewReader(dump), o)
	if err != nil {
		return nil, err
	}
	var out []string
	for {
		st, err := s.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, strings.TrimSpace(st.Text))
	}
}

// dumpBypasses are dumps that try to reach the database "victim" (named
// VICTIM, replaced by the tests) past the dump check, each with the
// reason the check gives.
//
// wholeServer marks the bypasses that would harm the shared test server
// itself if both defences failed (SHUTDOWN, SET GLOBAL, accounts, files):
// they are run against the scanner only.
func dumpBypasses() []struct {
	name, dump, want string
	wholeServer      bool
} {
	return []struct {
		name, dump, want string
		wholeServer      bool
	}{
		{"leading space", " USE VICTIM;\nDROP TABLE t;", "it names databases", false},
		{"tab", "USE\tVICTIM;\nDROP TABLE t;", "it names databases", false},
		{"executable comment", "/*!40000 USE VICTIM */;\nDROP TABLE t;", "it names databases", false},
		{"executable comment without version", "/*! USE VICTIM */;", "it names databases", false},
		{"MariaDB executable comment", "/*M!100000 USE VICTIM */;", "it names databases", false},
		{"mixed case", "uSe VICTIM;", "it names databases", false},
		{"comment between USE and the name", "USE /* hi */ VICTIM;", "it names databases", false},
		{"empty comment as the space", "USE/**/VICTIM;", "it names databases", false},
		{"line comment before USE", "-- x\nUSE VICTIM;", "it names databases", false},
		{"hash comment before USE", "# x\r\nUSE VICTIM;", "it names databases", false},
		{"statement split over lines", "DROP\nTABLE\n`VICTIM`\n.\n`t`;", "it names database", false},
		{"CRLF line ends", "DROP TABLE VICTIM.t;\r\n", "it names database", false},
		{"qualified DROP", "DROP TABLE IF EXISTS `VICTIM`.`t`;", "it names database", false},
		{"qualified with spaces", "DROP TABLE VICTIM . t;", "it names database", false},
		{"qualified INSERT", "INSERT INTO `VICTIM`.`t` VALUES (99);", "it names database", false},
		{"qualified name in upper case", "INSERT INTO `" + "VICTIM_UPPER" + "`.`t` VALUES (99);", "it names database", false},
		{"DELETE", "DELETE FROM VICTIM.t;", "it names database", false},
		{"TRUNCATE", "TRUNCATE VICTIM.t;", "it names database", false},
		{"RENAME", "RENAME TABLE VICTIM.t TO stolen;", "it names database", false},
		{"CREATE TABLE in the other database", "CREATE TABLE VICTIM.x (a int);", "it names database", false},
		{"CREATE TABLE LIKE", "CREATE TABLE x LIKE VICTIM.t;", "it names database", false},
		{"CREATE TABLE SELECT", "CREATE TABLE x SELECT * FROM t2;", "is created from its definition only", false},
		{"ALTER of the other database", "/*!40000 ALTER TABLE VICTIM.t DISABLE KEYS */;", "it names database", false},
		{"executable comment with version", "/*!50003 DROP TABLE VICTIM.t */;", "it names database", false},
		{"MariaDB executable comment with version", "/*M!100000 DROP TABLE VICTIM.t */;", "it names database", false},
		{"DROP DATABASE", "DROP DATABASE VICTIM;", "it names databases", false},
		{"DROP SCHEMA", "/*!40000 DROP SCHEMA IF EXISTS VICTIM */;", "it names databases", false},
		{"CREATE DATABASE", "CREATE DATABASE x;", "it names databases", true},
		{"comment the server ends early", "/*!99999 ' */ DROP TABLE VICTIM.t; -- ' */;", "it names database", false},
		{"nested comment in a skipped versioned comment", "/*!99999 /* x */ */ DROP TABLE VICTIM.t;", "it names database", false},
		{"nested comment in a regular comment", "/* /* x */ DROP TABLE VICTIM.t; */;", "it names database", false},
		{"DELIMITER", "DELIMITER ;;\nDROP TABLE VICTIM.t;;\nDELIMITER ;\n", "it names database", false},
		{"lower-case delimiter", "delimiter $$\nDROP TABLE VICTIM.t$$\n", "it names database", false},
		{"delimiter that starts a string", "DELIMITER '\nSELECT 1'\n", "only delimiters", false},
		{"delimiter inside a string", "INSERT INTO t VALUES ('\nDELIMITER ;;\n');;\nDROP TABLE VICTIM.t;", "it names database", false},
		{"NUL byte", "INSERT INTO t VALUES ('a\x00');\nDROP TABLE VICTIM.t;", "NUL byte", false},
		{"very long line", "INSERT INTO t VALUES ('" + strings.Repeat("x", 3<<20) + "'); DROP TABLE VICTIM.t;", "it names database", false},
		{"long comment line", "/*" + strings.Repeat("y", 3<<20) + "*/ DROP TABLE VICTIM.t;", "it names database", false},
		{"NO_BACKSLASH_ESCAPES", "SET sql_mode='NO_BACKSLASH_ESCAPES';\nINSERT INTO t VALUES ('\\');\nDROP TABLE VICTIM.t; -- ');", "it names database", false},
		{"ANSI_QUOTES", "SET sql_mode='ANSI_QUOTES';\nDROP TABLE \"VICTIM\".\"t\";", "it names database", false},
		{"sql_mode through a variable", "SET @m='ANSI_QUOTES';\nSET sql_mode=@m;\nDROP TABLE \"VICTIM\".t;", "it names database", false},
		{"sql_mode by expression", "SET sql_mode=CONCAT('ANSI','_QUOTES');", "more than one value", false},
		{"sql_mode unknown variable", "SET sql_mode=@nobody;", "cannot follow", false},
		{"ORACLE mode", "SET sql_mode='ORACLE';", "changes how statements are read", false},
		{"GBK", "SET NAMES gbk;", "can hide a quote", false},
		{"SET STATEMENT", "SET STATEMENT sql_mode='' FOR DROP TABLE VICTIM.t;", "it names database", false},
		{"SET GLOBAL", "SET GLOBAL read_only=1;", "GLOBAL", true},
		{"SET @@global", "SET @@global.read_only=1;", "global variable", true},
		{"dynamic SQL", "SET @s='DROP TABLE VICTIM.t';\nPREPARE s FROM @s;\nEXECUTE s;", "PREPARE", false},
		{"EXECUTE IMMEDIATE", "EXECUTE IMMEDIATE 'DROP TABLE t';", "EXECUTE", false},
		{"file name of a database", "DROP TABLE `#mysql50#VICTIM`.`t`;", "file name", false},
		{"GRANT", "GRANT ALL ON *.* TO 'x'@'%';", "GRANT", true},
		{"CREATE USER", "CREATE USER x;", "CREATE USER", true},
		{"INTO OUTFILE", "SELECT * FROM t INTO OUTFILE '/tmp/x';", "OUTFILE", true},
		{"LOAD DATA", "LOAD DATA INFILE '/etc/passwd' INTO TABLE t;", "LOAD", true},
		{"function of the other database", "DO VICTIM.f();", "it names database", false},
		{"qualified function call", "DO other.f();", "qualified call", false},
		{"three-part name", "CREATE VIEW v AS SELECT other.t.a FROM t;", "three-part name", false},
		{"view over the other database", "CREATE VIEW v AS SELECT * FROM VICTIM.t;", "it names database", false},
		{"trigger body", "DELIMITER ;;\nCREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW DELETE FROM VICTIM.t;;\nDELIMITER ;\nINSERT INTO t VALUES (1);", "it names database", false},
		{"trigger on the other database", "CREATE TRIGGER tr BEFORE INSERT ON VICTIM.t FOR EACH ROW SET @a = 1;", "it names database", false},
		{"procedure in the other database", "CREATE PROCEDURE VICTIM.p() SELECT 1;", "it names database", false},
		{"INSERT ... SELECT", "INSERT INTO t SELECT * FROM VICTIM.t;", "it names database", false},
		{"INSERT of an expression", "INSERT INTO t VALUES ((SELECT 1));", "literals only", false},
		{"sequence of the other database", "INSERT INTO t VALUES (NEXTVAL(VICTIM.s));", "it names database", false},
		{"sequence of a database not there yet", "CREATE VIEW v AS SELECT NEXTVAL(other.s);", "names a database", false},
		{"table of a database not there yet", "CREATE VIEW v AS SELECT a FROM other.t;", "names a database", false},
		{"FEDERATED table", "CREATE TABLE f (a int) ENGINE=FEDERATED CONNECTION='mysql://root@127.0.0.1:3306/VICTIM/t';", "ENGINE=FEDERATED", false},
		{"DATA DIRECTORY", "CREATE TABLE f (a int) DATA DIRECTORY='/var/lib/mysql/VICTIM';", "DIRECTORY", false},
		{"client shell command", "\\! touch /tmp/x\n;", "not a statement mysqldump writes", true},
		{"unterminated string", "INSERT INTO t VALUES ('x);\nDROP TABLE VICTIM.t;", "ends inside a quoted string", false},
		{"unterminated comment", "/* DROP TABLE VICTIM.t;", "ends inside a comment", false},
		{"nested executable comment", "/*!50003 /*!50003 SELECT 1 */ */;", "inside another one", false},
		{"SHUTDOWN", "SHUTDOWN;", "SHUTDOWN", true},
		{"CHANGE MASTER", "CHANGE MASTER TO MASTER_HOST='x';", "MASTER", true},
		{"replication position as --master-data=1 writes it", "CHANGE MASTER TO MASTER_LOG_FILE='b.000001', MASTER_LOG_POS=4;", "MASTER", true},
		{"GTID position as --gtid writes it", "SET GLOBAL gtid_slave_pos='0-1-2';", "GLOBAL", true},
		{"INSTALL PLUGIN", "INSTALL PLUGIN x SONAME 'x.so';", "INSTALL", true},
		{"UDF", "CREATE FUNCTION f RETURNS STRING SONAME 'lib.so';", "SONAME", true},
		{"definer split across comments", "/*!50003 CREATE DEFINER=*/root@localhost PROCEDURE p() SELECT 1;", "split across executable comments", false},
	}
}

// bypassDump writes a bypass for the victim database name.
func bypassDump(dump, victim string) string {
	dump = strings.ReplaceAll(dump, "VICTIM_UPPER", strings.ToUpper(victim))
	return strings.ReplaceAll(dump, "VICTIM", victim)
}

func TestDumpCheckRefusesEveryWayToAnotherDatabase(t *testing.T) {
	for _, tc := range dumpBypasses() {
		t.Run(tc.name, func(t *testing.T) {
			stmts, err := scanDump(bypassDump(tc.dump, "victim"), scanOpts())
			if err == nil {
				t.Fatalf("accepted: %q", stmts)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
		})
	}
}

func TestDumpCheckAcceptsMysqldumpOutputWithRoutinesTriggersEventsAndViews(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mysqldump", "routines-10.11.sql"))
	if err != nil {
		t.Fatal(err)
	}
	o := scanOpts()
	o.OtherDatabases = append(o.OtherDatabases, "hm_src") // the dumped database itself
	stmts, err := scanDump(string(data), o)
	if err != nil {
		t.Fatalf("a plain mysqldump file refused: %v", err)
	}
	var creates int
	for _, s := range stmts {
		if strings.Contains(s, "DEFINER=") {
			t.Errorf("DEFINER clause left in %q", s)
		}
		if strings.Contains(s, "CREATE") && strings.Contains(s, "TRIGGER") || strings.Contains(s, "PROCEDURE `p`") ||
			strings.Contains(s, "EVENT `e`") || strings.Contains(s, "FUNCTION `f`") || strings.Contains(s, `PROCEDURE "ansi_p"`) {
			creates++
		}
	}
	if creates != 5 {
		t.Errorf("%d of the trigger, procedures, function and event found in %q", creates, stmts)
	}
	// The sandbox-mode line and the header comments are not code.
	if !strings.HasPrefix(stmts[0], "/*M!999999\\- enable the sandbox mode */") || !strings.Contains(stmts[0], "SET @OLD_CHARACTER_SET_CLIENT") {
		t.Errorf("first statement %q", stmts[0])
	}
}

func TestDumpCheckReadsExecutableCommentsAsTheSandboxVersionDoes(t *testing.T) {
	for _, tc := range []struct {
		dump     string
		executed bool
	}{
		{"/*!50003 USE victim */;", true},
		{"/*!100000 USE victim */;", true},
		{"/*!101119 USE victim */;", true},
		{"/*!101120 USE victim */;", false}, // a later version
		{"/*!50700 USE victim */;", false},  // MySQL 5.7 and later: MariaDB skips them
		{"/*!80016 USE victim */;", false},
		{"/*M!80016 USE victim */;", true}, // unless they are MariaDB's
		{"/*!1234 USE victim */;", true},   // not a version: always executed
		{"/*M!999999\\- enable the sandbox mode */ USE victim;", true},
	} {
		_, err := scanDump(tc.dump, scanOpts())
		if got := err != nil; got != tc.executed {
			t.Errorf("%s: refused %v (%v), want %v", tc.dump, got, err, tc.executed)
		}
	}
}

func TestDumpCheckSplitsStatementsAsTheServerReadsThem(t *testing.T) {
	for _, tc := range []struct {
		name, dump string
		want       []string
	}{
		{"backslash escape", `INSERT INTO t VALUES ('a\';b');`, []string{`INSERT INTO t VALUES ('a\';b')`}},
		{"doubled quote", `INSERT INTO t VALUES ('a'';b');`, []string{`INSERT INTO t VALUES ('a'';b')`}},
		{"no backslash escapes", "SET sql_mode='NO_BACKSLASH_ESCAPES';\nINSERT INTO t VALUES ('a\\');\nINSERT INTO t VALUES (1);",
			[]string{"SET sql_mode='NO_BACKSLASH_ESCAPES'", `INSERT INTO t VALUES ('a\')`, "INSERT INTO t VALUES (1)"}},
		{"mode restored through a variable", "SET @m=@@sql_mode, sql_mode='NO_BACKSLASH_ESCAPES';\nSET sql_mode=@m;\nINSERT INTO t VALUES ('a\\';b');",
			[]string{"SET @m=@@sql_mode, sql_mode='NO_BACKSLASH_ESCAPES'", "SET sql_mode=@m", `INSERT INTO t VALUES ('a\';b')`}},
		{"delimiter", "DELIMITER ;;\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;;\nDELIMITER ;\nINSERT INTO t VALUES (1);",
			[]string{"CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "INSERT INTO t VALUES (1)"}},
		{"definer removed", "CREATE DEFINER=`root`@`localhost` PROCEDURE p() SELECT 1;", []string{"CREATE   PROCEDURE p() SELECT 1"}},
		{"final statement without delimiter", "INSERT INTO t VALUES (1)", []string{"INSERT INTO t VALUES (1)"}},
		{"replication position as --master-data=2 writes it", "-- CHANGE MASTER TO MASTER_LOG_FILE='b.000001', MASTER_LOG_POS=4;\nINSERT INTO t VALUES (1);",
			[]string{"-- CHANGE MASTER TO MASTER_LOG_FILE='b.000001', MASTER_LOG_POS=4;\nINSERT INTO t VALUES (1)"}},
		{"numbers", "INSERT INTO t VALUES (1e-10,-1.5E+3,.5,0x1F,X'1f',b'01',_binary 'x',NULL);",
			[]string{"INSERT INTO t VALUES (1e-10,-1.5E+3,.5,0x1F,X'1f',b'01',_binary 'x',NULL)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scanDump(tc.dump, scanOpts())
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("statements\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestDumpCheckReadsTheSameWhereverTheReadBufferEnds(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mysqldump", "routines-10.11.sql"))
	if err != nil {
		t.Fatal(err)
	}
	dump := string(data) + "SET sql_mode='NO_BACKSLASH_ESCAPES';\nSET @a='a\\', @b=12345, @c=1.5e-3, @d=0x1F, @e=@`v`, @f=@@session.time_zone;\nCREATE VIEW `q``q` AS SELECT 1;\n"
	o := scanOpts()
	o.OtherDatabases = nil
	want, err := scanDump(dump, o)
	if err != nil {
		t.Fatal(err)
	}
	for size := 1; size <= 80; size++ {
		o.bufferSize = size
		got, err := scanDump(dump, o)
		if err != nil {
			t.Fatalf("buffer of %d bytes: %v", size, err)
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("buffer of %d bytes: statements differ", size)
		}
	}
}

func TestDumpCheckRefusesAStatementLongerThanTheServerTakes(t *testing.T) {
	o := scanOpts()
	o.MaxStatement = 1 << 20
	_, err := scanDump("INSERT INTO t VALUES ('"+strings.Repeat("x", 2<<20)+"');", o)
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("error %v, want a statement too long", err)
	}
}

func TestDumpCheckReportsATruncatedDump(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "mysqldump", "routines-10.11.sql"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, cut := range []int{len(data) / 3, len(data) - 30} {
		path := filepath.Join(dir, "cut.sql")
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		o := scanOpts()
		o.OtherDatabases = nil
		if err := checkMySQLDump(path, o); err == nil || !strings.Contains(err.Error(), "is truncated") {
			t.Errorf("cut at %d: %v, want truncated", cut, err)
		}
	}
}

// FuzzDumpCheck checks that the scanner never panics, that it reads the
// same whatever the size of its read buffer, and that whatever it accepts
// holds no statement that its own tokenizer sees as USE, as a CREATE or
// DROP of a database, or as a name qualified with the database "victim".
func FuzzDumpCheck(f *testing.F) {
	for _, tc := range dumpBypasses() {
		if len(tc.dump) < 4096 {
			f.Add(bypassDump(tc.dump, "victim"))
		}
	}
	f.Add("SET sql_mode='ANSI_QUOTES';\nINSERT INTO t VALUES (\"a\");")
	f.Add("DELIMITER ;;\nCREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1;;\nDELIMITER ;\n")
	f.Fuzz(func(t *testing.T, dump string) {
		// Where the read buffer ends must not change what is read.
		small := scanOpts()
		small.bufferSize = 1 + len(dump)%13
		want, wantErr := scanDump(dump, scanOpts())
		got, gotErr := scanDump(dump, small)
		if (wantErr == nil) != (gotErr == nil) || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("%q reads differently with a %d-byte buffer: %q (%v), not %q (%v)", dump, small.bufferSize, got, gotErr, want, wantErr)
		}
		s, err := newDumpScanner(strings.NewReader(dump), scanOpts())
		if err != nil {
			t.Fatal(err)
		}
		type read struct {
			text string
			mode lexMode
		}
		var accepted []read
		for {
			mode := s.lex.mode
			st, err := s.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
			accepted = append(accepted, read{st.Text, mode})
		}
		// Read every statement of an accepted dump again, in the mode the
		// scanner read it in, and look for what may not be there.
		for _, st := range accepted {
			toks, err := tokenize(st.text, st.mode)
			if err != nil {
				t.Fatalf("accepted %q, but its statement %q does not tokenize: %v", dump, st.text, err)
			}
			if violation := forbidden(toks, "victim"); violation != "" {
				t.Fatalf("accepted %q: statement %q %s", dump, st.text, violation)
			}
		}
	})
}

// tokenize reads one statement into tokens, as the dump scanner does.
func tokenize(stmt string, mode lexMode) ([]token, error) {
	l := &lexer{src: newByteSource(strings.NewReader(stmt), 4096), mode: mode, version: 101119, delimiter: "\x01never", maxStmt: 1 << 30, line: 1}
	l.startStatement()
	var toks []token
	for {
		var tok token
		res, err := l.next(&tok, false)
		if err != nil {
			return nil, err
		}
		switch res {
		case lexEnd:
			return toks, nil
		case lexToken:
			toks = append(toks, tok)
		}
	}
}

// forbidden describes the first USE, database statement or name qualified
// with db in toks, or returns "".
func forbidden(toks []token, db string) string {
	for i, t := range toks {
		if t.word("USE") && (i+1 == len(toks) || !(toks[i+1].word("INDEX") || toks[i+1].word("KEY"))) {
			return "holds USE"
		}
		if (t.word("DATABASE") || t.word("SCHEMA")) && i > 0 && (toks[i-1].word("CREATE") || toks[i-1].word("DROP") || toks[i-1].word("ALTER")) {
			return "holds a database statement"
		}
		if t.name() && strings.EqualFold(t.text, db) && i+2 < len(toks) && toks[i+1].punct('.') && toks[i+2].name() {
			return "names " + db
		}
	}
	return ""
}

// BenchmarkDumpCheck measures how fast the scanner reads a dump of
// extended INSERTs as mysqldump writes them (about 32 MB).
func BenchmarkDumpCheck(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("CREATE TABLE `t` (\n  `id` int NOT NULL,\n  `name` varchar(100),\n  `amount` decimal(10,2),\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB;\n")
	for row := 0; sb.Len() < 32<<20; {
		sb.WriteString("INSERT INTO `t` VALUES ")
		for i := 0; i < 1000; i++ {
			if i > 0 {
				sb.WriteByte(',')
			}
			row++
			sb.WriteString("(" + strconv.Itoa(row) + ",'customer \\'" + strconv.Itoa(row) + "\\' of the shop'," + strconv.Itoa(row%1000) + ".25)")
		}
		sb.WriteString(";\n")
	}
	dump := sb.String()
	o := scanOpts()
	o.Keep = true
	b.SetBytes(int64(len(dump)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := scanDump(dump, o); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDumpCheckStopsWhenTheSessionDoesNotReadAsItExpects(t *testing.T) {
	s, err := newDumpScanner(strings.NewReader("SET sql_mode='ANSI_QUOTES';\nSET @a = 1;\n"), scanOpts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.next(); err != nil {
		t.Fatal(err)
	}
	if err := s.verifySession("STRICT_TRANS_TABLES", "utf8mb4"); err == nil || !strings.Contains(err.Error(), "not what the dump check expected") {
		t.Errorf("a session without ANSI_QUOTES passed: %v", err)
	}
	if err := s.verifySession("ANSI_QUOTES", "gbk"); err == nil || !strings.Contains(err.Error(), "can hide a quote") {
		t.Errorf("a session in gbk passed: %v", err)
	}
	if err := s.verifySession("ANSI_QUOTES,STRICT_TRANS_TABLES", "utf8mb3"); err != nil {
		t.Errorf("the expected session refused: %v", err)
	}
}
