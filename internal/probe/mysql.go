package probe

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/restorable/restorable/internal/runx"
)

// mysqlAlgorithm names how MySQL and MariaDB checksums are computed: per
// table, the row count and the sum of the first 60 bits of the MD5 of the
// row's columns joined with '|' (NULL flags first, binary columns in hex),
// exact in a DECIMAL sum.
const mysqlAlgorithm = "md5-60-concat-sum"

// mysqlOptions are the options of a mysql-logical probe. DSNs are in the
// Go MySQL driver's form: "user@tcp(host:3306)/".
type mysqlOptions struct {
	Sandbox  dsnRef  `yaml:"sandbox"`
	Database string  `yaml:"database,omitempty"`
	Dump     string  `yaml:"dump,omitempty"`
	DumpFrom *dsnRef `yaml:"dump_from,omitempty"`
	BaseDir  string  `yaml:"base_dir,omitempty"`
	WorkDir  string  `yaml:"work_dir,omitempty"`
	// BinDir holds mysqldump, which dump_from runs (default: on PATH).
	BinDir                string `yaml:"bin_dir,omitempty"`
	ChecksumJobs          int    `yaml:"checksum_jobs,omitempty"`
	AllowMissingChecksums bool   `yaml:"allow_missing_checksums,omitempty"`
}

// mysqlLogical restores a mysqldump archive into a scratch database and
// compares its checksums with the source's.
type mysqlLogical struct {
	opts mysqlOptions
	name string
}

// myDSN reads Go MySQL driver connection strings.
type myDSN struct{}

func (myDSN) hasPassword(dsn string) (bool, error) {
	c, err := mysql.ParseDSN(dsn)
	if err != nil {
		return false, errors.New("not a valid DSN such as user@tcp(host:3306)/")
	}
	return c.Passwd != "", nil
}

func (myDSN) endpoint(dsn string) endpoint {
	c, _ := mysql.ParseDSN(dsn)
	return myEndpoint(c)
}

func newMySQLLogical(b *builder) (Prober, error) {
	p := &mysqlLogical{opts: mysqlOptions{ChecksumJobs: 2}, name: b.probe.Name}
	if err := b.decode(&p.opts); err != nil {
		return nil, err
	}
	o := &p.opts
	if err := checkDumpOptions(b, myDSN{}, &o.Sandbox, o.DumpFrom, &o.Dump, &o.BaseDir, o.Database); err != nil {
		return nil, err
	}
	if o.ChecksumJobs < 1 {
		return nil, b.errorf("checksum_jobs must be at least 1")
	}
	if err := checkSandboxNotSource(b, myDSN{}, &o.Sandbox, o.DumpFrom, o.Database); err != nil {
		return nil, err
	}
	return p, nil
}

// myEndpoint is where a driver configuration points.
func myEndpoint(c *mysql.Config) endpoint {
	if c.Net == "unix" {
		return endpoint{hosts: []string{c.Addr}, port: "3306", database: c.DBName}
	}
	host, port := c.Addr, "3306"
	if i := strings.LastIndex(c.Addr, ":"); i >= 0 {
		host, port = c.Addr[:i], c.Addr[i+1:]
	}
	return endpoint{hosts: []string{strings.Trim(host, "[]")}, port: port, database: c.DBName}
}

// mysqlClient holds what the mysql and mysqldump programs need: the
// connection as arguments, and the password in an options file only the
// exporter can read, removed after use.
type mysqlClient struct {
	cfg     *mysql.Config
	binDir  string
	cnfPath string
}

func newMySQLClient(dsn, binDir string) (*mysqlClient, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "dsn is not valid")
	}
	c := &mysqlClient{cfg: cfg, binDir: binDir}
	if cfg.Passwd != "" {
		f, err := os.CreateTemp("", "restorable-mysql-*.cnf")
		if err != nil {
			return nil, runx.Errorf(runx.KindIO, "write client options: %w", err)
		}
		c.cnfPath = f.Name()
		_, werr := fmt.Fprintf(f, "[client]\npassword=\"%s\"\n", strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(cfg.Passwd))
		if err := errors.Join(werr, f.Close()); err != nil {
			c.close()
			return nil, runx.Errorf(runx.KindIO, "write client options: %w", err)
		}
	}
	return c, nil
}

func (c *mysqlClient) close() {
	if c.cnfPath != "" {
		_ = os.Remove(c.cnfPath)
	}
}

