package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
)

type importBillingOptions struct {
	files   []string
	format  string
	source  string
	threads int
	output  string
}

func importCommand(app *kingpin.Application, g *globals) subcommand {
	o := &importBillingOptions{}
	c := app.Command("import", "Import data into the history.")
	b := c.Command("billing", "Import bills (FOCUS CSV or Parquet, AWS CUR CSV or CSV.gz, CUR 2.0 Parquet) into the cost_lines table, through the same parser and mapping rules as the exporter's billing sources (docs/billing.md). Lines already in the history are not written again; lines of other services and rejected lines are counted, rejected ones by reason. Needs the history's writer lock: stop an exporter writing the same root first.")
	b.Arg("file", "Bill files.").Required().ExistingFilesVar(&o.files)
	enumFlag(b.Flag("bill-format", "Format of the bills (auto: from their columns).").Default(billing.FormatAuto), &o.format, billing.Formats...)
	b.Flag("source", "Billing source of the configuration whose attribution (billing.attribution) and name the lines take; without it they are unattributed and their source is \"import\".").StringVar(&o.source)
	b.Flag("threads", "Goroutines reading a CSV bill (default: one per CPU).").IntVar(&o.threads)
	enumFlag(b.Flag("format", "Output format.").Default("table"), &o.output, "table", "json", "csv")
	return subcommand{clause: b, run: func(ctx context.Context, g *globals) (int, error) { return runImportBilling(ctx, g, o) }}
}

func runImportBilling(ctx context.Context, g *globals, o *importBillingOptions) (int, error) {
	cfg, err := g.config()
	if err != nil {
		return exitError, err
	}
	opts := billing.ImportOptions{
		Options: billing.Options{Format: o.format, Source: "import"},
		Threads: o.threads, Now: g.now,
	}
	if o.source != "" {
		if cfg == nil {
			return exitError, fmt.Errorf("--source %s: needs the configuration (--config.file)", o.source)
		}
		src := cfg.Source(o.source)
		if src == nil || src.Type != config.TypeBilling {
			return exitError, fmt.Errorf("--source %s: no billing source of that name in %s", o.source, cfg.File)
		}
		opts.Source, opts.Attribution = src.Name, src.Billing.Attribution
	}
	root := g.history
	if root == "" && cfg != nil {
		root = cfg.History.Root
	}
	if root == "" {
		root = config.DefaultHistoryRoot
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return exitError, fmt.Errorf("history root: %w", err)
	}
	imports, err := billing.ImportBills(ctx, root, o.files, opts)
	if err != nil {
		return exitError, err
	}
	return exitOK, writeImports(g, o.output, imports)
}

func writeImports(g *globals, format string, imports []billing.Import) error {
	if format == "json" {
		if imports == nil {
			imports = []billing.Import{}
		}
		return writeJSON(g.stdout, map[string]any{"imports": imports})
	}
	t := &table{
		header: []string{"FILES", "FORMAT", "ROWS", "WRITTEN", "HELD", "OTHER", "REJECTED"},
		right:  map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true},
		wrap:   map[int]bool{0: true},
	}
	itoa := strconv.Itoa
	for _, im := range imports {
		t.add(strings.Join(im.Files, " "), im.Format, itoa(im.Rows), itoa(im.Written), itoa(im.Duplicates), itoa(im.OutOfScope), itoa(im.RejectedTotal()))
	}
	if format == "csv" {
		t.header = []string{"file", "format", "rows", "written", "already_held", "out_of_scope", "rejected"}
		return t.writeCSV(g.stdout)
	}
	if err := t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout)); err != nil {
		return err
	}
	for _, im := range imports {
		reasons := make([]string, 0, len(im.Rejected))
		for r := range im.Rejected {
			reasons = append(reasons, r)
		}
		slices.Sort(reasons)
		for _, r := range reasons {
			if _, err := fmt.Fprintf(g.stdout, "%s: %d rejected: %s\n", strings.Join(im.Files, ", "), im.Rejected[r], r); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintln(g.stdout, "HELD: lines the history already had; OTHER: lines of services outside storage and backup (docs/billing.md).")
	return err
}
