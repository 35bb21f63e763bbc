package main

import (
	"context"
	"fmt"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/duck"
)

type schemaOptions struct {
	format string
}

func schemaCommand(app *kingpin.Application, g *globals) subcommand {
	o := &schemaOptions{}
	c := app.Command("schema", "List the views of the history (backups, repositories, probes, audit, events), their columns and types, and how many rows each holds.")
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv", "markdown")
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runSchema(ctx, g, o) }}
}

// schemaColumn is one column as schema prints it.
type schemaColumn struct {
	Table       string `json:"table"`
	Column      string `json:"column"`
	Type        string `json:"type"`
	Description string `json:"description"`
}

type schemaTable struct {
	Table   string         `json:"table"`
	Rows    int64          `json:"rows"`
	Columns []schemaColumn `json:"columns"`
}

func runSchema(ctx context.Context, g *globals, o *schemaOptions) (int, error) {
	cfg, err := g.config()
	if err != nil {
		return exitError, err
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	var tables []schemaTable
	for _, name := range duck.Tables() {
		docs := map[string]string{}
		for _, c := range duck.Columns(name) {
			docs[c.Name] = c.Doc
		}
		st := schemaTable{Table: name}
		if err := db.QueryRow(ctx, "SELECT count(*) FROM "+name).Scan(&st.Rows); err != nil {
			return exitError, fmt.Errorf("count %s: %w", name, err)
		}
		rows, err := db.Query(ctx, "SELECT column_name, column_type FROM (DESCRIBE "+name+")")
		if err != nil {
			return exitError, fmt.Errorf("describe %s: %w", name, err)
		}
		for rows.Next() {
			var c schemaColumn
			if err := rows.Scan(&c.Column, &c.Type); err != nil {
				rows.Close()
				return exitError, fmt.Errorf("describe %s: %w", name, err)
			}
			c.Table, c.Description = name, docs[c.Column]
			st.Columns = append(st.Columns, c)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return exitError, fmt.Errorf("describe %s: %w", name, err)
		}
		rows.Close()
		tables = append(tables, st)
	}
	if o.format == "json" {
		if err := writeJSON(g.stdout, tables); err != nil {
			return exitError, err
		}
		return exitOK, nil
	}
	// Long types (structs) and descriptions wrap so the table fits the width.
	t := &table{header: []string{"TABLE", "COLUMN", "TYPE", "DESCRIPTION"}, wrap: map[int]bool{2: true, 3: true}}
	for _, st := range tables {
		for _, c := range st.Columns {
			t.add(c.Table, c.Column, c.Type, c.Description)
		}
	}
	switch o.format {
	case "csv":
		err = t.writeCSV(g.stdout)
	case "markdown":
		err = t.writeMarkdown(g.stdout)
	default:
		if err = t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout)); err == nil {
			_, err = fmt.Fprintf(g.stdout, "\nHistory %s: %s.\n", db.Root(), rowCounts(tables))
		}
	}
	if err != nil {
		return exitError, err
	}
	return exitOK, nil
}

func rowCounts(tables []schemaTable) string {
	s := ""
	for i, t := range tables {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d rows", t.Table, t.Rows)
	}
	return s
}