// args are the connection arguments of mysql and mysqldump.
func (c *mysqlClient) args() []string {
	var a []string
	if c.cnfPath != "" {
		a = append(a, "--defaults-extra-file="+c.cnfPath)
	}
	if c.cfg.Net == "unix" {
		a = append(a, "--socket="+c.cfg.Addr)
	} else {
		ep := myEndpoint(c.cfg)
		a = append(a, "--protocol=TCP", "--host="+ep.hosts[0], "--port="+ep.port)
	}
	if c.cfg.User != "" {
		a = append(a, "--user="+c.cfg.User)
	}
	return a
}

// open opens a pool on db.
func (c *mysqlClient) open(db string) (*sql.DB, error) {
	cfg := c.cfg.Clone()
	cfg.DBName = db
	cfg.MultiStatements = false
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "dsn is not valid")
	}
	return sql.OpenDB(connector), nil
}

func (p *mysqlLogical) Run(ctx context.Context, r *run) error {
	o := &p.opts
	dsn, err := o.Sandbox.resolve("sandbox")
	if err != nil {
		return err
	}
	sb, err := newMySQLClient(dsn, o.BinDir)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer sb.close()
	scratch := cmp.Or(o.Database, r.sandboxName())
	choice := dumpChoice{fixed: o.Dump, baseDir: o.BaseDir, allowMissingChecksums: o.AllowMissingChecksums}
	if o.DumpFrom.isSet() {
		choice.onTheFly = func() (string, *Checksums, error) { return p.dumpOnTheFly(ctx, r, sb, scratch) }
	}
	dump, want, err := r.chooseDump(choice, scratch)
	if err != nil {
		return err
	}
	admin, err := sb.open("")
	if err != nil {
		return err
	}
	defer admin.Close() //nolint:errcheck // pool
	box, err := readMySQLSandbox(ctx, admin)
	if err != nil {
		return err
	}
	scan := box.scanOptions(scratch)
	if err := checkMySQLDump(dump, scan); err != nil {
		return err
	}
	acct, password, err := createMySQLScratch(ctx, r, sb, admin, box, scratch, p.name)
	if err != nil {
		return err
	}
	db, err := sb.openAs(acct, password, scratch)
	if err != nil {
		return err
	}
	defer db.Close() //nolint:errcheck // pool
	r.log.Info("restoring dump", "dump", dump, "scratch_database", scratch, "user", acct.String())
	began := time.Now()
	if err := restoreMySQLDump(ctx, db, dump, scan); err != nil {
		return err
	}
	r.log.Info("dump restored", "duration", time.Since(began).Round(time.Millisecond))
	got, err := mysqlChecksums(ctx, db, o.ChecksumJobs)
	if err != nil {
		return fmt.Errorf("checksum the restore: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = DATABASE()").Scan(&r.result.BytesVerified); err != nil {
		return fmt.Errorf("measure the restore: %w", err)
	}
	return r.compareRestore(want, got)
}

// dumpOnTheFly dumps the source into a sandbox directory with its
// checksums taken while the tables are held still (see DumpMySQL).
func (p *mysqlLogical) dumpOnTheFly(ctx context.Context, r *run, sb *mysqlClient, scratch string) (string, *Checksums, error) {
	o := &p.opts
	srcDSN, err := o.DumpFrom.resolve("dump_from")
	if err != nil {
		return "", nil, err
	}
	src, err := newMySQLClient(srcDSN, o.BinDir)
	if err != nil {
		return "", nil, fmt.Errorf("dump_from: %w", err)
	}
	defer src.close()
	if err := refuseSameAsSource(ctx, myEndpoint(sb.cfg), myEndpoint(src.cfg), scratch); err != nil {
		return "", nil, err
	}
	dir, err := r.makeSandboxDir(ctx, o.WorkDir, "-dump", sandboxDir, "", "")
	if err != nil {
		return "", nil, err
	}
	dump := filepath.Join(dir, "source.sql")
	r.log.Info("dumping the source", "source_server", myEndpoint(src.cfg).server(), "database", src.cfg.DBName)
	sums, err := dumpMySQL(ctx, src, dump, MySQLDumpOptions{BinDir: o.BinDir, Jobs: o.ChecksumJobs})
	if err != nil {
		return "", nil, err
	}
	r.result.BackupID, r.result.RestoredPoint = "dump:"+sums.TakenAt.Format(time.RFC3339), sums.TakenAt
	return dump, sums, nil
}

// createMySQLScratch records, checks and creates the scratch database,
// then the restore account named like it and granted only on it, and
// registers their removal: the account first, then the database, then the
// record. The database carries the run's mark in its comment, which needs
// MariaDB 10.5 or later as the sandbox server. It returns the account and
// its password.
func createMySQLScratch(ctx context.Context, r *run, sb *mysqlClient, admin *sql.DB, box *mysqlSandbox, scratch, probe string) (mysqlAccount, string, error) {
	server := myEndpoint(sb.cfg).server()
	acct := mysqlAccount{user: scratch, host: box.host}
	var n int
	if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", scratch).Scan(&n); err != nil {
		return acct, "", fmt.Errorf("look for database %s on the sandbox: %w", scratch, err)
	}
	if n > 0 {
		return acct, "", runx.Errorf(runx.KindConfig, "refusing to use database %s on the sandbox: it exists already and this run did not create it (it is left alone)", scratch)
	}
	forget, err := r.state.record(sandboxRecord{RunID: r.id, Probe: probe, Kind: sandboxDatabase, Server: server, Name: scratch, Created: r.now().UTC()})
	if err != nil {
		return acct, "", err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+scratch+"` COMMENT '"+markerText+r.id+"'"); err != nil {
		_ = forget()
		return acct, "", fmt.Errorf("create scratch database %s: %w", scratch, err)
	}
	// created is set once the account exists: an account of that name that
	// existed before is left alone.
	created := false
	// The run's pool is closed by the time cleanups run: drop through a
	// pool of its own.
	r.onCleanup("drop database "+scratch, func(ctx context.Context) error {
		pool, err := sb.open("")
		if err != nil {
			return err
		}
		defer pool.Close() //nolint:errcheck // pool
		dropUser := func(ctx context.Context) error {
			if !created {
				return nil
			}
			return dropMySQLUser(ctx, pool, acct)
		}
		if err := dropMySQLScratch(ctx, pool, scratch, r.id, dropUser); err != nil {
			return err
		}
		return forget()
	})
	r.log.Info("scratch database created", "database", scratch)
	password, err := createMySQLRestoreUser(ctx, admin, acct, scratch)
	if password != "" {
		created = true
	}
	if err != nil {
		return acct, "", err
	}
	r.log.Info("restore user created", "user", acct.String())
	return acct, password, nil
}

