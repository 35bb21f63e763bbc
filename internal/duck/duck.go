// Package duck opens Restorable's Parquet history with DuckDB, for the
// analyzer only: the exporter stays free of CGO.
//
// A DB is an in-memory DuckDB database with one view per history table
// (backups, repositories, probes, audit, events, request_counts, cost_lines) over read_parquet with Hive partitioning.
// It reads the history and never writes to it: file access is limited to
// the history root, and an ad-hoc query is one statement that reads.
package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/restorable/restorable/internal/billing"
)

// DefaultMemoryLimit bounds DuckDB's memory; beyond it DuckDB spills to a
// temporary directory of its own.
const DefaultMemoryLimit = "1536MB"

// Options tune a DB. The zero value is usable.
type Options struct {
	// MemoryLimit is DuckDB's memory_limit (DefaultMemoryLimit when empty).
	MemoryLimit string
	// Threads is DuckDB's thread count; zero lets DuckDB use every core.
	Threads int
}

// DB is a read-only view of a history.
type DB struct {
	db      *sql.DB
	conn    *sql.Conn
	root    Root
	has     map[string]bool
	tempDir string
	// sourcesByDay caches the sources with backups up to a day.
	sourcesByDay map[string][]string
}

// ErrEmpty is wrapped by errors about a table without data.
var ErrEmpty = errors.New("no data")

// Open opens the history at root.
func Open(ctx context.Context, root Root, opts Options) (*DB, error) {
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = DefaultMemoryLimit
	}
	tmp, err := os.MkdirTemp("", "restorable-analyze-")
	if err != nil {
		return nil, fmt.Errorf("open history %s: create temporary directory: %w", root, err)
	}
	d := &DB{root: root, has: map[string]bool{}, tempDir: tmp}
	if err := d.open(ctx, opts); err != nil {
		return nil, errors.Join(fmt.Errorf("open history %s: %w", root, err), d.Close())
	}
	return d, nil
}

func (d *DB) open(ctx context.Context, opts Options) error {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return fmt.Errorf("start duckdb: %w", err)
	}
	d.db = sql.OpenDB(connector)
	// One connection: settings and the tables built for an analysis live
	// in the connection that made them.
	d.db.SetMaxOpenConns(1)
	d.conn, err = d.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect to duckdb: %w", err)
	}
	settings := []string{
		"SET TimeZone = 'UTC'",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET parquet_metadata_cache = true",
		"SET preserve_insertion_order = false",
		fmt.Sprintf("SET memory_limit = %s", quote(opts.MemoryLimit)),
		fmt.Sprintf("SET temp_directory = %s", quote(d.tempDir)),
	}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	for _, s := range settings {
		if _, err := d.conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	for _, t := range Tables() {
		has, err := d.root.HasData(t)
		if err != nil {
			return err
		}
		view := emptyView(t)
		if has {
			view = fmt.Sprintf("CREATE VIEW %s AS %s", t, d.tableRows(t))
		}
		if t == TableRequestCounts {
			if view, has, err = d.requestCountsView(has); err != nil {
				return err
			}
		}
		d.has[t] = has
		if _, err := d.conn.ExecContext(ctx, view); err != nil {
			return fmt.Errorf("create view %s: %w", t, err)
		}
	}
	// From here on DuckDB reads the history root and nothing else, and the
	// settings cannot be undone by a query.
	lock := []string{
		fmt.Sprintf("SET allowed_directories = [%s]", quote(d.root.Readable())),
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	}
	for _, s := range lock {
		if _, err := d.conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// tableRows is the query of a table's rows, for a table with files. The
// empty select gives it every column of the writer's schema, NULL, also
// one that no file has yet (a column a later version added, over a
// history written before it), with no work at open, unlike reading every
// file's columns first; filters and partition pruning pass through the
// union.
func (d *DB) tableRows(t string) string {
	return fmt.Sprintf("SELECT * FROM (%s UNION ALL BY NAME SELECT * FROM read_parquet(%s, hive_partitioning = true, union_by_name = true))",
		emptySelect(t), quote(d.root.Glob(t)))
}

// requestCountsView returns the statement that creates the
// request_counts view: the rows of the table's files (origins cloudwatch
// and exporter) and the request counts of the bills (origin bill),
// derived from the cost_lines files by billing.RequestCountsSQL, so that
// the bills a billing source collected and those analyze import billing
// imported count alike, and as the exporter's metrics count them. The
// derived rows have no content_hash; their dt is the UTC day of their
// period start, as for the files' rows. has reports whether the view can
// have rows.
func (d *DB) requestCountsView(hasFiles bool) (view string, has bool, err error) {
	rows := emptySelect(TableRequestCounts)
	if hasFiles {
		rows = d.tableRows(TableRequestCounts)
	}
	hasLines, err := d.root.HasData(TableCostLines)
	if err != nil {
		return "", false, err
	}
	if hasLines {
		lines := "(" + d.tableRows(TableCostLines) + ")"
		rows = fmt.Sprintf("%s UNION ALL BY NAME SELECT *, NULL::BIGINT AS content_hash, CAST(period_start AS DATE) AS dt FROM (%s)",
			rows, billing.RequestCountsSQL(lines))
	}
	return fmt.Sprintf("CREATE VIEW %s AS %s", TableRequestCounts, rows), hasFiles || hasLines, nil
}

// Close releases DuckDB and its temporary directory.
func (d *DB) Close() error {
	var errs []error
	if d.conn != nil {
		errs = append(errs, d.conn.Close())
	}
	if d.db != nil {
		errs = append(errs, d.db.Close())
	}
	if d.tempDir != "" {
		errs = append(errs, os.RemoveAll(d.tempDir))
	}
	return errors.Join(errs...)
}

// Root is the history the DB reads.
func (d *DB) Root() Root { return d.root }

// Has reports whether a table has data.
func (d *DB) Has(table string) bool { return d.has[table] }

// Require returns an error that says what to do when table has no data.
func (d *DB) Require(table string) error {
	if d.has[table] {
		return nil
	}
	return fmt.Errorf("history at %s has no %s yet: run the exporter first: %w", d.root, table, ErrEmpty)
}

// Query runs a query the analyzer wrote.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.conn.QueryContext(ctx, query, args...)
}

// QueryRow runs a query the analyzer wrote that returns one row.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return d.conn.QueryRowContext(ctx, query, args...)
}

