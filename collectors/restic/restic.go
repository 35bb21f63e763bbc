// Package restic collects the snapshots of a restic repository.
//
// Every collection runs `restic snapshots --json` and turns each snapshot
// into a backup record. Whole-repository figures (stored bytes,
// compression, deduplication) come from `restic stats --json --mode
// raw-data`, which walks every snapshot's trees; the logical size is the
// sum of the snapshots' summaries, or `restic stats --mode restore-size`
// when some snapshots predate restic 0.17 and have none. Those walks are
// what make naive restic exporters expensive, so they run only when the
// set of snapshot ids changed since the last run or when stats_interval
// (default 24h) has passed; otherwise the last figures are served again.
// A failed run marks the repository record unhealthy and is retried when
// the set changes or after an hour at most. The figures cover the
// snapshots the source selects (its host and tags filters).
//
// Each snapshot not seen before has the top two levels below its roots
// listed (`restic ls` with directory filters, contents.go), once: the
// entries join the roots in the backup's paths for the ephemeral-data
// check. The figures with their snapshot set and the listed contents are
// kept in a state file per source (state.go), so that a restart of the
// exporter costs an unchanged repository no more than any other
// collection.
//
// restic is run read-only: with --no-lock (no lock file is written to the
// repository, and read-only credentials suffice), with the repository and
// the password handed over in its environment (RESTIC_REPOSITORY,
// RESTIC_PASSWORD_FILE or RESTIC_PASSWORD) so that neither shows on a
// command line, and with a stable RESTIC_CACHE_DIR. restic's cache holds
// the snapshot, index and tree files it has read, so an unchanged
// repository costs a collection a key, the config and a listing of
// snapshots/: no pack data is read again after the first collection.
//
// The repository record is labelled with a short name (the last element
// of the location), never the location itself, and with the dataset its
// snapshots share, or none when they belong to several datasets. restic
// runs without reading locks, so whether a backup holds the repository is
// unknown.
//
// Snapshot tags follow the restic convention of "key=value": env=prod
// sets the environment when the source has none, release=v1.2 names the
// release the backup belongs to, and every tag (with the source's labels
// under it) is kept as a tag of the backup. The dataset is the source's
// fixed dataset, else the one dataset_from names (host, path for the
// first path, tag:KEY for a tag's value), else the snapshot's host.
// Snapshots written by restic 0.17 and later carry the summary of their
// backup, which gives each record its start and end, logical size, added
// (stored) size and file count; older snapshots have only their time.
package restic

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

const (
	// statsRetry bounds how long a failed stats run waits for its retry
	// while the snapshot set stays the same.
	statsRetry = time.Hour
	// statsReserve is the most time a stats run leaves of the collection's
	// deadline, so that a slow walk of a large repository times out on its
	// own and the fresh snapshot list is still delivered.
	statsReserve = 5 * time.Second
	// redacted replaces secrets in error messages.
	redacted = "[redacted]"
)

// Collector reads one restic repository. It is safe for concurrent use;
// collections of one source are serialised.
type Collector struct {
	src      *config.Source
	opts     *config.ResticOptions
	logger   *slog.Logger
	now      func() time.Time
	binary   string
	cacheDir string
	location string
	interval time.Duration
	// maxOutput bounds what one restic run may print; tests lower it.
	maxOutput int64

	// statePath is the file the figures and contents are kept in across
	// restarts, "" for none.
	statePath string

	mu sync.Mutex
	// attempt is the last stats run, good the last successful one.
	attempt, good *statsRun
	// contents are the entries below the roots of each snapshot listed so
	// far, by snapshot id; loaded tells whether the state file was read,
	// dirty whether it needs writing.
	contents      map[string][]string
	loaded, dirty bool
	// paths holds one copy of every path in contents.
	paths map[string]string
}

// statsRun is one refresh of the whole-repository figures.
type statsRun struct {
	key     string // snapshotSetKey of the set it was run for
	at      time.Time
	raw     stats
	logical int64 // 0 when unknown
	err     error
}

