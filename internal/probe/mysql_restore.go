package probe

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // mysql_native_password is defined with SHA-1
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/restorable/restorable/internal/runx"
)

// The restore runs as a throwaway account, named like the scratch database
// and granted only on it, so that a statement the dump check missed still
// cannot reach another database. The scratch database's record in the
// state directory covers the account too: it is created after the
// database and dropped before it, so an account of a run exists only while
// the database carrying the run's mark does.

// mysqlSandbox is what the probe reads from the sandbox server before it
// restores: how the server reads statements and which databases a dump
// may not name.
type mysqlSandbox struct {
	version   int // as executable comments write it: 10.11.19 is 101119
	databases []string
	sqlMode   string
	charset   string
	maxPacket int
	// host is the host the sandbox sees this exporter connect from, the
	// host of the restore account.
	host string
}

// MySQL error numbers the probe tells apart.
const (
	erDBAccessDenied       = 1044
	erAccessDenied         = 1045
	erTableAccessDenied    = 1142
	erSpecificAccessDenied = 1227
	erCannotUser           = 1396
)

func readMySQLSandbox(ctx context.Context, admin *sql.DB) (*mysqlSandbox, error) {
	var version, user string
	box := &mysqlSandbox{}
	if err := admin.QueryRowContext(ctx, "SELECT VERSION(), USER(), @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.max_allowed_packet").
		Scan(&version, &user, &box.sqlMode, &box.charset, &box.maxPacket); err != nil {
		return nil, runx.Errorf(runx.KindIO, "read the sandbox server's version: %w", err)
	}
	v, err := mariaDBVersion(version)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "sandbox: %w", err)
	}
	box.version = v
	box.host = user[strings.LastIndex(user, "@")+1:]
	dbs, err := admin.QueryContext(ctx, "SELECT schema_name FROM information_schema.schemata")
	if err != nil {
		return nil, fmt.Errorf("list the sandbox's databases: %w", err)
	}
	defer dbs.Close() //nolint:errcheck // read-only
	for dbs.Next() {
		var name string
		if err := dbs.Scan(&name); err != nil {
			return nil, fmt.Errorf("list the sandbox's databases: %w", err)
		}
		box.databases = append(box.databases, name)
	}
	if err := dbs.Err(); err != nil {
		return nil, fmt.Errorf("list the sandbox's databases: %w", err)
	}
	return box, nil
}

// mariaDBVersion turns "10.11.19-MariaDB-0+deb12u1" into 101119. The
// sandbox must be MariaDB: the scratch database's mark needs COMMENT on
// databases, and the dump check follows MariaDB's reading of executable
// comments.
func mariaDBVersion(v string) (int, error) {
	if !strings.Contains(v, "MariaDB") {
		return 0, fmt.Errorf("the server is %q; mysql-logical needs MariaDB 10.5 or later as the sandbox", v)
	}
	parts := strings.SplitN(strings.SplitN(v, "-", 2)[0], ".", 3)
	if len(parts) != 3 {
		return 0, fmt.Errorf("cannot read the server version %q", v)
	}
	n := 0
	for _, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 || x > 99 {
			return 0, fmt.Errorf("cannot read the server version %q", v)
		}
		n = n*100 + x
	}
	if n < 100500 {
		return 0, fmt.Errorf("the server is %q; mysql-logical needs MariaDB 10.5 or later as the sandbox", v)
	}
	return n, nil
}

// scanOptions are the dump check's options for a restore into scratch.
func (b *mysqlSandbox) scanOptions(scratch string) dumpScanOptions {
	var others []string
	for _, d := range b.databases {
		if d != scratch {
			others = append(others, d)
		}
	}
	return dumpScanOptions{ServerVersion: b.version, OtherDatabases: others, SQLMode: b.sqlMode, Charset: b.charset, MaxStatement: max(1, b.maxPacket-1)}
}

// mysqlAccount is a user@host account.
type mysqlAccount struct{ user, host string }

func (a mysqlAccount) String() string { return quoteMySQL(a.user) + "@" + quoteMySQL(a.host) }

// quoteMySQL quotes s as a string literal.
func quoteMySQL(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(s) + "'"
}

// grantPattern is a database name as GRANT reads it: '_' and '%' are
// wildcards there and must be escaped to name one database.
func grantPattern(db string) string {
	return "`" + strings.NewReplacer("`", "``", `\`, `\\`, "_", `\_`, "%", `\%`).Replace(db) + "`"
}

// nativePasswordHash is the mysql_native_password hash of password, so
// that the password itself never travels in a statement.
func nativePasswordHash(password string) string {
	first := sha1.Sum([]byte(password)) //nolint:gosec // the server's password scheme
	second := sha1.Sum(first[:])        //nolint:gosec // the server's password scheme
	return "*" + strings.ToUpper(hex.EncodeToString(second[:]))
}

// createMySQLRestoreUser creates the restore account, granted all
// privileges on the scratch database and nothing else, and returns its
// password. It refuses an account that exists already.
func createMySQLRestoreUser(ctx context.Context, admin *sql.DB, acct mysqlAccount, scratch string) (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make the restore user's password: %w", err)
	}
	password := hex.EncodeToString(b[:])
	_, err := admin.ExecContext(ctx, "CREATE USER "+acct.String()+" IDENTIFIED BY PASSWORD '"+nativePasswordHash(password)+"'")
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &me) && me.Number == erCannotUser:
		return "", runx.Errorf(runx.KindConfig, "refusing to use user %s on the sandbox: it exists already and this run did not create it (it is left alone)", acct)
	case err != nil:
		return "", privilegeError(fmt.Sprintf("create the restore user %s on the sandbox", acct), err)
	}
	if _, err := admin.ExecContext(ctx, "GRANT ALL PRIVILEGES ON "+grantPattern(scratch)+".* TO "+acct.String()); err != nil {
		return password, privilegeError(fmt.Sprintf("grant the restore user %s the scratch database", acct), err)
	}
	return password, nil
}

