package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/duck"
	"github.com/restorable/restorable/internal/policy"
)

type findingsOptions struct {
	env    string
	at     string
	since  string
	format string
	failOn string
}

func findingsCommand(app *kingpin.Application, g *globals) subcommand {
	o := &findingsOptions{}
	c := app.Command("findings", "Evaluate every policy check over the history and list the breaches. Exits 0 when none is at or above --fail-on, 1 when some are, 2 on error.")
	c.Flag("env", "Only findings of this environment.").StringVar(&o.env)
	c.Flag("at", "Evaluate the state the history records at this time (RFC 3339, date, or a duration before now such as 7d).").Default("now").StringVar(&o.at)
	c.Flag("since", "Start of the period the historical checks look at (default: --at minus checks.period, 30d).").StringVar(&o.since)
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv", "markdown", "sarif")
	enumFlag(c.Flag("fail-on", "Exit 1 when a finding has this severity or a higher one; never exits 0 whatever is found.").Default("warning"), &o.failOn, "info", "warning", "critical", "never")
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runFindings(ctx, g, o) }}
}

// report is the result of one findings run.
type report struct {
	History  string           `json:"history"`
	At       time.Time        `json:"at"`
	Since    time.Time        `json:"since"`
	Summary  map[string]int   `json:"summary"`
	Findings []policy.Finding `json:"findings"`
}