// New returns a collector for a restic source. now is the clock of record
// times and of the stats interval. stateDir is where the collector keeps
// what spares an unchanged repository a rescan after a restart (the
// whole-repository figures and the contents of the snapshots listed); ""
// keeps them in memory only.
func New(src *config.Source, logger *slog.Logger, now func() time.Time, stateDir string) (*Collector, error) {
	o := src.Restic
	if o == nil || o.Repository == "" {
		return nil, runx.Errorf(runx.KindConfig, "source %s: restic.repository is required", src.Name)
	}
	if o.PasswordFile == "" && o.PasswordEnv == "" {
		return nil, runx.Errorf(runx.KindConfig, "source %s: set restic.password_file or restic.password_env", src.Name)
	}
	if !validDatasetFrom(src.DatasetFrom) {
		return nil, runx.Errorf(runx.KindConfig, "source %s: dataset_from %q is not host, path or tag:KEY for a restic source", src.Name, src.DatasetFrom)
	}
	cacheDir := o.CacheDir
	if cacheDir == "" {
		// The user's cache directory is restic's own default, so a
		// cache that backups on this machine already filled is reused.
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, runx.Errorf(runx.KindConfig, "source %s: set restic.cache_dir: without a cache every collection re-reads the repository, and there is no user cache directory (%v)", src.Name, err)
		}
		cacheDir = filepath.Join(base, "restic")
	}
	interval := o.StatsInterval.D()
	if interval <= 0 {
		interval = config.DefaultResticStats.D()
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	c := &Collector{
		src:      src,
		opts:     o,
		logger:   logger,
		now:      now,
		binary:   cmp.Or(o.Binary, "restic"),
		cacheDir: cacheDir,
		location: location(o.Repository),
		interval: interval,
		contents: map[string][]string{},
		paths:    map[string]string{},

		maxOutput: runx.DefaultMaxStdout,
	}
	if stateDir != "" {
		c.statePath = statePath(stateDir, src.Name)
	}
	return c, nil
}

// Collect lists the repository's snapshots and reports them with the
// repository's figures.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.load()
	inv, err := c.invocation()
	if err != nil {
		return nil, err
	}
	res, err := inv.run(ctx, c.command("snapshots"))
	if err != nil {
		return nil, fmt.Errorf("list snapshots of %s: %w", c.location, err)
	}
	if line := cacheProblem(res.Stderr); line != "" {
		c.logger.Warn("restic runs without its cache, so every collection re-reads the repository", "cache_dir", c.cacheDir, "restic", inv.redact(line))
	}
	snaps, err := parseSnapshots(res.Stdout)
	if err != nil {
		return nil, runx.ParseError(fmt.Errorf("read the output of restic snapshots for %s: %w", c.location, err))
	}
	if err := c.refreshStats(ctx, inv, snaps); err != nil {
		return nil, err
	}
	// The contents are listed after the stats: the stats walk puts every
	// tree into restic's cache, and the listing reads only trees.
	if err := c.refreshContents(ctx, inv, snaps); err != nil {
		return nil, err
	}
	cat := &model.Catalog{Backups: make([]model.Backup, 0, len(snaps))}
	for _, s := range snaps {
		b := toBackup(c.src, c.location, s)
		b.Detail.Paths = append(b.Detail.Paths, c.contents[s.ID]...)
		cat.Backups = append(cat.Backups, b)
	}
	slices.SortStableFunc(cat.Backups, func(a, b model.Backup) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.ID, b.ID))
	})
	cat.Repositories = []model.Repository{c.repository(cat.Backups)}
	c.save(snaps)
	return cat, nil
}

// scope names what the saved figures are of: the repository and the
// snapshot filters.
func (c *Collector) scope() string {
	return c.location + "\x00" + c.opts.Host + "\x00" + strings.Join(c.opts.Tags, ",")
}

// load reads the state file once, at the first collection. A state that
// cannot be read or is of another scope is ignored: the collector then
// rescans once, as on its first start.
func (c *Collector) load() {
	if c.loaded || c.statePath == "" {
		return
	}
	c.loaded = true
	st, err := loadState(c.statePath)
	if err != nil {
		c.logger.Warn("collector state ignored", "err", err)
		return
	}
	if st == nil || st.Version != stateVersion || st.Scope != c.scope() {
		return
	}
	// Only a successful run is saved. A failure after it needs no record
	// of its own: it was for another snapshot set or after the interval
	// had passed, so the restarted collector runs the stats again anyway.
	if s := st.Stats; s != nil && s.Key != "" {
		run := &statsRun{key: s.Key, at: s.At, raw: s.Raw, logical: s.Logical}
		c.attempt, c.good = run, run
	}
	for id, entries := range st.Contents {
		c.contents[id] = c.intern(entries)
	}
}