// Exec runs a statement the analyzer wrote, such as building a table of
// intermediate results in the in-memory database.
func (d *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := d.conn.ExecContext(ctx, query, args...)
	return err
}

// ErrNotReadOnly is wrapped by the error UserQuery returns for anything
// but one statement that only reads.
var ErrNotReadOnly = errors.New("only one statement that reads is allowed: SELECT (or WITH, FROM, VALUES), DESCRIBE, SHOW, SUMMARIZE, or EXPLAIN [ANALYZE] of one of them")

// UserQuery runs one ad-hoc query. It accepts exactly one statement that
// reads and checks this before anything runs: a COPY, CREATE, ATTACH, SET,
// PRAGMA, CALL, LOAD or EXPORT could otherwise change the session or write
// into the history root, which DuckDB may write as well as read, and the
// driver runs every statement of a text but the last on its own, unseen,
// before it prepares the last.
func (d *DB) UserQuery(ctx context.Context, query string) (*sql.Rows, error) {
	if err := d.checkReadOnly(ctx, query); err != nil {
		return nil, err
	}
	return d.conn.QueryContext(ctx, query)
}

// checkReadOnly returns an error unless query is one statement that only
// reads. DuckDB's own parser decides, through json_serialize_sql, which
// parses and never binds or runs: it serializes SELECT statements only
// (DESCRIBE, SHOW, SUMMARIZE and VALUES parse as SELECT) and lists each
// statement of the text. EXPLAIN, which it cannot serialize, is accepted
// when what follows it is such a statement: EXPLAIN ANALYZE runs that
// statement, so it must be a read too.
func (d *DB) checkReadOnly(ctx context.Context, query string) error {
	inner := withoutExplain(query)
	var serialized string
	if err := d.conn.QueryRowContext(ctx, "SELECT json_serialize_sql(?::VARCHAR)::VARCHAR", inner).Scan(&serialized); err != nil {
		return fmt.Errorf("parse query: %w", err)
	}
	var parsed struct {
		Error        bool              `json:"error"`
		ErrorType    string            `json:"error_type"`
		ErrorMessage string            `json:"error_message"`
		Statements   []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(serialized), &parsed); err != nil {
		return fmt.Errorf("parse query: read what the parser returned: %w", err)
	}
	switch {
	case parsed.Error && parsed.ErrorType == "parser":
		return fmt.Errorf("parse query: %s", parsed.ErrorMessage)
	case parsed.Error:
		return fmt.Errorf("%s: %w", firstWord(query), ErrNotReadOnly)
	case len(parsed.Statements) == 0:
		return fmt.Errorf("empty query: %w", ErrNotReadOnly)
	case len(parsed.Statements) > 1:
		return fmt.Errorf("%d statements: %w", len(parsed.Statements), ErrNotReadOnly)
	}
	return d.checkStatementType(query)
}

// checkStatementType prepares query and checks the type DuckDB gives it,
// so that a parser that one day serializes more than SELECT cannot open
// the gate alone. It prepares through the driver's Prepare, not
// PrepareContext: Prepare refuses a text of several statements, where
// PrepareContext would run all of them but the last.
func (d *DB) checkStatementType(query string) error {
	var kind duckdb.StmtType
	err := d.conn.Raw(func(c any) error {
		conn, ok := c.(driver.Conn)
		if !ok {
			return errors.New("duckdb connection cannot prepare statements")
		}
		stmt, err := conn.Prepare(query)
		if err != nil {
			return err
		}
		defer stmt.Close()
		ds, ok := stmt.(*duckdb.Stmt)
		if !ok {
			return errors.New("not a duckdb statement")
		}
		kind, err = ds.StatementType()
		return err
	})
	if err != nil {
		return fmt.Errorf("prepare query: %w", err)
	}
	switch kind {
	case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN:
		return nil
	}
	return fmt.Errorf("%s: %w", firstWord(query), ErrNotReadOnly)
}

// withoutExplain returns query without the EXPLAIN or EXPLAIN ANALYZE in
// front of it. Only blanks may come before EXPLAIN: after a comment the
// text is left whole, so it fails the check rather than passes it.
func withoutExplain(query string) string {
	rest := query
	for _, word := range []string{"EXPLAIN", "ANALYZE"} {
		trimmed := strings.TrimLeftFunc(rest, unicode.IsSpace)
		if len(trimmed) <= len(word) || !strings.EqualFold(trimmed[:len(word)], word) || !unicode.IsSpace(rune(trimmed[len(word)])) {
			break
		}
		rest = trimmed[len(word):]
	}
	return rest
}

func firstWord(q string) string {
	f := strings.Fields(q)
	if len(f) == 0 {
		return "empty statement"
	}
	return strings.ToUpper(f[0])
}

// quote makes s an SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