func runFindings(ctx context.Context, g *globals, o *findingsOptions) (int, error) {
	cfg, err := g.requireConfig("findings")
	if err != nil {
		return exitError, err
	}
	at, err := parseTime(o.at, g.now())
	if err != nil {
		return exitError, fmt.Errorf("--at: %w", err)
	}
	since := at.Add(-cfg.Checks.Period.D())
	if o.since != "" {
		if since, err = parseTime(o.since, at); err != nil {
			return exitError, fmt.Errorf("--since: %w", err)
		}
	}
	if !since.Before(at) {
		return exitError, fmt.Errorf("--since %s is not before --at %s", since.Format(time.RFC3339), at.Format(time.RFC3339))
	}
	if o.env != "" && cfg.Environments[o.env] == nil {
		return exitError, fmt.Errorf("--env: %q is not an environment of %s (%s)", o.env, cfg.File, strings.Join(cfg.EnvNames(), ", "))
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	res, err := evaluate(ctx, db, cfg, at, since, g.logger)
	if err != nil {
		return exitError, err
	}
	findings := res.Findings
	if o.env != "" {
		findings = slices.DeleteFunc(findings, func(f policy.Finding) bool {
			return !slices.Contains(strings.Split(f.Env, ","), o.env)
		})
	}
	rep := report{History: db.Root().String(), At: at, Since: since, Summary: map[string]int{}, Findings: findings}
	for _, s := range policy.Severities() {
		rep.Summary[s.String()] = 0
	}
	for _, f := range findings {
		rep.Summary[f.Severity.String()]++
	}
	if rep.Findings == nil {
		rep.Findings = []policy.Finding{}
	}
	if err := writeFindings(g, o.format, &rep); err != nil {
		return exitError, fmt.Errorf("write findings: %w", err)
	}
	if o.failOn == "never" {
		return exitOK, nil
	}
	min, err := policy.ParseSeverity(o.failOn)
	if err != nil {
		return exitError, err
	}
	if policy.Count(findings, min) > 0 {
		return exitFindings, nil
	}
	return exitOK, nil
}

// evaluate runs every check over the state the history records at at,
// through the same evaluation the exporter runs over its live state
// (duck.DB.Evaluate fills the one policy input from the history), and the
// historical checks over [since, at]. The result's findings include the
// historical ones.
func evaluate(ctx context.Context, db *duck.DB, cfg *config.Config, at, since time.Time, logger *slog.Logger) (*policy.Result, error) {
	res, hist, err := db.Evaluate(ctx, cfg, at, since, logger)
	if err != nil {
		return nil, err
	}
	started := time.Now()
	rpo := map[string]time.Duration{}
	for name, env := range cfg.Environments {
		rpo[name] = env.RPO.D()
	}
	breaches, err := db.RPOBreaches(ctx, rpo, hist.FirstGood, since, at)
	if err != nil {
		return nil, err
	}
	for _, b := range breaches {
		if cfg.Source(b.Series.Source) != nil {
			res.Findings = append(res.Findings, b.HistoryFinding())
		}
	}
	logger.Debug("evaluated", "step", "rpo history", "took", time.Since(started))
	if err := db.FillEvidenceIDs(ctx, res.Findings); err != nil {
		return nil, err
	}
	policy.Sort(res.Findings)
	return res, nil
}

func writeFindings(g *globals, format string, rep *report) error {
	w := g.stdout
	switch format {
	case "json":
		return writeJSON(w, rep)
	case "sarif":
		// The configuration is read again here, rather than passed down,
		// to locate each result at the line that defines its subject.
		cfg, err := g.config()
		if err != nil {
			return err
		}
		return writeJSON(w, sarifLog(rep, cfg))
	case "csv":
		return findingsTable(rep, true).writeCSV(w)
	case "markdown":
		return writeFindingsMarkdown(w, rep)
	}
	colour := g.colour(w)
	if len(rep.Findings) == 0 {
		_, err := fmt.Fprintf(w, "No findings at %s (history %s, period from %s).\n", rep.At.Format(time.RFC3339), rep.History, rep.Since.Format(time.RFC3339))
		return err
	}
	if err := findingsTable(rep, false).writeText(w, colour, g.width(w)); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s at %s (history %s, period from %s).\n", summaryLine(rep), rep.At.Format(time.RFC3339), rep.History, rep.Since.Format(time.RFC3339))
	return err
}

func summaryLine(rep *report) string {
	n := len(rep.Findings)
	return fmt.Sprintf("%d %s: %d critical, %d warning, %d info", n, pluralWord(n, "finding", "findings"),
		rep.Summary["critical"], rep.Summary["warning"], rep.Summary["info"])
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// findingsTable lays findings out in columns; full adds the columns that
// only machine formats have room for.
func findingsTable(rep *report, full bool) *table {
	// What was observed and expected are written beneath each row, wrapped
	// to the width, so the table fits a terminal; csv and json keep each of
	// them in a field of its own.
	t := &table{header: []string{"SEVERITY", "CHECK", "ENV", "SUBJECT"}, wrap: map[int]bool{3: true}}
	t.details = func(row int) []detail {
		f := rep.Findings[row]
		return []detail{{"observed", f.Observed}, {"expected", f.Expected}}
	}
	if full {
		t.details, t.wrap = nil, nil
		t.header = []string{"severity", "check", "env", "source", "dataset", "release", "repository", "probe", "agent",
			"observed", "expected", "start", "end", "evidence", "controls"}
	}
	for _, f := range rep.Findings {
		if !full {
			t.add(f.Severity.String(), f.Check, f.Env, f.Subject.String())
			continue
		}
		var ev []string
		for _, e := range f.Evidence {
			ev = append(ev, e.String())
		}
		t.add(f.Severity.String(), f.Check, f.Env, f.Subject.Source, f.Subject.Dataset, f.Subject.Release,
			f.Subject.Repository, f.Subject.Probe, f.Subject.Agent, f.Observed, f.Expected,
			timeText(f.Start), timeText(f.End), strings.Join(ev, "; "), strings.Join(f.Controls, " "))
	}
	t.paint = func(row, col int, s string) string {
		if col != 0 {
			return s
		}
		switch rep.Findings[row].Severity {
		case policy.SeverityCritical:
			return paint(ansiRed, s)
		case policy.SeverityWarning:
			return paint(ansiYellow, s)
		}
		return paint(ansiCyan, s)
	}
	return t
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func writeFindingsMarkdown(w io.Writer, rep *report) error {
	if _, err := fmt.Fprintf(w, "# Restorable findings\n\nAt %s, history %s, period from %s. %s.\n\n",
		rep.At.Format(time.RFC3339), rep.History, rep.Since.Format(time.RFC3339), summaryLine(rep)); err != nil {
		return err
	}
	if len(rep.Findings) == 0 {
		return nil
	}
	t := &table{header: []string{"severity", "check", "env", "subject", "observed", "expected", "evidence", "controls"}}
	for _, f := range rep.Findings {
		var ev []string
		for _, e := range f.Evidence {
			ev = append(ev, e.String())
		}
		t.add(f.Severity.String(), "`"+f.Check+"`", f.Env, f.Subject.String(), f.Observed, f.Expected, strings.Join(ev, "\n"), strings.Join(f.Controls, ", "))
	}
	return t.writeMarkdown(w)
}
