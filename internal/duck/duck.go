// Package duck opens Restorable's Parquet history with DuckDB, for the
// analyzer only: the exporter stays free of CGO.
//
// A DB is an in-memory DuckDB database with one view per history table
// (backups, repositories, probes) over read_parquet with Hive partitioning.
// It reads the history and never writes to it: file access is limited to
// the history root, and ad-hoc queries are limited to SELECT.
package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
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
		d.has[t] = has
		view := emptyView(t)
		if has {
			view = fmt.Sprintf("CREATE VIEW %s AS SELECT * FROM read_parquet(%s, hive_partitioning = true, union_by_name = true)", t, quote(d.root.Glob(t)))
		}
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

// ErrNotReadOnly is wrapped by the error UserQuery returns for a statement
// that is not a query.
var ErrNotReadOnly = errors.New("only SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE and EXPLAIN are allowed")

// UserQuery runs one ad-hoc query. Only statements that read are allowed:
// a COPY or CREATE could otherwise write into the history root.
func (d *DB) UserQuery(ctx context.Context, query string) (*sql.Rows, error) {
	var kind duckdb.StmtType
	err := d.conn.Raw(func(c any) error {
		conn, ok := c.(driver.ConnPrepareContext)
		if !ok {
			return errors.New("duckdb connection cannot prepare statements")
		}
		stmt, err := conn.PrepareContext(ctx, query)
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
		return nil, err
	}
	switch kind {
	case duckdb.STATEMENT_TYPE_SELECT, duckdb.STATEMENT_TYPE_EXPLAIN:
	default:
		return nil, fmt.Errorf("%s: %w", firstWord(query), ErrNotReadOnly)
	}
	return d.conn.QueryContext(ctx, query)
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
