// Package pgbackrest collects the backup catalog of pgBackRest repositories
// from `pgbackrest info --output=json`.
//
// Every backup becomes a model.Backup: its id is the pgBackRest label
// ("STANZA/LABEL" when the source reads more than one stanza, because labels
// are start times to the second and two stanzas can share one), its parent
// the backup it was taken against, its release the `release` annotation
// (`pgbackrest backup --annotation=release=v1.4`). Every repository of every
// stanza becomes a model.Repository with the stanza's health, locks and WAL
// archive range, named after the stanza ("STANZA/repoN" when the stanza has
// several repositories).
package pgbackrest

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// DefaultBinary is the program run when the source names none.
const DefaultBinary = "pgbackrest"

// Collector reads the stanzas of one pgbackrest source.
type Collector struct {
	src    *config.Source
	opts   *config.PgBackRestOptions
	binary string
	logger *slog.Logger
	now    func() time.Time
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
	return &Collector{src: src, opts: opts, binary: binary, logger: logger, now: now}, nil
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
	m := &mapper{src: c.src, opts: c.opts, qualify: len(c.opts.Stanzas) != 1, observedAt: observedAt}
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

// args builds the command line of one info run.
func (c *Collector) args(name string) []string {
	var args []string
	if c.opts.Config != "" {
		args = append(args, "--config="+c.opts.Config)
	}
	if name != "" {
		args = append(args, "--stanza="+name)
	}
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
