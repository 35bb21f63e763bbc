package probe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restorable/restorable/internal/runx"
)

// pgAlgorithm names how PostgreSQL checksums are computed: per table, the
// row count and the sum of a 64-bit hash of every row (order-independent,
// as data-diff does). The row hash is one of the pgMethod* values, chosen
// per table and recorded in the checksums so that both sides use the same.
const pgAlgorithm = "row-hash-sum"

// The row hashes. hash_record_extended hashes the columns' binary values
// with the hash functions hash partitioning relies on (and so keeps stable
// across versions); it is about five times faster than hashing the row's
// text, which matters because verification must cost less than half of
// the restore. It needs PostgreSQL 14 and a hash function for every column
// type (json, point and xml have none): such tables use the first 64 bits
// of the MD5 of the row's text instead.
const (
	pgMethodHash = "hash_record_extended"
	pgMethodMD5  = "md5"
)

// pgUserRelations restricts catalog queries to the user's schemas.
const pgUserRelations = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'`

// pgSchemaQuery describes tables, columns, constraints and indexes, one
// line each; sorting happens in Go so that collations do not matter.
// Column positions count only live columns: a column dropped in the
// source leaves a gap that a restore closes.
const pgSchemaQuery = `
SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind=' || c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ` + pgUserRelations + `
UNION ALL
SELECT 'column ' || n.nspname || '.' || c.relname || ' #' || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)
  || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
  || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
  || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ` + pgUserRelations + `
UNION ALL
SELECT 'constraint ' || n.nspname || '.' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE ` + pgUserRelations + `
UNION ALL
SELECT 'index ' || n.nspname || '.' || i.relname || ' ' || pg_get_indexdef(i.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE ` + pgUserRelations

// pgTablesQuery lists the tables whose rows are checksummed, largest
// first so that parallel workers finish close together.
const pgTablesQuery = `
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND ` + pgUserRelations + `
ORDER BY pg_relation_size(c.oid) DESC, 1, 2`

// pgTableChecksumSQL is the count and content checksum of one table. ONLY
// keeps inheritance children from being counted twice (they are tables of
// their own).
func pgTableChecksumSQL(method, schema, table string) string {
	hash := `hash_record_extended(t, 0)`
	if method == pgMethodMD5 {
		hash = `('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint`
	}
	return `SELECT count(*), coalesce(sum(` + hash + `), 0)::text FROM ONLY ` + pgx.Identifier{schema, table}.Sanitize() + ` AS t`
}

// pgTableChecksum computes one table's checksum with method, or, when
// method is empty, with the fast hash if the table's types allow it and
// MD5 otherwise.
func pgTableChecksum(ctx context.Context, tx pgx.Tx, method, schema, table string) (TableChecksum, error) {
	tc := TableChecksum{Name: schema + "." + table, Method: method}
	if method == "" {
		tc.Method = pgMethodHash
		if _, err := tx.Exec(ctx, "SAVEPOINT restorable_checksum"); err != nil {
			return tc, err
		}
		err := tx.QueryRow(ctx, pgTableChecksumSQL(pgMethodHash, schema, table)).Scan(&tc.Rows, &tc.Sum)
		var pe *pgconn.PgError
		switch {
		case err == nil:
			_, err = tx.Exec(ctx, "RELEASE SAVEPOINT restorable_checksum")
			return tc, err
		case errors.As(err, &pe) && pe.Code == "42883": // undefined_function: a type without hash, or PostgreSQL < 14
			if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT restorable_checksum"); err != nil {
				return tc, err
			}
			tc.Method = pgMethodMD5
		default:
			return tc, err
		}
	}
	err := tx.QueryRow(ctx, pgTableChecksumSQL(tc.Method, schema, table)).Scan(&tc.Rows, &tc.Sum)
	return tc, err
}

// pgChecksumOptions say how to compute checksums.
type pgChecksumOptions struct {
	// Jobs is the number of connections checksumming tables at once.
	Jobs int
	// Snapshot, when set, makes every connection read that exported
	// snapshot, so that the checksums describe exactly what a pg_dump
	// with --snapshot dumps.
	Snapshot string
	// Methods fixes the row hash per table (the source's choice); other
	// tables choose their own.
	Methods map[string]string
}