// dropMySQLScratch drops a scratch database after checking its mark. When
// the mark is there (or the database is gone), dropUsers drops the restore
// account first.
func dropMySQLScratch(ctx context.Context, admin *sql.DB, scratch, runID string, dropUsers func(context.Context) error) error {
	if !strings.HasPrefix(scratch, SandboxPrefix) || strings.ContainsAny(scratch, "`'\\") {
		return fmt.Errorf("refusing to drop %s: not a probe's database", scratch)
	}
	var comment sql.NullString
	err := admin.QueryRowContext(ctx, "SELECT schema_comment FROM information_schema.schemata WHERE schema_name = ?", scratch).Scan(&comment)
	exists := !errors.Is(err, sql.ErrNoRows)
	if err != nil && exists {
		return fmt.Errorf("read the mark of %s: %w", scratch, err)
	}
	if exists && comment.String != markerText+runID {
		return fmt.Errorf("refusing to drop %s: it does not carry the mark of run %s", scratch, runID)
	}
	if err := dropUsers(ctx); err != nil {
		return err
	}
	if !exists {
		return nil
	}
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS `"+scratch+"`"); err != nil {
		return fmt.Errorf("drop %s: %w", scratch, err)
	}
	return nil
}

func (p *mysqlLogical) dropOrphan(ctx context.Context, rec sandboxRecord) error {
	dsn, err := p.opts.Sandbox.resolve("sandbox")
	if err != nil {
		return err
	}
	sb, err := newMySQLClient(dsn, p.opts.BinDir)
	if err != nil {
		return err
	}
	defer sb.close()
	if s := myEndpoint(sb.cfg).server(); s != rec.Server {
		return fmt.Errorf("the probe's sandbox is now %s, the database was created on %s; drop it yourself", s, rec.Server)
	}
	admin, err := sb.open("")
	if err != nil {
		return err
	}
	defer admin.Close() //nolint:errcheck // pool
	return dropMySQLScratch(ctx, admin, rec.Name, rec.RunID, func(ctx context.Context) error {
		return dropOrphanUsers(ctx, admin, rec.Name)
	})
}

// mysqlBinaryType reports whether a column type is hashed as hex: its
// bytes are not text.
func mysqlBinaryType(t string) bool {
	switch t {
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "bit", "geometry", "point", "linestring", "polygon",
		"multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return true
	}
	return false
}

