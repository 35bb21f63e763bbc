// Package metrics is the one place where Restorable's records become
// Prometheus metrics.
//
// Backup and repository metrics are derived from the latest catalog of
// every source (collected in the background, never during a scrape), probe
// metrics from the latest probe results and policy metrics from the
// configuration. The derived metrics are cached per state version, so a
// scrape only sends what was built when the state last changed; GatherVersion
// names that version, so that the /metrics route can also keep their
// encoded body.
package metrics

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/lockwatch"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// Namespace prefixes every metric name.
const Namespace = "restorable"

func name(subsystem, n string) string { return prometheus.BuildFQName(Namespace, subsystem, n) }

var (
	seriesLabels  = []string{"env", "source", "dataset"}
	typedLabels   = []string{"env", "source", "dataset", "backup_type"}
	repoLabels    = []string{"env", "source", "dataset", "repository"}
	probeLabels   = []string{"probe", "kind", "env", "dataset"}
	sourceLabels  = []string{"source", "type"}
	envLabels     = []string{"env"}
	countedLabels = []string{"env", "source", "dataset", "backup_type", "status"}
	findingLabels = []string{"check", "severity", "env", "source", "dataset"}
	releaseLabels = []string{"env", "dataset"}
	// releaseResultLabels count events by their result, one of the four
	// model.EventResults.
	releaseResultLabels = []string{"env", "dataset", "result"}
	requestLabels       = []string{"origin", "env", "source", "dataset", "resource", "operation"}
)

