// Package pgbackrest collects the backup catalog of pgBackRest repositories
// from `pgbackrest info --output=json`.
//
// Every backup becomes a model.Backup: its id is the pgBackRest label
// when the source lists exactly one stanza, else "STANZA/LABEL" (the
// default reads every stanza, and labels are start times to the second, so
// two stanzas can share one), its parent
// the backup it was taken against, its release the `release` annotation
// (`pgbackrest backup --annotation=release=v1.4`). Every repository of every
// stanza becomes a model.Repository with the stanza's health, locks and WAL
// archive range, named after the stanza ("STANZA/repoN" when the stanza has
// several repositories).
//
// Beyond `info --output=json`, a collection reads the databases of up to
// SetReadsPerCollection backups it has not seen before (`info --set`, once
// per backup), and, while a backup runs on a pgBackRest that reports its
// progress only as text (before 2.48), one text `info` of that stanza.
package pgbackrest

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// DefaultBinary is the program run when the source names none.
const DefaultBinary = "pgbackrest"

// SetReadsPerCollection bounds the `info --set` runs one collection makes
// to read the databases of backups it has not seen yet, newest first: a
// first collection of a repository with hundreds of backups must not make
// hundreds of calls. Older backups get theirs in later collections.
const SetReadsPerCollection = 5

// Collector reads the stanzas of one pgbackrest source.
type Collector struct {
	src    *config.Source
	opts   *config.PgBackRestOptions
	binary string
	logger *slog.Logger
	now    func() time.Time

	// mu guards databases, which outlives one collection: the databases
	// of a finished backup never change, so each is read once.
	mu        sync.Mutex
	databases map[string][]string
}

// New returns a collector for a pgbackrest source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	opts := src.PgBackRest
	if opts == nil {
		opts = &config.PgBackRestOptions{}
	}
	// pgBackRest reads a relative --config from its own working
	// directory, which is not the exporter's; only an absolute path
	// means the same file to both.
	if opts.Config != "" && !filepath.IsAbs(opts.Config) {
		return nil, runx.Errorf(runx.KindConfig, "source %s: pgbackrest.config must be an absolute path, got %q", src.Name, opts.Config)
	}
	for i, s := range opts.Stanzas {
		if s == "" || strings.HasPrefix(s, "-") || strings.ContainsAny(s, " \t\n/") {
			return nil, runx.Errorf(runx.KindConfig, "source %s: pgbackrest.stanzas[%d]: %q is not a stanza name", src.Name, i, s)
		}
		if slices.Contains(opts.Stanzas[:i], s) {
			return nil, runx.Errorf(runx.KindConfig, "source %s: pgbackrest.stanzas: %q is listed twice", src.Name, s)
		}
	}
	switch {
	case src.DatasetFrom == "", src.DatasetFrom == "stanza", strings.HasPrefix(src.DatasetFrom, "tag:"):
	default:
		return nil, runx.Errorf(runx.KindConfig, "source %s: dataset_from %q does not apply to pgbackrest; use stanza or tag:KEY (a backup annotation)", src.Name, src.DatasetFrom)
	}
	binary := opts.Binary
	if binary == "" {
		binary = DefaultBinary
	}
	return &Collector{src: src, opts: opts, binary: binary, logger: logger, now: now, databases: map[string][]string{}}, nil
}

// Collect runs pgbackrest info and returns the catalog of the source's
// stanzas.
//
// Selected stanzas are read with one `info --stanza=S` each rather than one
// `info` filtered afterwards: pgBackRest then reads only those stanzas from
// the repository (on object storage every stanza read is paid-for requests),
// a stanza that does not exist is reported with pgBackRest's own status
// ("missing stanza path") instead of silently missing, and a broken stanza
// the source does not watch cannot fail it.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	observedAt := c.now().UTC()
	var stanzas []stanza
	if len(c.opts.Stanzas) == 0 {
		all, err := c.info(ctx, "")
		if err != nil {
			return nil, err
		}
		// An empty answer is what pgBackRest prints for a repo path that
		// does not exist, so it is far more likely a wrong configuration
		// than a repository that was meant to be empty.
		if len(all) == 0 {
			return nil, runx.Errorf(runx.KindConfig, "pgbackrest info%s found no stanza in the repository: check the repository settings, or list the stanzas in pgbackrest.stanzas", c.configHint())
		}
		stanzas = all
	} else {
		for _, name := range c.opts.Stanzas {
			got, err := c.info(ctx, name)
			if err != nil {
				return nil, err
			}
			i := slices.IndexFunc(got, func(s stanza) bool { return s.Name == name })
			if i < 0 {
				return nil, runx.ParseError(fmt.Errorf("pgbackrest info --stanza=%s: the output has no stanza %s", name, name))
			}
			stanzas = append(stanzas, got[i])
		}
	}
	m := &mapper{src: c.src, opts: c.opts, qualify: len(c.opts.Stanzas) != 1, observedAt: observedAt,
		databases: c.readDatabases(ctx, stanzas), textProgress: c.readTextProgress(ctx, stanzas)}
	cat := m.catalog(stanzas)
	if c.src.Env == "" {
		missing := 0
		for i := range cat.Backups {
			if cat.Backups[i].Env == "" {
				missing++
			}
		}
		if missing > 0 {
			c.logger.Warn("backups without environment: set env on the source or annotate backups with env=NAME", "backups", missing)
		}
	}
	return cat, nil
}

