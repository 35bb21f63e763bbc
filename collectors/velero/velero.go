// Package velero collects Velero's backups of a Kubernetes cluster.
//
// From the Kubernetes API (plain REST, a kubeconfig file or the in-cluster
// service account) it lists the Backup, Schedule and
// BackupStorageLocation objects of Velero's namespace, page by page; from
// `velero backup get -o json` output (a file, or the velero program) it
// reads the backups alone. Every backup becomes a model.Backup whose
// status follows its phase, every storage location a model.Repository.
package velero

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// The resources listed from the API, in the order they are read.
const (
	ResourceBackups   = "backups"
	ResourceSchedules = "schedules"
	ResourceLocations = "backupstoragelocations"
)

// Collector reads one velero source.
type Collector struct {
	src    *config.Source
	opts   *config.VeleroOptions
	logger *slog.Logger
	now    func() time.Time
	// saDir is where the in-cluster service account is mounted.
	saDir string

	// mu guards intervals, which outlives one collection: the last
	// interval read of each schedule, by name, so that the backups of a
	// schedule deleted since, or whose spec no longer parses, keep the
	// interval of the schedule that made them. Entries are never
	// removed; they live as long as the collector (a configuration
	// reload builds a new one).
	mu        sync.Mutex
	intervals map[string]lastInterval
}

// lastInterval is the interval of a schedule as a collection that began at
// observedAt read it.
type lastInterval struct {
	d          time.Duration
	observedAt time.Time
}

// New returns a collector for a velero source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	opts := src.Velero
	if opts == nil {
		opts = &config.VeleroOptions{Namespace: config.DefaultVeleroNamespace, PageSize: config.DefaultVeleroPageSize}
	}
	if opts.PageSize < 1 {
		return nil, runx.Errorf(runx.KindConfig, "source %s: velero.page_size must be at least 1", src.Name)
	}
	return &Collector{src: src, opts: opts, logger: logger, now: now, saDir: ServiceAccountDir, intervals: map[string]lastInterval{}}, nil
}

// Operations returns the external calls a collection can make
// (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	switch {
	case c.opts.File != "":
		return nil
	case c.opts.Binary != "":
		return []string{filepath.Base(c.opts.Binary) + " backup"}
	}
	return []string{"kubernetes list " + ResourceBackups, "kubernetes list " + ResourceSchedules, "kubernetes list " + ResourceLocations}
}

// Collect reads the source once.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	observedAt := c.now().UTC()
	switch {
	case c.opts.File != "":
		return c.fromFile(ctx, observedAt)
	case c.opts.Binary != "":
		return c.fromProgram(ctx, observedAt)
	}
	return c.fromAPI(ctx, observedAt)
}

func (c *Collector) fromAPI(ctx context.Context, observedAt time.Time) (*model.Catalog, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read velero objects: %w", err)
	}
	var kc *kubeClient
	var err error
	if c.opts.Kubeconfig != "" {
		kc, err = fromKubeconfig(c.opts.Kubeconfig)
	} else {
		kc, err = inCluster(c.saDir)
	}
	if err != nil {
		return nil, err
	}
	defer kc.http.CloseIdleConnections()
	ns, n := c.opts.Namespace, c.opts.PageSize
	backups, err := listAll[backup](ctx, kc, ns, ResourceBackups, n)
	if err != nil {
		return nil, err
	}
	scheds, err := listAll[schedule](ctx, kc, ns, ResourceSchedules, n)
	if err != nil {
		return nil, err
	}
	locs, err := listAll[storageLocation](ctx, kc, ns, ResourceLocations, n)
	if err != nil {
		return nil, err
	}
	c.logger.Debug("read velero objects", "backups", len(backups), "schedules", len(scheds), "locations", len(locs))
	warn := func(name string, err error) {
		c.logger.Warn("cannot read a velero schedule", "schedule", name, "err", err)
	}
	m := newMapper(c.src, c.opts, observedAt, locs, scheds, warn)
	c.rememberIntervals(m)
	return m.catalog(backups, locs), nil
}

// rememberIntervals keeps the intervals of the schedules m read, and gives
// m the last interval known of each schedule it could not read: one
// deleted since, or whose spec no longer parses. A collection that began
// before the one that last read a schedule (an abandoned one returning
// late) does not overwrite that read. After a restart (or a reload, which
// builds a new collector) nothing is known of a schedule deleted before
// it: its backups get no interval.
func (c *Collector) rememberIntervals(m *mapper) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, d := range m.intervals {
		if last, ok := c.intervals[name]; !ok || !m.observedAt.Before(last.observedAt) {
			c.intervals[name] = lastInterval{d: d, observedAt: m.observedAt}
		}
	}
	for name, last := range c.intervals {
		if _, ok := m.intervals[name]; !ok {
			m.intervals[name] = last.d
		}
	}
}

func (c *Collector) fromFile(ctx context.Context, observedAt time.Time) (*model.Catalog, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read velero backups: %w", err)
	}
	st, err := os.Stat(c.opts.File)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "read velero backups: %v", err)
	}
	if st.Size() > runx.DefaultMaxStdout {
		return nil, runx.Errorf(runx.KindLimit, "read velero backups: %s is larger than %s", c.opts.File, runx.FormatBytes(runx.DefaultMaxStdout))
	}
	data, err := os.ReadFile(c.opts.File)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "read velero backups: %v", err)
	}
	bs, err := parseBackupGet(data)
	if err != nil {
		return nil, runx.ParseError(fmt.Errorf("parse velero backups in %s: %w", c.opts.File, err))
	}
	return newMapper(c.src, c.opts, observedAt, nil, nil, nil).catalog(bs, nil), nil
}

func (c *Collector) fromProgram(ctx context.Context, observedAt time.Time) (*model.Catalog, error) {
	var env []string
	for _, name := range c.opts.ExtraEnv {
		if v, ok := os.LookupEnv(name); ok {
			env = append(env, name+"="+v)
		}
	}
	res, err := runx.Run(ctx, runx.Cmd{Path: c.opts.Binary, Args: []string{"backup", "get", "-o", "json", "-n", c.opts.Namespace}, Env: env})
	if err != nil {
		return nil, fmt.Errorf("read velero backup get: %w", err)
	}
	bs, err := parseBackupGet(res.Stdout)
	if err != nil {
		return nil, runx.ParseError(fmt.Errorf("parse velero backup get: %w", err))
	}
	return newMapper(c.src, c.opts, observedAt, nil, nil, nil).catalog(bs, nil), nil
}