// privilegeError explains an access error of the sandbox account: the
// probe refuses to restore as that account itself.
func privilegeError(what string, err error) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case erDBAccessDenied, erAccessDenied, erTableAccessDenied, erSpecificAccessDenied:
			return runx.Errorf(runx.KindConfig, "%s: the sandbox account needs CREATE USER and all privileges on the scratch databases WITH GRANT OPTION, so that the restore runs as a user that cannot reach other databases (see docs/probes.md): %w", what, err)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// dropMySQLUser drops an account the run created.
func dropMySQLUser(ctx context.Context, admin *sql.DB, acct mysqlAccount) error {
	if !strings.HasPrefix(acct.user, SandboxPrefix) {
		return fmt.Errorf("refusing to drop user %s: not a probe's user", acct)
	}
	if _, err := admin.ExecContext(ctx, "DROP USER IF EXISTS "+acct.String()); err != nil {
		return fmt.Errorf("drop user %s: %w", acct, err)
	}
	return nil
}

// dropOrphanUsers drops the accounts named user that a run left behind:
// every host of that name, or when the sandbox account cannot read the
// list of accounts, the host it connects from.
func dropOrphanUsers(ctx context.Context, admin *sql.DB, user string) error {
	hosts, err := queryHosts(ctx, admin, user)
	if err != nil {
		var who string
		if err := admin.QueryRowContext(ctx, "SELECT USER()").Scan(&who); err != nil {
			return fmt.Errorf("find the restore user %s: %w", user, err)
		}
		hosts = []string{who[strings.LastIndex(who, "@")+1:]}
	}
	for _, h := range hosts {
		if err := dropMySQLUser(ctx, admin, mysqlAccount{user: user, host: h}); err != nil {
			return err
		}
	}
	return nil
}

func queryHosts(ctx context.Context, admin *sql.DB, user string) ([]string, error) {
	rows, err := admin.QueryContext(ctx, "SELECT host FROM mysql.user WHERE user = ?", user)
	if err != nil {
		return nil, err
	}
	defer rows.Close() //nolint:errcheck // read-only
	var hosts []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, rows.Err()
}

// openAs opens a pool on db as another account of the same server. The
// driver reads max_allowed_packet from the server, so that every statement
// the server accepts can be sent.
func (c *mysqlClient) openAs(acct mysqlAccount, password, db string) (*sql.DB, error) {
	cfg := c.cfg.Clone()
	cfg.User, cfg.Passwd, cfg.DBName = acct.user, password, db
	cfg.MultiStatements = false
	cfg.MaxAllowedPacket = 0
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "dsn is not valid")
	}
	return sql.OpenDB(connector), nil
}

// restoreMySQLDump executes the dump at path statement by statement on one
// session of db, as the dump check reads it: a statement the check
// refuses stops the restore before it is sent, and without
// multi-statements the server executes exactly one statement per call.
// After every SET the session's sql_mode and character set are compared
// with what the check expects.
func restoreMySQLDump(ctx context.Context, db *sql.DB, path string, o dumpScanOptions) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return runx.Errorf(runx.KindIO, "connect to the sandbox as the restore user: %w", err)
	}
	defer conn.Close() //nolint:errcheck // session
	var packet int
	if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.max_allowed_packet").Scan(&o.SQLMode, &o.Charset, &packet); err != nil {
		return fmt.Errorf("read the restore session: %w", err)
	}
	o.MaxStatement, o.Keep = max(1, packet-1), true
	f, err := os.Open(path)
	if err != nil {
		return runx.Errorf(runx.KindIO, "open dump: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	s, err := newDumpScanner(f, o)
	if err != nil {
		return runx.Errorf(runx.KindConfig, "restore %s: %w", filepath.Base(path), err)
	}
	for {
		st, err := s.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return runx.Errorf(runx.KindConfig, "refusing to restore %s further: %w", filepath.Base(path), err)
		}
		if _, err := conn.ExecContext(ctx, st.Text); err != nil {
			return fmt.Errorf("restore the dump (truncated or damaged archive?): the statement ending at line %d: %w", st.Line, err)
		}
		if st.SetsSession {
			var mode, cs string
			if err := conn.QueryRowContext(ctx, "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client").Scan(&mode, &cs); err != nil {
				return fmt.Errorf("read the restore session after line %d: %w", st.Line, err)
			}
			if err := s.verifySession(mode, cs); err != nil {
				return runx.Errorf(runx.KindConfig, "refusing to restore %s further: %w", filepath.Base(path), err)
			}
		}
	}
}