// mysqlChecksums computes the checksums of the database db is connected
// to. Every connection reads a consistent snapshot; callers that need the
// snapshot to match a dump hold the tables still (see DumpMySQL).
func mysqlChecksums(ctx context.Context, db *sql.DB, jobs int) (*Checksums, error) {
	conns, closeConns, err := mysqlSnapshots(ctx, db, jobs, "connect to compute checksums")
	defer closeConns()
	if err != nil {
		return nil, err
	}
	return mysqlChecksumsOn(ctx, conns)
}

// mysqlSnapshots opens n sessions (at least one), each in a read-only
// consistent snapshot. closeConns rolls back and closes the sessions it
// opened; call it whether or not an error is returned.
func mysqlSnapshots(ctx context.Context, db *sql.DB, n int, connect string) ([]*sql.Conn, func(), error) {
	var conns []*sql.Conn
	closeConns := func() {
		for _, c := range conns {
			_, _ = c.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			_ = c.Close()
		}
	}
	for range max(1, n) {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, closeConns, runx.Errorf(runx.KindIO, "%s: %w", connect, err)
		}
		conns = append(conns, c)
		if _, err := c.ExecContext(ctx, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return nil, closeConns, err
		}
		if _, err := c.ExecContext(ctx, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"); err != nil {
			return nil, closeConns, fmt.Errorf("start snapshot: %w", err)
		}
	}
	return conns, closeConns, nil
}

func mysqlChecksumsOn(ctx context.Context, conns []*sql.Conn) (*Checksums, error) {
	first := conns[0]
	c := &Checksums{Format: ChecksumsFormat, Engine: "mysql", Algorithm: mysqlAlgorithm, TakenAt: time.Now().UTC()}
	if err := first.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&c.Database); err != nil {
		return nil, fmt.Errorf("read database name: %w", err)
	}
	var lines []string
	for _, q := range []string{
		`SELECT CONCAT('column ', table_name, ' #', ordinal_position, ' ', column_name, ' ', column_type, ' null=', is_nullable, ' default=', COALESCE(column_default, 'NULL'), ' ', extra) FROM information_schema.columns WHERE table_schema = DATABASE()`,
		`SELECT CONCAT('index ', table_name, ' ', index_name, ' #', seq_in_index, ' ', column_name, ' unique=', 1 - non_unique) FROM information_schema.statistics WHERE table_schema = DATABASE()`,
		`SELECT CONCAT('constraint ', table_name, ' ', constraint_name, ' ', constraint_type) FROM information_schema.table_constraints WHERE table_schema = DATABASE()`,
		`SELECT CONCAT('table ', table_name, ' ', table_type) FROM information_schema.tables WHERE table_schema = DATABASE()`,
	} {
		ls, err := queryStrings(ctx, first, q)
		if err != nil {
			return nil, fmt.Errorf("describe schema: %w", err)
		}
		lines = append(lines, ls...)
	}
	c.setSchema(lines)
	tables, err := queryStrings(ctx, first, `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY data_length DESC, table_name`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	c.Tables = make([]TableChecksum, len(tables))
	exprs := make([]string, len(tables))
	for i, t := range tables {
		if exprs[i], err = mysqlChecksumSQL(ctx, first, t); err != nil {
			return nil, err
		}
	}
	err = parallel(ctx, len(conns), len(tables), func(w, i int) error {
		tc := TableChecksum{Name: tables[i]}
		if err := conns[w].QueryRowContext(ctx, exprs[i]).Scan(&tc.Rows, &tc.Sum); err != nil {
			return fmt.Errorf("checksum table %s: %w", tables[i], err)
		}
		c.Tables[i] = tc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// mysqlChecksumSQL builds the count and checksum query of one table.
func mysqlChecksumSQL(ctx context.Context, conn *sql.Conn, table string) (string, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return "", fmt.Errorf("list columns of %s: %w", table, err)
	}
	defer rows.Close() //nolint:errcheck // read-only
	var flags, vals []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return "", err
		}
		col := "`" + strings.ReplaceAll(name, "`", "``") + "`"
		flags = append(flags, "ISNULL("+col+")")
		if mysqlBinaryType(strings.ToLower(typ)) {
			vals = append(vals, "HEX("+col+")")
		} else {
			vals = append(vals, "CAST("+col+" AS CHAR)")
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	concat := "CONCAT_WS('|', " + strings.Join(append(flags, vals...), ", ") + ")"
	return "SELECT COUNT(*), CAST(COALESCE(SUM(CONV(SUBSTRING(MD5(" + concat + "), 1, 15), 16, 10)), 0) AS CHAR) FROM `" + strings.ReplaceAll(table, "`", "``") + "`", nil
}

func queryStrings(ctx context.Context, conn *sql.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close() //nolint:errcheck // read-only
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s.String)
	}
	return out, rows.Err()
}

