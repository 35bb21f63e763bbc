// Command analyze questions Restorable's long-term history with DuckDB:
// policy findings, storage forecasts, tiering advice and ad-hoc SQL.
//
// Each subcommand lives in a file of its own; subcommands() lists them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/restorable/restorable/internal/buildinfo"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/duck"
)

// Exit codes. Every subcommand exits 0 on success and exitError when it
// could not answer; findings exits exitFindings when it found breaches at
// or above --fail-on.
const (
	exitOK       = 0
	exitFindings = 1
	exitError    = 2
)

// defaultConfigFile is read when it exists and --config.file is not given.
const defaultConfigFile = "restorable.yml"

func main() {
	buildinfo.Fill()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, time.Now)
	stop()
	os.Exit(code)
}

// globals are the flags every subcommand shares and what the process
// gives them.
type globals struct {
	configFile  string
	configSet   bool
	history     string
	color       string
	memoryLimit string
	stdout      io.Writer
	stderr      io.Writer
	now         func() time.Time
	logger      *slog.Logger
}

// subcommand is one analyze subcommand: the clause kingpin parsed into,
// and what runs when it was chosen.
type subcommand struct {
	clause *kingpin.CmdClause
	run    func(ctx context.Context, g *globals) (int, error)
}

// subcommands lists the constructors of every subcommand. Adding a
// subcommand is one file with its constructor and one entry here.
func subcommands() []func(*kingpin.Application, *globals) subcommand {
	return []func(*kingpin.Application, *globals) subcommand{
		findingsCommand,
		forecastCommand,
		tieringCommand,
		sqlCommand,
		schemaCommand,
		gateCommand,
		releasesCommand,
		auditCommand,
		importCommand,
		costCommand,
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) int {
	g := &globals{stdout: stdout, stderr: stderr, now: now}
	app := kingpin.New("analyze", "Question Restorable's history: policy findings, storage forecasts, tiering advice and SQL.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print("restorable_analyze"))
	app.HelpFlag.Short('h')
	app.Flag("config.file", "Restorable configuration file: the policy, and the history root (default "+defaultConfigFile+" when it exists).").
		IsSetByUser(&g.configSet).Default(defaultConfigFile).StringVar(&g.configFile)
	app.Flag("history", "History root directory (default: history.root of the configuration, else "+config.DefaultHistoryRoot+").").
		PlaceHolder("ROOT").StringVar(&g.history)
	app.Flag("color", "Colour terminal output: auto (only on a terminal, unless NO_COLOR is set), always or never.").
		Default("auto").EnumVar(&g.color, "auto", "always", "never")
	app.Flag("memory-limit", "Most memory DuckDB may use before it spills to a temporary directory.").
		Default(duck.DefaultMemoryLimit).StringVar(&g.memoryLimit)
	logLevel := app.Flag("log.level", "Only log messages with the given severity or above: debug, info, warn, error.").
		Default("warn").Enum("debug", "info", "warn", "error")

	cmds := map[string]subcommand{}
	for _, newCmd := range subcommands() {
		c := newCmd(app, g)
		cmds[c.clause.FullCommand()] = c
	}
	chosen, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "analyze: %v (see analyze --help)\n", err)
		return exitError
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "analyze: %v\n", err)
		return exitError
	}
	g.logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	code, err := cmds[chosen].run(ctx, g)
	if err != nil {
		fmt.Fprintf(stderr, "analyze %s: %v\n", chosen, err)
		return exitError
	}
	return code
}

// enumFlag makes f accept only values and lists them at the end of its
// help, so that --help shows every choice.
func enumFlag(f *kingpin.FlagClause, target *string, values ...string) {
	f.Help(f.Model().Help+" One of: "+strings.Join(values, ", ")+".").EnumVar(target, values...)
}

// config loads the configuration file. Without --config.file a missing
// default file is no error: config returns nil, and the subcommands that
// need a policy say so.
func (g *globals) config() (*config.Config, error) {
	cfg, err := config.Load(g.configFile)
	if err != nil && !g.configSet && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return cfg, err
}

// requireConfig loads the configuration and fails when there is none.
func (g *globals) requireConfig(what string) (*config.Config, error) {
	cfg, err := g.config()
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return nil, fmt.Errorf("%s needs the policy: pass --config.file (no %s in the working directory)", what, defaultConfigFile)
	}
	return cfg, nil
}

// open opens the history that --history names, else the configuration's,
// else the default root.
func (g *globals) open(ctx context.Context, cfg *config.Config) (*duck.DB, error) {
	root := g.history
	if root == "" && cfg != nil {
		root = cfg.History.Root
	}
	if root == "" {
		root = config.DefaultHistoryRoot
	}
	r, err := duck.ParseRoot(root)
	if err != nil {
		return nil, err
	}
	g.logger.Debug("opening history", "root", r.String())
	return duck.Open(ctx, r, duck.Options{MemoryLimit: g.memoryLimit})
}

// colour reports whether output to w gets terminal colours.
func (g *globals) colour(w io.Writer) bool {
	switch g.color {
	case "always":
		return true
	case "never":
		return false
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// defaultWidth is the width of tables written to a pipe or file when
// COLUMNS does not say otherwise: CI logs and pagers show 80 columns
// comfortably, and csv or json keep every field whole for machines.
const defaultWidth = 80

// width returns how many columns a table written to w may take: COLUMNS
// when it holds a positive number, else the width of the terminal w is,
// else defaultWidth.
func (g *globals) width(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok {
		if n := terminalWidth(f); n > 0 {
			return n
		}
	}
	return defaultWidth
}

// parseTime reads a moment: "now", RFC 3339, a UTC date or date and time
// ("2026-11-25", "2026-11-25T10:00:00"), or a duration such as "7d" that
// means that long before base.
func parseTime(s string, base time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "now" {
		return base.UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateTime, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t.UTC(), nil
		}
	}
	if d, err := config.ParseDuration(strings.TrimPrefix(s, "-")); err == nil {
		return base.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use RFC 3339 (2026-11-25T10:00:00Z), a date (2026-11-25) or a duration before now (7d)", s)
}