// save forgets the contents of snapshots that are gone and writes the
// state file when something changed. A failed write is logged, not
// returned: the catalog is right, and the next restart merely rescans.
func (c *Collector) save(snaps []snapshot) {
	present := make(map[string]bool, len(snaps))
	for _, s := range snaps {
		present[s.ID] = true
	}
	forgot := false
	for id := range c.contents {
		if !present[id] {
			delete(c.contents, id)
			forgot = true
		}
	}
	if forgot {
		c.dirty = true
		c.paths = map[string]string{}
		for _, entries := range c.contents {
			c.intern(entries)
		}
	}
	if !c.dirty || c.statePath == "" {
		return
	}
	st := &savedState{Version: stateVersion, Scope: c.scope(), Contents: c.contents}
	if g := c.good; g != nil {
		st.Stats = &savedStats{Key: g.key, At: g.at, Raw: g.raw, Logical: g.logical}
	}
	if err := saveState(c.statePath, st); err != nil {
		c.logger.Warn("save collector state: the next restart rescans the repository", "err", err)
		return
	}
	c.dirty = false
}

// refreshStats runs restic stats when the snapshot set changed or the
// interval passed. A failure of restic stats is kept for the repository
// record rather than returned: the snapshot list is the fresher, more
// important fact. Only the end of ctx itself is returned.
func (c *Collector) refreshStats(ctx context.Context, inv *invocation, snaps []snapshot) error {
	key := snapshotSetKey(snaps)
	now := c.now()
	if !c.statsDue(key, now) {
		return nil
	}
	sctx, cancel := statsContext(ctx)
	defer cancel()
	run := &statsRun{key: key, at: now}
	run.raw, run.logical, run.err = c.stats(sctx, inv, snaps)
	if run.err != nil && ctx.Err() != nil {
		return run.err
	}
	c.attempt = run
	if run.err != nil {
		c.logger.Warn("repository stats failed", "location", c.location, "kind", runx.KindOf(run.err), "err", run.err)
		return nil
	}
	c.good = run
	c.dirty = true
	c.logger.Debug("repository stats refreshed", "location", c.location, "snapshots", len(snaps), "stored_bytes", run.raw.TotalSize)
	return nil
}

// statsDue reports whether the whole-repository figures must be read again
// for the snapshot set key at now.
func (c *Collector) statsDue(key string, now time.Time) bool {
	a := c.attempt
	if a == nil || a.key != key {
		return true
	}
	wait := c.interval
	if a.err != nil {
		wait = min(wait, statsRetry)
	}
	return now.Sub(a.at) >= wait
}

// stats runs restic stats in raw-data mode, and in restore-size mode too
// when the snapshots do not all carry the summary that gives their
// logical size. restore-size walks the same trees that raw-data has just
// put into the cache, so it reads no more from the repository.
func (c *Collector) stats(ctx context.Context, inv *invocation, snaps []snapshot) (stats, int64, error) {
	res, err := inv.run(ctx, c.command("stats", "--mode", "raw-data"))
	if err != nil {
		return stats{}, 0, fmt.Errorf("read stats of %s: %w", c.location, err)
	}
	raw, err := parseStats(res.Stdout)
	if err != nil {
		return stats{}, 0, runx.ParseError(fmt.Errorf("read the output of restic stats --mode raw-data for %s: %w", c.location, err))
	}
	if ok, logical := summariesComplete(snaps); ok {
		return raw, logical, nil
	}
	res, err = inv.run(ctx, c.command("stats", "--mode", "restore-size"))
	if err != nil {
		return stats{}, 0, fmt.Errorf("read restore size of %s: %w", c.location, err)
	}
	rs, err := parseStats(res.Stdout)
	if err != nil {
		return stats{}, 0, runx.ParseError(fmt.Errorf("read the output of restic stats --mode restore-size for %s: %w", c.location, err))
	}
	return raw, clampInt64(rs.TotalSize), nil
}