// RollbackWindows are the windows of restorable_release_recent_rollbacks,
// by their label value.
func RollbackWindows() []struct {
	Label string
	D     time.Duration
} {
	return []struct {
		Label string
		D     time.Duration
	}{{"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}
}

// descs are the descriptors of the derived metrics, built once.
type descs struct {
	lastSuccess, lastSize, lastStored, lastDuration             *prometheus.Desc
	lastAttempt, lastAttemptSuccess                             *prometheus.Desc
	backups, oldest, releases, encrypted, immutable, keyAllowed *prometheus.Desc

	repoStored, repoLogical, repoDedup, repoCompression, repoHealthy, repoLocked *prometheus.Desc

	// Facts of pgBackRest (and of any source that reports them).
	lastDelta, lastRestore                                                  *prometheus.Desc
	repoDatabase, repoRestoreLocked, repoProgress, repoRunDone, repoRunSize *prometheus.Desc

	rpo, rto, releasesRequired, encRequired, immRequired, restoreEvery, archiveAfter *prometheus.Desc

	probeSuccess, probeDuration, probeLastRun, probeLastSuccess, probeVerified, probeRPO *prometheus.Desc

	colSuccess, colDuration, colLastRun, colLastSuccess, colInterval, colFromHistory *prometheus.Desc

	gateOpen, gateOverride, finding, findings *prometheus.Desc

	lockHeld, lockSince, lockWatchSuccess, lockWatchLast                                                    *prometheus.Desc
	deployments, rollbacks, consecutive, recentRollbacks, lastRollback, deployToRollback, migrationRestored *prometheus.Desc
	requests, requestsCost, requestsPeriodEnd, requestsPeriod                                               *prometheus.Desc
	cost                                                                                                    *costDescs
}

func newDescs() *descs {
	d := func(sub, n, help string, labels []string) *prometheus.Desc {
		return prometheus.NewDesc(name(sub, n), help, labels, nil)
	}
	return &descs{
		lastSuccess:        d("backup", "last_success_timestamp_seconds", "End time of the newest successful backup of this type, from the source's catalog (collected in the background).", typedLabels),
		lastSize:           d("backup", "last_size_bytes", "Logical size of the newest successful backup of this type.", typedLabels),
		lastStored:         d("backup", "last_stored_bytes", "Stored size (after deduplication and compression) of the newest successful backup of this type.", typedLabels),
		lastDuration:       d("backup", "last_duration_seconds", "Duration of the newest successful backup of this type.", typedLabels),
		lastAttempt:        d("backup", "last_attempt_timestamp_seconds", "End time (start time while running) of the newest backup attempt of any status.", seriesLabels),
		lastAttemptSuccess: d("backup", "last_attempt_success", "1 if the newest finished backup attempt succeeded, 0 if it failed or was partial.", seriesLabels),
		backups:            d("", "backups", "Backups in the source's catalog, by type and status.", countedLabels),
		oldest:             d("backup", "oldest_timestamp_seconds", "End time of the oldest retained successful backup.", seriesLabels),
		releases:           d("backup", "releases_retained", "Distinct release labels among retained successful backups.", seriesLabels),
		encrypted:          d("backup", "last_encrypted", "1 if the newest successful backup is encrypted.", seriesLabels),
		immutable:          d("backup", "last_immutable", "1 if the newest successful backup is immutable (object lock, append-only, vault lock).", seriesLabels),
		keyAllowed:         d("backup", "last_key_allowed", "1 if the newest successful backup's KMS key is in the environment's allowlist (1 when the environment has none).", seriesLabels),

		repoStored:      d("repository", "stored_bytes", "Bytes the repository occupies on storage.", repoLabels),
		repoLogical:     d("repository", "logical_bytes", "Bytes of data the repository represents before deduplication and compression.", repoLabels),
		repoDedup:       d("repository", "dedup_ratio", "Deduplication ratio of the repository (logical / unique), as the source reports it.", repoLabels),
		repoCompression: d("repository", "compression_ratio", "Compression ratio of the repository (uncompressed / compressed), as the source reports it.", repoLabels),
		repoHealthy:     d("repository", "healthy", "1 if the source reports the repository as healthy.", repoLabels),
		repoLocked:      d("repository", "backup_locked", "1 while a backup holds the repository's lock.", repoLabels),

		lastDelta:         d("backup", "last_delta_bytes", "Bytes the newest successful backup of this type copied before compression: all of its data for a full, what changed for a diff or incr (pgBackRest info.delta).", typedLabels),
		lastRestore:       d("backup", "last_restore_bytes", "Bytes a restore of the newest successful backup of this type reads from its repository: the backup and every backup it references (pgBackRest info.repository.size).", typedLabels),
		repoDatabase:      d("repository", "database_info", "Version of the database the repository backs up now (PostgreSQL major version for pgBackRest); always 1.", append(slices.Clip(repoLabels), "database_version")),
		repoRestoreLocked: d("repository", "restore_locked", "1 while a restore holds the repository's lock; only for sources that report restore locks (pgBackRest 2.48 and later).", repoLabels),
		repoProgress:      d("repository", "backup_progress_ratio", "Completed fraction (0 to 1) of the backup running now; present only while one runs and the source reports its progress.", repoLabels),
		repoRunDone:       d("repository", "running_backup_copied_bytes", "Bytes the backup running now has copied; present only while one runs and the source reports it (pgBackRest 2.48 and later).", repoLabels),
		repoRunSize:       d("repository", "running_backup_size_bytes", "Bytes the backup running now will copy in all; present only while one runs and the source reports it (pgBackRest 2.48 and later).", repoLabels),

		rpo:              d("policy", "rpo_seconds", "Recovery point objective: the largest acceptable age of the last good backup.", envLabels),
		rto:              d("policy", "rto_seconds", "Recovery time objective: the longest a restore may take.", envLabels),
		releasesRequired: d("policy", "releases_required", "Distinct prior release states that must stay restorable.", envLabels),
		encRequired:      d("policy", "encryption_required", "1 if backups of the environment must be encrypted.", envLabels),
		immRequired:      d("policy", "immutability_required", "1 if backups of the environment must be immutable.", envLabels),
		restoreEvery:     d("policy", "restore_test_interval_seconds", "Longest acceptable time without a successful restore probe.", envLabels),
		archiveAfter:     d("policy", "archive_after_seconds", "Age after which backups should have left hot storage.", envLabels),

		probeSuccess:     d("restore_probe", "success", "1 if the last run of the restore probe succeeded.", probeLabels),
		probeDuration:    d("restore_probe", "duration_seconds", "Duration of the last run of the restore probe (measured RTO).", probeLabels),
		probeLastRun:     d("restore_probe", "last_run_timestamp_seconds", "Start time of the last run of the restore probe.", probeLabels),
		probeLastSuccess: d("restore_probe", "last_success_timestamp_seconds", "Start time of the last successful run of the restore probe.", probeLabels),
		probeVerified:    d("restore_probe", "verified_bytes", "Bytes the last run of the restore probe verified.", probeLabels),
		probeRPO:         d("restore_probe", "achieved_rpo_seconds", "Age of the restored data when the last run started (achieved RPO).", probeLabels),

		colSuccess:     d("collector", "success", "1 if the last collection of the source succeeded.", sourceLabels),
		colDuration:    d("collector", "duration_seconds", "Duration of the last collection of the source.", sourceLabels),
		colLastRun:     d("collector", "last_run_timestamp_seconds", "Start time of the last collection of the source.", sourceLabels),
		colLastSuccess: d("collector", "last_success_timestamp_seconds", "End time of the last successful collection of the source since the exporter started.", sourceLabels),
		colInterval:    d("collector", "interval_seconds", "Expected time between two collections of the source.", sourceLabels),
		colFromHistory: d("collector", "catalog_from_history", "1 while the source's catalog is the one read back from history after a restart.", sourceLabels),

		gateOpen:     d("deploy", "gate_open", "1 when the deploy gate of the environment allows a release, 0 when it denies; from the same policy evaluation as restorable_policy_finding and /api/v1/gate (renewed when the state changes and at least every 15s). Reads 1 while a break-glass override of the whole environment is in force.", envLabels),
		gateOverride: d("deploy", "gate_override_expiry_timestamp_seconds", "When the break-glass override of the deploy gate in force expires (dataset empty: the whole environment). Absent while none is in force.", []string{"env", "dataset"}),
		finding:      d("policy", "finding", "Open policy findings of a check for a dataset (or source, probe, repository of it), from the exporter's policy evaluation; usually 1, more when several releases, probes or repositories of the dataset breach the same check. Absent while nothing breaches.", findingLabels),
		findings:     d("policy", "findings", "Open policy findings by environment and severity.", []string{"env", "severity"}),

		lockHeld:          d("lock", "held", "1 while a restorable lock session holds the backup/migration lock of the key for the purpose, 0 while it does not; read from the coordination database every locks.interval. Absent while the holders cannot be read.", []string{"key", "purpose"}),
		lockSince:         d("lock", "held_since_timestamp_seconds", "When the session holding the backup/migration lock of the key was granted it. Absent while nobody holds it, the holders cannot be read, or the coordination database hides the holder's query_start from the exporter's role.", []string{"key", "purpose"}),
		lockWatchSuccess:  d("lock", "watch_success", "1 if the last read of the backup/migration lock holders from the coordination database succeeded, 0 if it failed (the restorable_lock_held series are then absent).", nil),
		lockWatchLast:     d("lock", "watch_last_success_timestamp_seconds", "Time of the last successful read of the backup/migration lock holders.", nil),
		deployments:       d("release", "deployments_total", "Deploy events received for the dataset, by result; derived from the events journal, which the exporter replays at start, so a restart does not reset it.", releaseResultLabels),
		rollbacks:         d("release", "rollbacks_total", "Rollback events received for the dataset, by result; derived from the events journal like restorable_release_deployments_total.", releaseResultLabels),
		consecutive:       d("release", "consecutive_rollbacks", "Successful rollbacks of the dataset since the last freeze_ack or the last deploy that stuck (checks.freeze.settle without a rollback); release.freeze fires at checks.freeze.rollbacks.", releaseLabels),
		recentRollbacks:   d("release", "recent_rollbacks", "Successful rollbacks of the dataset within the window (7d or 30d) before the evaluation.", append(slices.Clip(releaseLabels), "window")),
		lastRollback:      d("release", "last_rollback_timestamp_seconds", "Time of the newest successful rollback of the dataset.", releaseLabels),
		deployToRollback:  d("release", "last_deploy_to_rollback_seconds", "Time from the successful deploy to the newest successful rollback that undid it; absent when no deploy preceded that rollback.", releaseLabels),
		migrationRestored: d("release", "last_migration_rollback_restored", "1 if the newest successful rollback across a schema migration restored a backup (named one), 0 if it brought back only the code. Absent while no rollback crossed a migration.", releaseLabels),
		requests:          d("", "requests", "Requests against a store in the latest period its source reported, by operation: S3 request metrics from CloudWatch (origin cloudwatch; resource a bucket, or bucket/filter; operation the metric name), or a bill's request lines (origin bill; resource the bucket the line names, operation its usage type without region prefix); collected in the background. Absent when the source reported no count.", requestLabels),
		requestsCost:      d("requests", "cost", "Cost of the requests of restorable_requests: estimated from the price table for origin cloudwatch, billed for origin bill. Absent when nothing prices them (AllRequests mixes tiers).", append(slices.Clip(requestLabels), "currency")),
		requestsPeriodEnd: d("requests", "period_end_timestamp_seconds", "End of the period restorable_requests counts.", requestLabels),
		requestsPeriod:    d("requests", "period_seconds", "Length of the period restorable_requests counts.", requestLabels),
		cost:              newCostDescs(),
	}
}

// ProbeStatus is what the metrics need of one probe.
type ProbeStatus struct {
	Last        model.ProbeResult
	LastSuccess time.Time
}

// Sources provide the state the metrics derive from.
type Sources struct {
	Store *collectors.Store
	// Probes returns the status of every probe that ran; may be nil.
	Probes func() []ProbeStatus
	// Evaluation returns the newest policy evaluation, the configuration
	// it judged by and the break-glass gate overrides it was made with;
	// may be nil. The finding metrics, the gate gauge and the override
	// metric come from it, cached per evaluation, so a change of the
	// overrides must come with a new evaluation.
	Evaluation func() (*config.Config, *policy.Result, []policy.Override)
}

// Collector is the prometheus.Gatherer of everything derived from state.
// It gathers into ready-made metric families, cached per state version, so
// that a scrape of a large estate costs little more than encoding them.
type Collector struct {
	d   *descs
	src Sources
	cfg atomic.Pointer[config.Config]

	mu        sync.Mutex
	cachedFor cacheKey
	cached    []*dto.MetricFamily
	// evalFor and evalCached cache the metrics of the newest evaluation.
	evalFor    *policy.Result
	evalCached []*dto.MetricFamily
	// probesSeen are the probe results of the last gather; probesVersion
	// counts how often they differed from those before.
	probesSeen    []probeKey
	probesVersion uint64
	// billRequests are the request counts of each source's bill lines, for
	// the catalog they were derived from: a catalog changes only when its
	// source collects, the state version whenever any source does.
	billRequests map[string]billRequests
}

type billRequests struct {
	catalog *model.Catalog
	counts  []model.RequestCount
}

type cacheKey struct {
	store uint64
	cfg   *config.Config
}

// Version names the state derived metrics were built from: the store's
// version, the configuration, the policy evaluation and the probe results.
// Two gathers that return equal versions return equal metric families, so
// an encoding of the one serves for the other.
type Version struct {
	cacheKey
	eval   *policy.Result
	probes uint64
}

// probeKey is everything a probe's metrics are built from, so that equal
// keys mean equal probe metrics.
type probeKey struct {
	probe, kind, env, dataset string
	success                   bool
	values                    [5]float64
	hasLastSuccess, hasRPO    bool
}

var _ prometheus.Gatherer = (*Collector)(nil)

// NewCollector returns a gatherer over src; SetConfig must be called
// before the first scrape.
func NewCollector(src Sources) *Collector {
	return &Collector{d: newDescs(), src: src}
}

// SetConfig installs the configuration the policy metrics come from.
func (c *Collector) SetConfig(cfg *config.Config) { c.cfg.Store(cfg) }

// Gather returns the derived metric families.
func (c *Collector) Gather() ([]*dto.MetricFamily, error) {
	_, mfs, err := c.GatherVersion()
	return mfs, err
}

// GatherVersion returns the derived metric families and the version of the
// state they were built from, read at the same moment as the families: a
// version equal to an earlier one means the families are equal too.
func (c *Collector) GatherVersion() (Version, []*dto.MetricFamily, error) {
	cfg := c.cfg.Load()
	if cfg == nil {
		return Version{}, nil, nil
	}
	view := c.src.Store.View()
	c.mu.Lock()
	key := cacheKey{store: view.Version, cfg: cfg}
	if c.cached == nil || c.cachedFor != key {
		mfs, err := gatherMetrics(c.buildState(cfg, view))
		if err != nil {
			c.mu.Unlock()
			return Version{}, nil, err
		}
		c.cached, c.cachedFor = mfs, key
	}
	out := slices.Clone(c.cached)
	c.mu.Unlock()
	ver := Version{cacheKey: key}

	if c.src.Evaluation != nil {
		ecfg, res, overrides := c.src.Evaluation()
		c.mu.Lock()
		if c.evalFor != res {
			mfs, err := gatherMetrics(c.buildEvaluation(ecfg, res, overrides))
			if err != nil {
				c.mu.Unlock()
				return Version{}, nil, err
			}
			c.evalFor, c.evalCached = res, mfs
		}
		out = append(out, c.evalCached...)
		c.mu.Unlock()
		ver.eval = res
	}

	// Probe results change independently of catalogs and are small: build
	// them on each scrape, and count a new probe version whenever they
	// differ from the previous gather's.
	var live []prometheus.Metric
	var keys []probeKey
	if c.src.Probes != nil {
		live, keys = c.buildProbes(live, c.src.Probes())
	}
	c.mu.Lock()
	if !slices.Equal(keys, c.probesSeen) {
		c.probesSeen = keys
		c.probesVersion++
	}
	ver.probes = c.probesVersion
	c.mu.Unlock()
	if len(live) > 0 {
		mfs, err := gatherMetrics(live)
		if err != nil {
			return Version{}, nil, err
		}
		out = append(out, mfs...)
	}
	return ver, out, nil
}

// metricList turns ready metrics into a collector for a throwaway registry,
// which sorts and checks them into metric families.
type metricList []prometheus.Metric

func (metricList) Describe(chan<- *prometheus.Desc) {}
func (l metricList) Collect(ch chan<- prometheus.Metric) {
	for _, m := range l {
		ch <- m
	}
}

func gatherMetrics(ms []prometheus.Metric) ([]*dto.MetricFamily, error) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(metricList(ms)); err != nil {
		return nil, err
	}
	mfs, err := reg.Gather()
	internLabels(mfs)
	return mfs, err
}

// internLabels makes metrics share one label pair per name and value. A
// large estate repeats the same few envs, sources and datasets across tens
// of thousands of series: shared pairs take a fraction of the memory and
// stay in the CPU cache while a scrape encodes them.
func internLabels(mfs []*dto.MetricFamily) {
	type key struct{ name, value string }
	pairs := map[key]*dto.LabelPair{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			for i, lp := range m.Label {
				k := key{lp.GetName(), lp.GetValue()}
				if shared, ok := pairs[k]; ok {
					m.Label[i] = shared
				} else {
					pairs[k] = lp
				}
			}
		}
	}
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func ts(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (c *Collector) buildState(cfg *config.Config, view *collectors.View) []prometheus.Metric {
	var out []prometheus.Metric
	add := func(d *prometheus.Desc, v float64, labels ...string) { out = append(out, gauge(d, v, labels...)) }

	for _, env := range cfg.EnvNames() {
		e := cfg.Environments[env]
		add(c.d.rpo, e.RPO.D().Seconds(), env)
		if e.RTO > 0 {
			add(c.d.rto, e.RTO.D().Seconds(), env)
		}
		add(c.d.releasesRequired, float64(e.Retention.Releases), env)
		add(c.d.encRequired, b2f(e.Require.Encryption != config.EncryptionNone), env)
		add(c.d.immRequired, b2f(e.Require.Immutable), env)
		if e.RestoreTestEvery > 0 {
			add(c.d.restoreEvery, e.RestoreTestEvery.D().Seconds(), env)
		}
		add(c.d.archiveAfter, e.ArchiveAfter.D().Seconds(), env)
	}

	// A source gone from the view lets go of its catalog's counts.
	for source := range c.billRequests {
		if !slices.ContainsFunc(view.Sources, func(st *collectors.SourceState) bool { return st.Source == source }) {
			delete(c.billRequests, source)
		}
	}
	for _, st := range view.Sources {
		l := []string{st.Source, st.Type}
		if st.Tried {
			add(c.d.colSuccess, b2f(st.Success()), l...)
			add(c.d.colDuration, st.LastDuration.Seconds(), l...)
			add(c.d.colLastRun, ts(st.LastRun), l...)
		}
		if !st.LastSuccess.IsZero() {
			add(c.d.colLastSuccess, ts(st.LastSuccess), l...)
		}
		if st.Interval > 0 {
			add(c.d.colInterval, st.Interval.Seconds(), l...)
		}
		add(c.d.colFromHistory, b2f(st.FromHistory), l...)
		if st.Catalog == nil {
			continue
		}
		for _, s := range model.Summarize(st.Catalog.Backups) {
			out = c.appendSeries(out, cfg, s)
		}
		for i := range st.Catalog.Repositories {
			r := &st.Catalog.Repositories[i]
			rl := []string{r.Env, r.Source, r.Dataset, r.Name}
			if r.StoredBytes > 0 {
				add(c.d.repoStored, float64(r.StoredBytes), rl...)
			}
			if r.LogicalBytes > 0 {
				add(c.d.repoLogical, float64(r.LogicalBytes), rl...)
			}
			if r.DedupRatio > 0 {
				add(c.d.repoDedup, r.DedupRatio, rl...)
			}
			if r.CompressionRatio > 0 {
				add(c.d.repoCompression, r.CompressionRatio, rl...)
			}
			add(c.d.repoHealthy, b2f(r.Healthy), rl...)
			if !r.LocksUnknown {
				add(c.d.repoLocked, b2f(r.BackupLocked), rl...)
			}
			out = c.appendRepositoryFacts(out, r, rl)
		}
		out = c.appendCosts(out, st.Source, st.Catalog.CostLines)
		out = c.appendBillRows(out, st.Source, st.Catalog.BillRows)
		out = c.appendRequests(out, st.Catalog.Requests)
		out = c.appendRequests(out, c.billRequestsOf(st.Source, st.Catalog))
	}
	return out
}

// billRequestsOf returns billing.RequestCounts of a catalog's cost lines,
// derived again only when the source's catalog is another one. The
// caller holds c.mu.
func (c *Collector) billRequestsOf(source string, cat *model.Catalog) []model.RequestCount {
	if m, ok := c.billRequests[source]; ok && m.catalog == cat {
		return m.counts
	}
	if c.billRequests == nil {
		c.billRequests = map[string]billRequests{}
	}
	counts := billing.RequestCounts(cat.CostLines)
	c.billRequests[source] = billRequests{catalog: cat, counts: counts}
	return counts
}

// appendRequests adds the request counts of the latest period of each
// resource and operation a source reported.
func (c *Collector) appendRequests(out []prometheus.Metric, counts []model.RequestCount) []prometheus.Metric {
	type key struct{ origin, env, source, dataset, resource, operation string }
	latest := map[key]*model.RequestCount{}
	for i := range counts {
		r := &counts[i]
		k := key{r.Origin, r.Env, r.Source, r.Dataset, r.Resource, r.Operation}
		if prev, ok := latest[k]; !ok || r.PeriodEnd.After(prev.PeriodEnd) {
			latest[k] = r
		}
	}
	for k, r := range latest {
		l := []string{k.origin, k.env, k.source, k.dataset, k.resource, k.operation}
		out = append(out, gauge(c.d.requests, r.Count, l...))
		out = append(out, gauge(c.d.requestsPeriodEnd, ts(r.PeriodEnd), l...))
		if d := r.PeriodEnd.Sub(r.PeriodStart); d > 0 {
			out = append(out, gauge(c.d.requestsPeriod, d.Seconds(), l...))
		}
		if r.CostKnown {
			out = append(out, gauge(c.d.requestsCost, r.Cost, append(l, r.Currency)...))
		}
	}
	return out
}

func (c *Collector) appendSeries(out []prometheus.Metric, cfg *config.Config, s *model.Series) []prometheus.Metric {
	l := []string{s.Key.Env, s.Key.Source, s.Key.Dataset}
	add := func(d *prometheus.Desc, v float64, labels ...string) { out = append(out, gauge(d, v, labels...)) }
	for _, t := range model.BackupTypes {
		b := s.LastGoodByType[t]
		if b == nil {
			continue
		}
		tl := append(slices.Clip(l), string(t))
		if !b.End.IsZero() {
			add(c.d.lastSuccess, ts(b.End), tl...)
		}
		if b.LogicalBytes > 0 {
			add(c.d.lastSize, float64(b.LogicalBytes), tl...)
		}
		if b.StoredBytes > 0 {
			add(c.d.lastStored, float64(b.StoredBytes), tl...)
		}
		// A catalog that records one time only (restic before 0.17) gives
		// a start equal to the end: the duration is unknown, not 0.
		if !b.Start.IsZero() && b.End.After(b.Start) {
			add(c.d.lastDuration, b.End.Sub(b.Start).Seconds(), tl...)
		}
		if d := b.Details(); d.DeltaBytes > 0 {
			add(c.d.lastDelta, float64(d.DeltaBytes), tl...)
		}
		if d := b.Details(); d.RestoreBytes > 0 {
			add(c.d.lastRestore, float64(d.RestoreBytes), tl...)
		}
	}
	for k, n := range s.Counts {
		add(c.d.backups, float64(n), s.Key.Env, s.Key.Source, s.Key.Dataset, string(k.Type), string(k.Status))
	}
	if s.LastAttempt != nil && !model.AttemptTime(s.LastAttempt).IsZero() {
		add(c.d.lastAttempt, ts(model.AttemptTime(s.LastAttempt)), l...)
	}
	if s.LastFinished != nil {
		add(c.d.lastAttemptSuccess, b2f(s.LastFinished.Good()), l...)
	}
	if s.LastGood != nil {
		if !s.OldestGood.End.IsZero() {
			add(c.d.oldest, ts(s.OldestGood.End), l...)
		}
		// A dataset whose backups carry no release label does not track
		// releases: its count is unknown, not 0.
		if len(s.Releases) > 0 {
			add(c.d.releases, float64(len(s.Releases)), l...)
		}
		add(c.d.encrypted, b2f(s.LastGood.Encrypted), l...)
		add(c.d.immutable, b2f(s.LastGood.Immutable), l...)
		allowed, known := true, true
		if e := cfg.Environments[s.Key.Env]; e != nil && len(e.Require.KMSKeys) > 0 {
			// Without the backup's key there is nothing to compare with
			// the allowlist; the encryption check reports the gap.
			known = s.LastGood.KeyID != ""
			allowed = slices.Contains(e.Require.KMSKeys, s.LastGood.KeyID)
		}
		if known {
			add(c.d.keyAllowed, b2f(allowed), l...)
		}
	}
	return out
}

// appendRepositoryFacts adds what a source reports of a repository beyond
// its size and health, each only when the source reports it, so that a
// missing fact is an absent series and never a false 0.
func (c *Collector) appendRepositoryFacts(out []prometheus.Metric, r *model.Repository, rl []string) []prometheus.Metric {
	if r.DatabaseVersion != "" {
		out = append(out, gauge(c.d.repoDatabase, 1, append(slices.Clip(rl), r.DatabaseVersion)...))
	}
	if r.RestoreLockKnown {
		out = append(out, gauge(c.d.repoRestoreLocked, b2f(r.RestoreLocked), rl...))
	}
	if r.BackupLocked && r.BackupProgressKnown {
		out = append(out, gauge(c.d.repoProgress, r.BackupProgress, rl...))
		if r.BackupBytesTotal > 0 {
			out = append(out, gauge(c.d.repoRunDone, float64(r.BackupBytesDone), rl...))
			out = append(out, gauge(c.d.repoRunSize, float64(r.BackupBytesTotal), rl...))
		}
	}
	return out
}

// buildEvaluation turns one policy evaluation into the finding metrics and
// the gate gauge, so that they always describe the same evaluation.
func (c *Collector) buildEvaluation(cfg *config.Config, res *policy.Result, overrides []policy.Override) []prometheus.Metric {
	var out []prometheus.Metric
	type key struct{ check, severity, env, source, dataset string }
	counts := map[key]int{}
	perEnv := map[[2]string]int{}
	for _, env := range cfg.EnvNames() {
		for _, sev := range policy.Severities() {
			perEnv[[2]string{env, sev.String()}] = 0
		}
	}
	for i := range res.Findings {
		f := &res.Findings[i]
		counts[key{f.Check, f.Severity.String(), f.Env, f.Subject.Source, f.Subject.Dataset}]++
		perEnv[[2]string{f.Env, f.Severity.String()}]++
	}
	for k, n := range counts {
		out = append(out, gauge(c.d.finding, float64(n), k.check, k.severity, k.env, k.source, k.dataset))
	}
	for k, n := range perEnv {
		out = append(out, gauge(c.d.findings, float64(n), k[0], k[1]))
	}
	for env, open := range policy.GateOpenWith(cfg, res, overrides, res.At) {
		out = append(out, gauge(c.d.gateOpen, b2f(open), env))
	}
	for i := range overrides {
		o := &overrides[i]
		if _, known := cfg.Environments[o.Env]; known && o.Active(res.At) {
			out = append(out, gauge(c.d.gateOverride, float64(o.ExpiresAt.Unix()), o.Env, o.Dataset))
		}
	}
	out = c.appendReleases(out, res)
	return c.buildLocks(out, cfg, res.Locks)
}

// buildLocks derives the lock metrics from the lock state the evaluation
// judged, so that they and a migration's gate answer agree. Unknown is
// absent: while the holders cannot be read, only the watch metrics are.
func (c *Collector) buildLocks(out []prometheus.Metric, cfg *config.Config, locks *policy.LockState) []prometheus.Metric {
	if cfg.Locks == nil || locks == nil {
		return out
	}
	out = append(out, gauge(c.d.lockWatchSuccess, b2f(locks.Known)))
	if !locks.ObservedAt.IsZero() {
		out = append(out, gauge(c.d.lockWatchLast, ts(locks.ObservedAt)))
	}
	if !locks.Known {
		return out
	}
	type key struct{ key, purpose string }
	since := map[key]time.Time{}
	held := map[key]bool{}
	for _, h := range locks.Holders {
		k := key{h.Key, h.Purpose}
		held[k] = true
		if s, ok := since[k]; !h.Since.IsZero() && (!ok || h.Since.Before(s)) {
			since[k] = h.Since
		}
	}
	for _, lk := range cfg.Locks.Keys {
		for _, p := range lockwatch.Purposes {
			k := key{lk.Name, p}
			out = append(out, gauge(c.d.lockHeld, b2f(held[k]), lk.Name, p))
			if s, ok := since[k]; ok {
				out = append(out, gauge(c.d.lockSince, ts(s), lk.Name, p))
			}
		}
	}
	return out
}

// appendReleases derives the release metrics from the evaluation's reading
// of the events (policy.Tracks), so that they describe the same events as
// the release findings.
func (c *Collector) appendReleases(out []prometheus.Metric, res *policy.Result) []prometheus.Metric {
	for i := range res.Tracks {
		t := &res.Tracks[i]
		l := []string{t.Key.Env, t.Key.Dataset}
		deploys, rollbacks := map[model.EventResult]int{}, map[model.EventResult]int{}
		recent := make([]int, len(RollbackWindows()))
		for j := range t.Events {
			ev := &t.Events[j]
			switch ev.Kind {
			case model.EventDeploy:
				deploys[ev.Result]++
			case model.EventRollback:
				rollbacks[ev.Result]++
				if ev.Result != model.ResultSucceeded || ev.Time.After(res.At) {
					continue
				}
				for w, win := range RollbackWindows() {
					if res.At.Sub(ev.Time) < win.D {
						recent[w]++
					}
				}
			}
		}
		for _, r := range model.EventResults {
			if n, ok := deploys[r]; ok {
				out = append(out, prometheus.MustNewConstMetric(c.d.deployments, prometheus.CounterValue, float64(n), t.Key.Env, t.Key.Dataset, string(r)))
			}
			if n, ok := rollbacks[r]; ok {
				out = append(out, prometheus.MustNewConstMetric(c.d.rollbacks, prometheus.CounterValue, float64(n), t.Key.Env, t.Key.Dataset, string(r)))
			}
		}
		out = append(out, gauge(c.d.consecutive, float64(t.Consecutive), l...))
		for w, win := range RollbackWindows() {
			out = append(out, gauge(c.d.recentRollbacks, float64(recent[w]), t.Key.Env, t.Key.Dataset, win.Label))
		}
		if t.LastRollback != nil {
			out = append(out, gauge(c.d.lastRollback, ts(t.LastRollback.Time), l...))
			if t.DeployToRollback > 0 {
				out = append(out, gauge(c.d.deployToRollback, t.DeployToRollback.Seconds(), l...))
			}
		}
		if m := t.LastMigrationRollback; m != nil {
			out = append(out, gauge(c.d.migrationRestored, b2f(m.BackupID != ""), l...))
		}
	}
	return out
}

func (c *Collector) buildProbes(out []prometheus.Metric, probes []ProbeStatus) ([]prometheus.Metric, []probeKey) {
	keys := make([]probeKey, 0, len(probes))
	for _, p := range probes {
		r := &p.Last
		k := probeKey{probe: r.Probe, kind: r.Kind, env: r.Env, dataset: r.Dataset, success: r.Success,
			values:         [5]float64{r.Duration.Seconds(), ts(r.Start), ts(p.LastSuccess), float64(r.BytesVerified), r.AchievedRPO().Seconds()},
			hasLastSuccess: !p.LastSuccess.IsZero(), hasRPO: r.AchievedRPO() > 0}
		keys = append(keys, k)
		l := []string{r.Probe, r.Kind, r.Env, r.Dataset}
		out = append(out, gauge(c.d.probeSuccess, b2f(k.success), l...))
		// Unknown is absent: a run without a measured duration or start,
		// and a kind that counts no bytes (a database comparison), leave
		// those series out. The key holds the values, so a change of
		// presence is a change of key.
		if k.values[0] > 0 {
			out = append(out, gauge(c.d.probeDuration, k.values[0], l...))
		}
		if !r.Start.IsZero() {
			out = append(out, gauge(c.d.probeLastRun, k.values[1], l...))
		}
		if k.hasLastSuccess {
			out = append(out, gauge(c.d.probeLastSuccess, k.values[2], l...))
		}
		if k.values[3] > 0 {
			out = append(out, gauge(c.d.probeVerified, k.values[3], l...))
		}
		if k.hasRPO {
			out = append(out, gauge(c.d.probeRPO, k.values[4], l...))
		}
	}
	return out, keys
}