// Operations returns the external calls a collection can make: info runs
// of the configured program (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	return []string{filepath.Base(c.binary) + " info"}
}

// info runs `pgbackrest info --output=json` for one stanza, or for all of
// them when name is empty.
func (c *Collector) info(ctx context.Context, name string) ([]stanza, error) {
	what := "all stanzas"
	if name != "" {
		what = "stanza " + name
	}
	res, err := runx.Run(ctx, runx.Cmd{Path: c.binary, Args: c.args(name), RunAs: c.opts.RunAs})
	if err != nil {
		return nil, fmt.Errorf("read pgbackrest info of %s: %w", what, err)
	}
	if len(res.Stderr) > 0 {
		c.logger.Warn("pgbackrest info printed warnings", "stanza", name, "stderr", runx.Tail(string(res.Stderr), 512))
	}
	c.logger.Debug("read pgbackrest info", "stanza", name, "duration", res.Duration, "bytes", len(res.Stdout))
	stanzas, err := parseInfo(res.Stdout)
	if err != nil {
		return nil, runx.ParseError(fmt.Errorf("parse pgbackrest info of %s: %w", what, err))
	}
	return stanzas, nil
}

// readDatabases returns the databases of every backup of stanzas that are
// known, reading those of at most SetReadsPerCollection backups not read
// before, newest first. A failed run is logged and leaves that backup
// without databases until a later collection reads them: the catalog is
// still right without them. An answer without databases is remembered.
func (c *Collector) readDatabases(ctx context.Context, stanzas []stanza) map[string][]string {
	type set struct {
		stanza, label string
		stop          int64
	}
	c.mu.Lock()
	var todo []set
	known := make(map[string][]string, len(c.databases))
	for i := range stanzas {
		for j := range stanzas[i].Backup {
			b := &stanzas[i].Backup[j]
			k := setKey(stanzas[i].Name, b.Label)
			if dbs, ok := c.databases[k]; ok {
				known[k] = dbs
			} else {
				todo = append(todo, set{stanzas[i].Name, b.Label, b.Timestamp.Stop})
			}
		}
	}
	c.mu.Unlock()
	slices.SortFunc(todo, func(a, b set) int { return cmp.Compare(b.stop, a.stop) })
	for _, s := range todo[:min(len(todo), SetReadsPerCollection)] {
		res, err := runx.Run(ctx, runx.Cmd{Path: c.binary, Args: c.args(s.stanza, "--set="+s.label), RunAs: c.opts.RunAs})
		if err != nil {
			c.logger.Warn("cannot read the databases of a backup", "stanza", s.stanza, "set", s.label, "err", err)
			continue
		}
		k := setKey(s.stanza, s.label)
		dbs, err := parseSetDatabases(res.Stdout, s.stanza, s.label)
		if err != nil {
			// An answer without the databases will not have them next
			// time either: remember that, so that a pgBackRest that does
			// not print them costs no call per backup per collection.
			c.logger.Warn("cannot read the databases of a backup", "stanza", s.stanza, "set", s.label, "err", err)
			dbs = nil
		}
		known[k] = dbs
		c.mu.Lock()
		c.databases[k] = dbs
		c.mu.Unlock()
	}
	return known
}

// readTextProgress returns the progress of the running backups of stanzas
// whose JSON does not report it (pgBackRest before 2.48 shows it only in
// its text output), one text info run per such stanza. It costs nothing
// while no backup runs.
func (c *Collector) readTextProgress(ctx context.Context, stanzas []stanza) map[string]float64 {
	out := map[string]float64{}
	for i := range stanzas {
		bl := stanzas[i].Status.Lock.Backup
		if !bl.Held || bl.Size != nil {
			continue
		}
		args := c.args(stanzas[i].Name)
		args[len(args)-2] = "--output=text"
		res, err := runx.Run(ctx, runx.Cmd{Path: c.binary, Args: args, RunAs: c.opts.RunAs})
		if err != nil {
			c.logger.Warn("cannot read the progress of a running backup", "stanza", stanzas[i].Name, "err", err)
			continue
		}
		if p, ok := parseTextProgress(res.Stdout); ok {
			out[stanzas[i].Name] = p
		}
	}
	return out
}

// args builds the command line of one info run; the output format and the
// command come last.
func (c *Collector) args(name string, extra ...string) []string {
	var args []string
	if c.opts.Config != "" {
		args = append(args, "--config="+c.opts.Config)
	}
	if name != "" {
		args = append(args, "--stanza="+name)
	}
	args = append(args, extra...)
	// Console messages go to standard output, where they would break the
	// JSON, so they are moved to standard error whatever the
	// configuration file says. The log file is switched off: a
	// collection every few minutes would fill it with info runs, and the
	// exporter's user may not be allowed to write it.
	return append(args, "--log-level-console=off", "--log-level-stderr=warn", "--log-level-file=off", "--output=json", "info")
}

func (c *Collector) configHint() string {
	if c.opts.Config == "" {
		return ""
	}
	return " --config=" + c.opts.Config
}