// repository builds the repository record from the last stats runs.
func (c *Collector) repository(backups []model.Backup) model.Repository {
	r := model.Repository{
		Source:       c.src.Name,
		Env:          cmp.Or(c.src.Env, commonEnv(backups)),
		Dataset:      commonDataset(backups),
		Name:         shortName(c.location),
		ObservedAt:   c.now().UTC(),
		Location:     c.location,
		StorageClass: c.opts.StorageClass,
		Region:       c.opts.Region,
		Healthy:      true,
		// restic runs with --no-lock and reads no lock: whether a
		// backup holds the repository is not known.
		LocksUnknown: true,
	}
	if g := c.good; g != nil {
		r.StoredBytes = clampInt64(g.raw.TotalSize)
		r.LogicalBytes = g.logical
		unique := g.raw.TotalSize
		if g.raw.TotalUncompressedSize > 0 {
			unique = g.raw.TotalUncompressedSize
			if g.raw.TotalSize > 0 {
				r.CompressionRatio = float64(g.raw.TotalUncompressedSize) / float64(g.raw.TotalSize)
			}
		}
		if g.logical > 0 && unique > 0 {
			r.DedupRatio = float64(g.logical) / float64(unique)
		}
	}
	if a := c.attempt; a != nil && a.err != nil {
		r.Healthy = false
		r.Status = a.err.Error()
	}
	return r
}

// commonDataset returns the dataset all backups agree on, or "". The
// repository's figures are of the whole repository: a repository shared by
// several datasets gets one series with an empty dataset rather than one
// per dataset, whose sum would count it several times.
func commonDataset(backups []model.Backup) string {
	if len(backups) == 0 {
		return ""
	}
	ds := backups[0].Dataset
	for _, b := range backups[1:] {
		if b.Dataset != ds {
			return ""
		}
	}
	return ds
}

// shortName names a repository in labels: the last element of its
// location ("/srv/restic/app" is "app", "s3:s3.amazonaws.com/bucket/app"
// is "app", "sftp:host:/srv/repo" is "repo"), never the path or URL, which
// docs/metrics.md keeps out of label values. The location has its
// credentials removed already.
func shortName(loc string) string {
	loc = strings.TrimRight(loc, "/:")
	if i := strings.Index(loc, "://"); i >= 0 {
		authority, p, _ := strings.Cut(loc[i+3:], "/")
		if p == "" {
			// A server's root ("rest:https://host:8000/") is named
			// by its host.
			authority = authority[strings.LastIndex(authority, "@")+1:]
			host, _, _ := strings.Cut(authority, ":")
			return cmp.Or(host, "restic")
		}
		loc = p
	}
	if i := strings.LastIndexAny(loc, "/:"); i >= 0 {
		loc = loc[i+1:]
	}
	return cmp.Or(loc, "restic")
}

// commonEnv returns the environment all backups agree on, or "".
func commonEnv(backups []model.Backup) string {
	if len(backups) == 0 {
		return ""
	}
	env := backups[0].Env
	for _, b := range backups[1:] {
		if b.Env != env {
			return ""
		}
	}
	return env
}

// command returns the arguments of a read-only restic subcommand with the
// source's snapshot filters. The subcommand comes first so that it names
// the operation in the exporter's call counts.
func (c *Collector) command(sub string, args ...string) []string {
	out := append([]string{sub, "--json", "--no-lock", "--quiet"}, args...)
	if c.opts.Host != "" {
		out = append(out, "--host", c.opts.Host)
	}
	if len(c.opts.Tags) > 0 {
		// One comma-separated list: a snapshot must carry all the tags.
		out = append(out, "--tag", strings.Join(c.opts.Tags, ","))
	}
	return out
}