// MySQLDumpOptions configure DumpMySQL.
type MySQLDumpOptions struct {
	// BinDir holds mysqldump; empty finds it on PATH.
	BinDir string
	// Jobs is the number of connections computing checksums (default 2).
	Jobs int
	// ExtraArgs are passed to mysqldump (for example "--ignore-table=db.t").
	ExtraArgs []string
}

// DumpMySQL writes a mysqldump --single-transaction dump of the database
// dsn names (Go MySQL driver form, "user:pass@tcp(host:3306)/db") at path,
// and next to it the checksums of the same data. MySQL cannot share a
// snapshot between sessions, so the tables are held still for a moment
// instead: a session takes LOCK TABLES ... READ on every table, the
// checksum sessions and mysqldump start their consistent snapshots while
// writers wait, and the lock is released as soon as mysqldump has begun
// dumping. Writers wait for that moment only, not for the dump. The user
// needs the LOCK TABLES privilege.
func DumpMySQL(ctx context.Context, dsn, path string, o MySQLDumpOptions) (*Checksums, error) {
	c, err := newMySQLClient(dsn, o.BinDir)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if c.cfg.DBName == "" {
		return nil, runx.Errorf(runx.KindConfig, "the dsn names no database")
	}
	return dumpMySQL(ctx, c, path, o)
}

func dumpMySQL(ctx context.Context, c *mysqlClient, path string, o MySQLDumpOptions) (*Checksums, error) {
	db, err := c.open(c.cfg.DBName)
	if err != nil {
		return nil, err
	}
	defer db.Close() //nolint:errcheck // pool
	locker, err := db.Conn(ctx)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "connect to the source: %w", err)
	}
	defer locker.Close() //nolint:errcheck // session
	tables, err := queryStrings(ctx, locker, `SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	if len(tables) > 0 {
		locks := make([]string, len(tables))
		for i, t := range tables {
			locks[i] = "`" + strings.ReplaceAll(t, "`", "``") + "` READ"
		}
		if _, err := locker.ExecContext(ctx, "LOCK TABLES "+strings.Join(locks, ", ")); err != nil {
			return nil, fmt.Errorf("hold the tables still while snapshots start: %w", err)
		}
	}
	unlock := sync.OnceFunc(func() { _, _ = locker.ExecContext(context.WithoutCancel(ctx), "UNLOCK TABLES") })
	defer unlock()
	// The checksum sessions' snapshots start while writers wait.
	conns, closeConns, err := mysqlSnapshots(ctx, db, o.Jobs, "connect to the source")
	defer closeConns()
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	args := append(c.args(), "--single-transaction", "--skip-lock-tables", "--routines", "--triggers", "--result-file="+tmp)
	args = append(append(args, o.ExtraArgs...), c.cfg.DBName)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := runx.Run(dctx, runx.Cmd{Path: pgTool(o.BinDir, "mysqldump"), Args: args, StderrTail: 2048})
		done <- err
	}()
	// mysqldump writes a table's structure only after its transaction
	// started; from then on its snapshot is fixed and writers may go on.
	var dumpErr error
	waiting := true
	for waiting {
		select {
		case dumpErr = <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
			if dumpStarted(tmp) {
				unlock()
				dumpErr = <-done
				waiting = false
			}
		case <-ctx.Done():
			cancel()
			<-done
			return nil, ctx.Err()
		}
	}
	unlock()
	if dumpErr != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("dump the source: %w", dumpErr)
	}
	sums, err := mysqlChecksumsOn(ctx, conns)
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("checksum the source: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("move the dump into place: %w", err)
	}
	if err := sums.WriteFile(ChecksumsPath(path)); err != nil {
		return nil, err
	}
	return sums, nil
}

// dumpStarted reports whether mysqldump has written a table's structure.
func dumpStarted(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close() //nolint:errcheck // read-only
	buf := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, buf)
	return bytes.Contains(buf[:n], []byte("Table structure for table")) || bytes.Contains(buf[:n], []byte("CREATE TABLE"))
}

// Compile-time checks that database probers clean orphans.
var (
	_ orphanDropper = (*postgresLogical)(nil)
	_ orphanDropper = (*mysqlLogical)(nil)
)
