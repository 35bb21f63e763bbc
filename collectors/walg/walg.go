// Package walg collects the backup catalog of a WAL-G archive of a
// PostgreSQL cluster from `wal-g backup-list --detail --json`, and the
// continuity of its WAL archive from `wal-g wal-verify integrity timeline
// --json`.
//
// Every base backup becomes a model.Backup (a full one, or a delta: diff
// against a full, incr against another delta); the WAL archive becomes
// one model.Repository whose WAL range is the newest stretch of archived
// segments without a lost one, so that the PITR check judges it like a
// pgBackRest archive.
package walg

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// DefaultBinary is the program run when the source names none.
const DefaultBinary = "wal-g"

// Collector reads one walg source.
type Collector struct {
	src    *config.Source
	opts   *config.WALGOptions
	binary string
	logger *slog.Logger
	now    func() time.Time
}

// New returns a collector for a walg source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	opts := src.WALG
	if opts == nil {
		opts = &config.WALGOptions{WALVerify: true}
	}
	if opts.Config != "" && !filepath.IsAbs(opts.Config) {
		return nil, runx.Errorf(runx.KindConfig, "source %s: walg.config must be an absolute path, got %q", src.Name, opts.Config)
	}
	binary := opts.Binary
	if binary == "" {
		binary = DefaultBinary
	}
	return &Collector{src: src, opts: opts, binary: binary, logger: logger, now: now}, nil
}

// Operations returns the external calls a collection can make
// (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	base := filepath.Base(c.binary)
	ops := []string{base + " backup-list"}
	if c.opts.WALVerify {
		ops = append(ops, base+" wal-verify")
	}
	return ops
}

// Collect lists the backups and, unless wal_verify is off, verifies the
// WAL archive. A failed backup-list fails the collection; a failed
// wal-verify (it needs a connection to the cluster) leaves the backups in
// service and the repository unhealthy with the reason, and without a WAL
// range, so the PITR check is not fed a guess.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	observedAt := c.now().UTC()
	res, err := c.run(ctx, "backup-list", "--detail", "--json")
	if err != nil {
		return nil, fmt.Errorf("read wal-g backup-list: %w", err)
	}
	list, err := parseBackupList(res.Stdout)
	if err != nil {
		return nil, runx.ParseError(fmt.Errorf("parse wal-g backup-list: %w", err))
	}
	var verify *walVerify
	var verifyErr error
	if c.opts.WALVerify {
		res, err := c.run(ctx, "wal-verify", "integrity", "timeline", "--json")
		if err == nil {
			verify, err = parseWALVerify(res.Stdout)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("read wal-g wal-verify: %w", err)
			}
			verifyErr = err
			c.logger.Warn("cannot verify the WAL archive", "err", err)
		}
	}
	m := &mapper{src: c.src, opts: c.opts, observedAt: observedAt}
	return m.catalog(list, verify, verifyErr), nil
}

// run runs one wal-g command with the configured file and the environment
// variables the source names. Their values go to the program only.
func (c *Collector) run(ctx context.Context, args ...string) (*runx.Result, error) {
	if c.opts.Config != "" {
		args = append(args, "--config", c.opts.Config)
	}
	var env []string
	for _, name := range c.opts.ExtraEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		} else {
			c.logger.Warn("environment variable for wal-g is not set", "name", name)
		}
	}
	res, err := runx.Run(ctx, runx.Cmd{Path: c.binary, Args: args, Env: env, RunAs: c.opts.RunAs})
	if err != nil {
		return nil, err
	}
	if len(res.Stderr) > 0 {
		c.logger.Debug("wal-g printed on standard error", "command", args[0], "stderr", runx.Tail(string(res.Stderr), 512))
	}
	return res, nil
}
