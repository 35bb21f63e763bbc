package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

type sqlOptions struct {
	query  string
	format string
}

func sqlCommand(app *kingpin.Application, g *globals) subcommand {
	o := &sqlOptions{}
	c := app.Command("sql", "Run one statement that reads (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, or EXPLAIN [ANALYZE] of one of them) against the views backups, repositories and probes; anything else, or several statements, exits 2 before any of it runs.")
	c.Arg("query", "The query, for example \"SELECT env, count(*) FROM backups GROUP BY ALL\".").Required().StringVar(&o.query)
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv", "markdown")
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runSQL(ctx, g, o) }}
}

func runSQL(ctx context.Context, g *globals, o *sqlOptions) (int, error) {
	cfg, err := g.config()
	if err != nil {
		return exitError, err
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	rows, err := db.UserQuery(ctx, o.query)
	if err != nil {
		return exitError, err
	}
	defer rows.Close()
	t, records, err := readRows(rows)
	if err != nil {
		return exitError, err
	}
	switch o.format {
	case "json":
		err = writeJSON(g.stdout, records)
	case "csv":
		err = t.writeCSV(g.stdout)
	case "markdown":
		err = t.writeMarkdown(g.stdout)
	default:
		err = t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout))
	}
	if err != nil {
		return exitError, fmt.Errorf("write result: %w", err)
	}
	return exitOK, nil
}

// readRows reads a whole result as text cells and as JSON-ready records.
func readRows(rows *sql.Rows) (*table, []map[string]any, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, nil, err
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	t := &table{header: cols, right: map[int]bool{}}
	for i, ct := range types {
		switch ct.DatabaseTypeName() {
		case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL":
			t.right[i] = true
		}
	}
	records := []map[string]any{}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		cells := make([]string, len(cols))
		rec := make(map[string]any, len(cols))
		for i, v := range vals {
			v = jsonValue(v)
			cells[i] = cellText(v)
			rec[cols[i]] = v
		}
		t.add(cells...)
		records = append(records, rec)
	}
	return t, records, rows.Err()
}

// jsonValue makes a DuckDB value encodable: times in UTC, big numbers as
// numbers.
func jsonValue(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC()
	case *big.Int:
		if x.IsInt64() {
			return x.Int64()
		}
		return json.Number(x.String())
	case []byte:
		return string(x)
	}
	return v
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case bool, int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, json.Number:
		return fmt.Sprint(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