// cacheProblem returns the line of restic's standard error that says it
// could not use its cache, or "". restic carries on without the cache, so
// the only sign of the extra repository reads is this warning.
func cacheProblem(stderr []byte) string {
	for line := range strings.Lines(string(stderr)) {
		if strings.Contains(line, "unable to open cache") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// statsContext bounds a stats run so that it ends before ctx does.
func statsContext(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	reserve := min(time.Until(deadline)/10, statsReserve)
	return context.WithDeadline(ctx, deadline.Add(-reserve))
}

// snapshotSetKey identifies a set of snapshots by their ids. Snapshots are
// immutable and prune only drops data no remaining snapshot needs, so the
// whole-repository figures change only when this key does (or when data is
// recompressed, which the stats interval catches).
func snapshotSetKey(snaps []snapshot) string {
	ids := make([]string, len(snaps))
	for i, s := range snaps {
		ids[i] = s.ID
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		h.Write([]byte(id))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// invocation is how restic is run for one collection: its environment and
// the secrets that must not appear in messages.
type invocation struct {
	binary    string
	env       []string
	secrets   []string
	maxOutput int64
}

// invocation assembles restic's environment. The password is read at
// every collection so that a rotated secret is picked up.
func (c *Collector) invocation() (*invocation, error) {
	inv := &invocation{binary: c.binary, maxOutput: c.maxOutput}
	for _, name := range c.opts.ExtraEnv {
		v, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		inv.env = append(inv.env, name+"="+v)
		if secretName(name) {
			inv.secrets = append(inv.secrets, v)
		}
	}
	// The settings below come after the passed-through variables, so that
	// the configuration wins over a stray RESTIC_* variable.
	inv.env = append(inv.env, "RESTIC_REPOSITORY="+c.opts.Repository, "RESTIC_CACHE_DIR="+c.cacheDir)
	if c.opts.PasswordFile != "" {
		inv.env = append(inv.env, "RESTIC_PASSWORD_FILE="+c.opts.PasswordFile)
	} else {
		pw, ok := os.LookupEnv(c.opts.PasswordEnv)
		if !ok || pw == "" {
			return nil, runx.Errorf(runx.KindConfig, "source %s: environment variable %s (restic.password_env) is not set", c.src.Name, c.opts.PasswordEnv)
		}
		inv.env = append(inv.env, "RESTIC_PASSWORD="+pw)
		inv.secrets = append(inv.secrets, pw)
	}
	if c.opts.Repository != c.location {
		inv.secrets = append(inv.secrets, c.opts.Repository)
		if pw := urlPassword(c.opts.Repository); pw != "" {
			inv.secrets = append(inv.secrets, pw)
		}
	}
	// Longer secrets first, so that one containing another is replaced
	// whole.
	slices.SortFunc(inv.secrets, func(a, b string) int { return len(b) - len(a) })
	return inv, nil
}

// run runs restic with args. Its errors keep their kind but have every
// secret replaced, because they end up in logs and metrics.
func (inv *invocation) run(ctx context.Context, args []string) (*runx.Result, error) {
	res, err := runx.Run(ctx, runx.Cmd{Path: inv.binary, Args: args, Env: inv.env, MaxStdout: inv.maxOutput})
	if err != nil {
		return nil, runx.Errorf(runx.KindOf(err), "%s", inv.redact(err.Error()))
	}
	return res, nil
}

func (inv *invocation) redact(msg string) string {
	for _, s := range inv.secrets {
		// Very short values would blank out ordinary words; restic never
		// prints a password, so this is a second line of defence only.
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}

// secretName reports whether an environment variable's name says it holds
// a secret (AWS_SECRET_ACCESS_KEY, B2_ACCOUNT_KEY, RESTIC_REST_PASSWORD).
func secretName(name string) bool {
	n := strings.ToUpper(name)
	for _, w := range []string{"KEY", "SECRET", "PASSWORD", "PASS", "TOKEN", "CREDENTIAL"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// location returns a repository location without credentials: the
// password in a URL's user info and the URL's query are dropped, so
// "rest:https://user:pw@host:8000/repo" becomes
// "rest:https://user@host:8000/repo".
func location(repo string) string {
	scheme := strings.Index(repo, "://")
	if scheme < 0 {
		return repo
	}
	rest := repo[scheme+3:]
	authority, path, hasPath := strings.Cut(rest, "/")
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		user, _, _ := strings.Cut(authority[:at], ":")
		authority = user + authority[at:]
	}
	out := repo[:scheme+3] + authority
	if hasPath {
		out += "/" + path
	}
	if q := strings.IndexByte(out, '?'); q >= 0 {
		out = out[:q]
	}
	return out
}

// urlPassword returns the password in a repository URL's user info.
func urlPassword(repo string) string {
	scheme := strings.Index(repo, "://")
	if scheme < 0 {
		return ""
	}
	authority, _, _ := strings.Cut(repo[scheme+3:], "/")
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return ""
	}
	_, pw, _ := strings.Cut(authority[:at], ":")
	return pw
}