// pgChecksums computes the checksums of the database connString points to.
func pgChecksums(ctx context.Context, params map[string]string, db string, o pgChecksumOptions) (*Checksums, error) {
	jobs := max(1, o.Jobs)
	conns := make([]pgx.Tx, 0, jobs)
	defer func() {
		for _, tx := range conns {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			_ = tx.Conn().Close(context.WithoutCancel(ctx))
		}
	}()
	for range jobs {
		conn, err := pgConnect(ctx, params, db)
		if err != nil {
			return nil, fmt.Errorf("compute checksums: %w", err)
		}
		tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			_ = conn.Close(ctx)
			return nil, fmt.Errorf("begin checksum transaction: %w", err)
		}
		conns = append(conns, tx)
		if o.Snapshot != "" {
			if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT "+quoteLiteral(o.Snapshot)); err != nil {
				return nil, fmt.Errorf("use snapshot %s: %w", o.Snapshot, err)
			}
		}
	}
	first := conns[0]
	c := &Checksums{Format: ChecksumsFormat, Engine: "postgres", Algorithm: pgAlgorithm, Snapshot: o.Snapshot, TakenAt: time.Now().UTC()}
	if err := first.QueryRow(ctx, "SELECT current_database()").Scan(&c.Database); err != nil {
		return nil, fmt.Errorf("read database name: %w", err)
	}
	lines, err := collectStrings(ctx, first, pgSchemaQuery)
	if err != nil {
		return nil, fmt.Errorf("describe schema: %w", err)
	}
	c.setSchema(lines)
	rows, err := first.Query(ctx, pgTablesQuery)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var tables [][2]string
	for rows.Next() {
		var s, t string
		if err := rows.Scan(&s, &t); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tables: %w", err)
		}
		tables = append(tables, [2]string{s, t})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	c.Tables = make([]TableChecksum, len(tables))
	err = parallel(ctx, len(conns), len(tables), func(w, i int) error {
		s, t := tables[i][0], tables[i][1]
		tc, err := pgTableChecksum(ctx, conns[w], o.Methods[s+"."+t], s, t)
		if err != nil {
			return fmt.Errorf("checksum table %s: %w", tc.Name, err)
		}
		c.Tables[i] = tc
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func collectStrings(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string) ([]string, error) {
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// pgConnect connects with the given keywords, to db when it is not empty.
// A connection string pgx cannot parse is reported without the string,
// which may hold a password.
func pgConnect(ctx context.Context, params map[string]string, db string) (*pgx.Conn, error) {
	p := maps.Clone(params)
	if db != "" {
		p["dbname"] = db
	}
	conn, err := pgx.Connect(ctx, conninfoString(p))
	if err != nil {
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) {
			return nil, runx.Errorf(runx.KindConfig, "connection string is not valid")
		}
		return nil, runx.Errorf(runx.KindIO, "connect to %s: %w", pgEndpoint(p).server(), err)
	}
	return conn, nil
}

// PostgresDumpOptions configure DumpPostgres.
type PostgresDumpOptions struct {
	// BinDir holds pg_dump; empty finds it on PATH.
	BinDir string
	// Jobs is the number of connections computing checksums while pg_dump
	// runs (default 2).
	Jobs int
	// ExtraArgs are passed to pg_dump (for example "--exclude-table=x").
	ExtraArgs []string
}

// DumpPostgres writes a custom-format dump of the database dsn points to
// at path, and next to it (ChecksumsPath) the checksums of the same
// database taken in the same snapshot: pg_export_snapshot in a repeatable
// read transaction that stays open while pg_dump --snapshot dumps and other
// connections checksum that snapshot. A backup script calls it (or runs the
// equivalent SQL) so that a postgres-logical probe can later prove that the
// restore holds exactly what was dumped.
func DumpPostgres(ctx context.Context, dsn, path string, o PostgresDumpOptions) (*Checksums, error) {
	params, err := parseConninfo(dsn)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "parse source dsn: %w", err)
	}
	return dumpPostgres(ctx, params, path, o)
}

func dumpPostgres(ctx context.Context, params map[string]string, path string, o PostgresDumpOptions) (*Checksums, error) {
	conn, err := pgConnect(ctx, params, "")
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // closing a read-only session
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin snapshot transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read-only
	var snap string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	tmp := path + ".tmp"
	args := append([]string{"--format=custom", "--snapshot=" + snap, "--file=" + tmp}, o.ExtraArgs...)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var dumpErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		_, dumpErr = runx.Run(ctx, runx.Cmd{Path: pgTool(o.BinDir, "pg_dump"), Args: args, Env: pgEnvOf(params, "")})
		if dumpErr != nil {
			cancel()
		}
	})
	sums, sumErr := pgChecksums(ctx, params, "", pgChecksumOptions{Jobs: max(1, o.Jobs), Snapshot: snap})
	if sumErr != nil {
		cancel()
	}
	wg.Wait()
	// Whichever failed first cancelled the other: report that one.
	if sumErr != nil && (dumpErr == nil || errors.Is(dumpErr, context.Canceled)) {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("checksum the source: %w", sumErr)
	}
	if dumpErr != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("dump the source: %w", dumpErr)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("move the dump into place: %w", err)
	}
	if err := sums.WriteFile(ChecksumsPath(path)); err != nil {
		return nil, err
	}
	return sums, nil
}

// pgTool returns the path of a PostgreSQL client program.
func pgTool(binDir, name string) string {
	if binDir == "" {
		return name
	}
	return filepath.Join(binDir, name)
}
