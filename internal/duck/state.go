package duck

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// backupColumns are the columns a model.Backup is read from, in the order
// scanBackup expects them.
const backupColumns = `source, env, dataset, id, type, release, parent, start_time, end_time, status, error,
	logical_bytes, stored_bytes, file_count, location, storage_class, region, encrypted, key_id, immutable,
	retain_until, checksum, agent, agent_version, classification, tags, paths, lsn_start, lsn_stop, wal_start, wal_stop,
	expected_interval_seconds`

// policyBackupColumns are backupColumns with NULL in place of the columns
// internal/policy never reads (parent, logical_bytes, file_count, location,
// checksum, tags, lsn_start, lsn_stop): each value costs a conversion in
// the driver, and tags a JSON decoding.
const policyBackupColumns = `source, env, dataset, id, type, release, NULL, start_time, end_time, status, error,
	NULL, stored_bytes, NULL, NULL, storage_class, region, encrypted, key_id, immutable,
	retain_until, NULL, agent, agent_version, classification, NULL, paths, NULL, NULL, wal_start, wal_stop,
	expected_interval_seconds`

// BuildState builds the table state: every backup the catalogs retained at
// at, in the version collected last before it. A backup is retained when
// its latest row collected at or before at is not a removal. A backup is
// identified by source, dataset and id: pgBackRest labels repeat across
// the stanzas of one source.
//
// For each source with a checkpoint (docs/history.md) it reads the
// newest checkpoint at or before at and the rows collected since, a day's
// worth or so. Sources without one, as in histories written before
// checkpoints existed, are read in full (stateInFull).
func (d *DB) BuildState(ctx context.Context, at time.Time) error {
	fail := func(err error) error {
		return fmt.Errorf("read the state at %s: %w", at.UTC().Format(time.RFC3339), err)
	}
	cps, err := d.checkpoints(ctx, tableBackupCheckpoints, at)
	if err != nil {
		return fail(err)
	}
	if cps.empty() {
		if err := d.stateInFull(ctx, "CREATE OR REPLACE TABLE state AS", "true", at); err != nil {
			return fail(err)
		}
		return nil
	}
	recent, err := d.days(TableBackups, cps.firstDay(), dayOf(at))
	if err != nil {
		return fail(err)
	}
	q := `CREATE OR REPLACE TABLE state AS
WITH cp(source, checkpoint_at) AS (` + cps.values() + `),
versions AS (
	SELECT ` + backupColumns + `, collected_at, false AS removed
	FROM (SELECT * FROM ` + cps.from() + `) AS c
	SEMI JOIN cp ON c.source = cp.source AND c.checkpoint_at = cp.checkpoint_at
	UNION ALL
	SELECT ` + backupColumns + `, collected_at, removed
	FROM (SELECT * FROM ` + recent + ` WHERE ` + cps.since() + ` AND dt <= $2 AND collected_at <= $1) AS b
	SEMI JOIN cp ON b.source = cp.source AND b.collected_at >= cp.checkpoint_at
)
SELECT * EXCLUDE (removed) FROM (
	SELECT * FROM versions
	QUALIFY row_number() OVER (PARTITION BY source, dataset, id ORDER BY collected_at DESC, removed DESC) = 1
) WHERE NOT removed`
	if err := d.Exec(ctx, q, at.UTC(), dayOf(at)); err != nil {
		return fail(err)
	}
	rest, err := d.uncovered(ctx, cps, at)
	if err != nil {
		return fail(err)
	}
	if len(rest) > 0 {
		if err := d.stateInFull(ctx, "INSERT INTO state", "source IN "+inList(rest), at); err != nil {
			return fail(err)
		}
	}
	return nil
}

// stateInFull writes the state at at of the sources that match the
// predicate where from every row up to at, with the statement verb (a
// CREATE or an INSERT).
//
// It works in two passes. The first finds the surviving rows on narrow
// columns: a row survives when no removal of its backup was collected
// between it and at (a hash anti-join against the removal rows), and the
// newest survivor of each backup is its state. This join covers every
// backup the history ever saw, which checkpoints avoid. The second pass
// reads the survivors' whole rows from the partitions that hold them only:
// retention keeps recent backups and a few old ones, so those are few.
func (d *DB) stateInFull(ctx context.Context, verb, where string, at time.Time) error {
	keys := `CREATE OR REPLACE TABLE state_keys AS
SELECT v.source, v.dataset, v.id, v.collected_at, v.dt
FROM (SELECT source, dataset, id, collected_at, dt FROM backups WHERE collected_at <= $1 AND dt <= $2 AND NOT removed AND ` + where + `) AS v
ANTI JOIN (SELECT source, dataset, id, collected_at FROM backups WHERE collected_at <= $1 AND dt <= $2 AND removed AND ` + where + `) AS r
	ON r.source = v.source AND r.dataset = v.dataset AND r.id = v.id AND r.collected_at >= v.collected_at
QUALIFY row_number() OVER (PARTITION BY v.source, v.dataset, v.id ORDER BY v.collected_at DESC) = 1`
	if err := d.Exec(ctx, keys, at.UTC(), dayOf(at)); err != nil {
		return err
	}
	partitions, err := d.partitions(ctx, `SELECT DISTINCT dt FROM state_keys`)
	if err != nil {
		return err
	}
	state := verb + `
SELECT ` + backupColumns + `, b.collected_at
FROM (SELECT * FROM backups WHERE ` + partitions + ` AND NOT removed AND collected_at <= $1) AS b
SEMI JOIN state_keys k ON b.source = k.source AND b.dataset = k.dataset AND b.id = k.id AND b.collected_at = k.collected_at
QUALIFY row_number() OVER (PARTITION BY b.source, b.dataset, b.id) = 1`
	if err := d.Exec(ctx, state, at.UTC()); err != nil {
		return err
	}
	return d.Exec(ctx, `DROP TABLE state_keys`)
}

// partitions runs a query that returns partition days (dt) and returns a
// predicate that keeps those partitions only. The days are constants, so
// DuckDB skips the files of every other partition; with no day, the
// predicate is false.
func (d *DB) partitions(ctx context.Context, query string, args ...any) (string, error) {
	rows, err := d.Query(ctx, `SELECT DISTINCT strftime(dt, '%Y-%m-%d') FROM (`+query+`) WHERE dt IS NOT NULL ORDER BY 1`, args...)
	if err != nil {
		return "", err
	}
	var days []string
	for rows.Next() {
		var day string
		if err := rows.Scan(&day); err != nil {
			rows.Close()
			return "", err
		}
		days = append(days, "DATE "+quote(day))
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return "", err
	}
	if len(days) == 0 {
		return "false", nil
	}
	return "dt IN (" + strings.Join(days, ", ") + ")", nil
}

// EachSeries calls fn with the retained backups of each series of the
// state table (BuildState), one whole series at a time, series in order.
// The slice is fn's to keep.
func (d *DB) EachSeries(ctx context.Context, fn func([]model.Backup) error) error {
	return d.eachSeries(ctx, backupColumns, fn)
}

// EachSeriesForPolicy is EachSeries for internal/policy's evaluator: it
// leaves the fields the evaluator never reads (Parent, LogicalBytes,
// FileCount, Location, Checksum, Tags, LSNStart, LSNStop) empty, which
// makes reading a large state markedly cheaper.
func (d *DB) EachSeriesForPolicy(ctx context.Context, fn func([]model.Backup) error) error {
	return d.eachSeries(ctx, policyBackupColumns, fn)
}

func (d *DB) eachSeries(ctx context.Context, columns string, fn func([]model.Backup) error) error {
	var batch []model.Backup
	err := d.eachBackup(ctx, `SELECT `+columns+` FROM state ORDER BY env, source, dataset, end_time, id`, nil, func(b model.Backup) error {
		if len(batch) > 0 && batch[0].Series() != b.Series() {
			if err := fn(batch); err != nil {
				return err
			}
			batch = nil
		}
		batch = append(batch, b)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read retained backups: %w", err)
	}
	if len(batch) > 0 {
		return fn(batch)
	}
	return nil
}

// eachBackup runs a query that selects backupColumns and calls fn with
// each row. It reads rows from the driver directly: database/sql's
// conversions would double the cost of reading a large state.
func (d *DB) eachBackup(ctx context.Context, query string, args []driver.NamedValue, fn func(model.Backup) error) error {
	return d.conn.Raw(func(c any) error {
		q, ok := c.(driver.QueryerContext)
		if !ok {
			return errors.New("duckdb connection cannot query")
		}
		rows, err := q.QueryContext(ctx, query, args)
		if err != nil {
			return err
		}
		defer rows.Close()
		vals := make([]driver.Value, len(rows.Columns()))
		for {
			err := rows.Next(vals)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			b, err := backupOf(vals)
			if err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
		}
	})
}

// Attempts returns the backups attempted within (from, at], in their
// newest version collected by at, that failed or half-failed, including
// those no catalog retains any more.
func (d *DB) Attempts(ctx context.Context, from, at time.Time) ([]model.Backup, error) {
	window, err := d.days(TableBackups, dayOf(from), dayOf(at))
	if err != nil {
		return nil, fmt.Errorf("read failed backups: %w", err)
	}
	q := `SELECT ` + backupColumns + ` FROM (
	SELECT * FROM ` + window + `
	WHERE NOT removed AND collected_at <= $1 AND dt >= $3 AND dt <= $4
		AND coalesce(end_time, start_time) > $2 AND coalesce(end_time, start_time) <= $1
	QUALIFY row_number() OVER (PARTITION BY source, dataset, id ORDER BY collected_at DESC) = 1
) WHERE status IN ('failed', 'partial')
ORDER BY env, source, dataset, end_time, id`
	var out []model.Backup
	err = d.eachBackup(ctx, q, namedArgs(at.UTC(), from.UTC(), dayOf(from), dayOf(at)), func(b model.Backup) error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read failed backups: %w", err)
	}
	return out, nil
}

func namedArgs(args ...any) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

// SeriesHistory is what the whole history knows of each series up to a
// moment: when each release first appeared, when the first good backup
// ended, and when the series last changed.
type SeriesHistory struct {
	Sightings []policy.ReleaseSighting
	// FirstGood is the end of each series' first successful backup.
	FirstGood map[model.SeriesKey]time.Time
	// LastSeen is when a row of each series was last collected.
	LastSeen map[model.SeriesKey]time.Time
}

// SeriesHistory reads the series history up to at. It reads no backup
// ids, the most expensive column to scan: the sightings' evidence names
// its backups by source and time, and FillEvidenceIDs completes the few
// that end up in findings.
func (d *DB) SeriesHistory(ctx context.Context, at time.Time) (*SeriesHistory, error) {
	fail := func(err error) error { return fmt.Errorf("read series history: %w", err) }
	cps, err := d.checkpoints(ctx, tableSeriesCheckpoints, at)
	if err != nil {
		return nil, fail(err)
	}
	rest := "true"
	var parts []string
	if !cps.empty() {
		recent, err := d.days(TableBackups, cps.firstDay(), dayOf(at))
		if err != nil {
			return nil, fail(err)
		}
		list, err := d.uncovered(ctx, cps, at)
		if err != nil {
			return nil, fail(err)
		}
		rest = "false"
		if len(list) > 0 {
			rest = "source IN " + inList(list)
		}
		parts = append(parts, `SELECT env, source, dataset, coalesce(release, ''), first_seen, first_good, last_collected_at
	FROM (SELECT * FROM `+cps.from()+`) AS c
	SEMI JOIN cp ON c.source = cp.source AND c.checkpoint_at = cp.checkpoint_at`,
			seriesAggregate(`(SELECT * FROM `+recent+` WHERE `+cps.since()+` AND dt <= $2 AND collected_at <= $1) AS b
	SEMI JOIN cp ON b.source = cp.source AND b.collected_at >= cp.checkpoint_at`))
	}
	if rest != "false" {
		parts = append(parts, seriesAggregate(`backups WHERE collected_at <= $1 AND dt <= $2 AND `+rest))
	}
	q := `SELECT env, source, dataset, release, min(first_seen), min(first_good), max(last_seen)
FROM (` + strings.Join(parts, "\nUNION ALL\n") + `) AS p(env, source, dataset, release, first_seen, first_good, last_seen)
GROUP BY ALL`
	if !cps.empty() {
		q = `WITH cp(source, checkpoint_at) AS (` + cps.values() + `)
` + q
	}
	rows, err := d.Query(ctx, q, at.UTC(), dayOf(at))
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	h := &SeriesHistory{FirstGood: map[model.SeriesKey]time.Time{}, LastSeen: map[model.SeriesKey]time.Time{}}
	for rows.Next() {
		var (
			k                  model.SeriesKey
			release            string
			firstSeen, goodEnd sql.NullTime
			lastSeen           time.Time
		)
		if err := rows.Scan(&k.Env, &k.Source, &k.Dataset, &release, &firstSeen, &goodEnd, &lastSeen); err != nil {
			return nil, fmt.Errorf("read series history: %w", err)
		}
		if lastSeen.After(h.LastSeen[k]) {
			h.LastSeen[k] = lastSeen.UTC()
		}
		if goodEnd.Valid {
			if prev, ok := h.FirstGood[k]; !ok || goodEnd.Time.Before(prev) {
				h.FirstGood[k] = goodEnd.Time.UTC()
			}
		}
		if release == "" || !firstSeen.Valid {
			continue
		}
		s := policy.ReleaseSighting{
			Series: k, Release: release, FirstSeen: firstSeen.Time.UTC(),
			First: policy.Evidence{Kind: "backup", Source: k.Source, Release: release, Time: firstSeen.Time.UTC(), Note: "first backup labelled " + release},
		}
		if goodEnd.Valid {
			s.FirstGood = policy.Evidence{Kind: "backup", Source: k.Source, Release: release, Time: goodEnd.Time.UTC(), Note: "first successful backup of " + release}
		}
		h.Sightings = append(h.Sightings, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read series history: %w", err)
	}
	return h, nil
}

// seriesAggregate is what series_checkpoints summarises, over the backups
// rows of from.
func seriesAggregate(from string) string {
	return `SELECT env, source, dataset, coalesce(release, ''),
	min(coalesce(start_time, end_time)) FILTER (WHERE NOT removed),
	min(end_time) FILTER (WHERE NOT removed AND status = 'succeeded'),
	max(collected_at)
	FROM ` + from + `
	GROUP BY ALL`
}

// FillEvidenceIDs completes backup evidence that names its backup by
// source, release and time only (as SeriesHistory's sightings do): the
// first backup of that source, dataset and release that started or ended
// at that time.
func (d *DB) FillEvidenceIDs(ctx context.Context, fs []policy.Finding) error {
	for i := range fs {
		f := &fs[i]
		for j := range f.Evidence {
			e := &f.Evidence[j]
			if e.Kind != "backup" || e.ID != "" || e.Time.IsZero() {
				continue
			}
			q := `SELECT id FROM backups
WHERE NOT removed AND source = $1 AND dataset = $2 AND coalesce(release, '') = $3 AND dt >= $5
	AND (coalesce(start_time, end_time) = $4 OR end_time = $4)
ORDER BY coalesce(start_time, end_time) = $4 DESC, collected_at LIMIT 1`
			err := d.QueryRow(ctx, q, e.Source, f.Subject.Dataset, e.Release, e.Time, dayOf(e.Time)).Scan(&e.ID)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("look up backup of %s at %s: %w", e.Source, e.Time.Format(time.RFC3339), err)
			}
		}
	}
	return nil
}

// RepositoryAt is the latest observation of a repository at a moment, and
// since when its newest WAL segment has not changed.
type RepositoryAt struct {
	model.Repository
	// WALSince is the first observation with the current WALMax; zero when
	// the repository keeps no WAL.
	WALSince time.Time
}

// Repositories returns the latest observation of every repository made at
// or before at.
func (d *DB) Repositories(ctx context.Context, at time.Time) ([]RepositoryAt, error) {
	return d.RepositoriesSince(ctx, time.Time{}, at)
}

// RepositoriesSince returns the latest observation made at or before at of
// every repository observed within [from, at]; a zero from means the whole
// history. The writer writes a row of each repository it collects at least
// once per UTC day, so a repository without one in the window has not been
// collected for that long, and it reads the window's partitions only. When
// a repository's newest WAL segment has not changed within the window,
// WALSince comes from its whole history.
func (d *DB) RepositoriesSince(ctx context.Context, from, at time.Time) ([]RepositoryAt, error) {
	fail := func(err error) error { return fmt.Errorf("read repositories: %w", err) }
	src, ok, err := d.window(ctx, TableRepositories, "observed_at", from, at)
	if err != nil {
		return nil, fail(err)
	}
	if !ok {
		return nil, nil
	}
	// The empty select gives the columns added since the first release
	// (the protection facts) to a window of older files only.
	q := `WITH rows AS MATERIALIZED (
	SELECT * FROM (` + emptySelect(TableRepositories) + ` UNION ALL BY NAME SELECT * FROM ` + src + `) WHERE observed_at <= $1
), latest AS (
	SELECT * FROM rows
	QUALIFY row_number() OVER (PARTITION BY source, name ORDER BY observed_at DESC) = 1
), changes AS (
	SELECT source, name, observed_at,
		lag(observed_at) OVER w IS NOT NULL AND wal_max IS DISTINCT FROM lag(wal_max) OVER w AS changed
	FROM rows
	WHERE (source, name) IN (SELECT source, name FROM latest WHERE wal_max IS NOT NULL)
	WINDOW w AS (PARTITION BY source, name ORDER BY observed_at)
), since AS (
	SELECT source, name, max(observed_at) FILTER (WHERE changed) AS t FROM changes GROUP BY ALL
)
SELECT l.source, l.env, coalesce(l.dataset, ''), l.name, l.observed_at, coalesce(l.location, ''), coalesce(l.storage_class, ''),
	coalesce(l.region, ''), coalesce(l.stored_bytes, 0), coalesce(l.logical_bytes, 0), coalesce(l.dedup_ratio, 0),
	coalesce(l.compression_ratio, 0), coalesce(l.wal_min, ''), coalesce(l.wal_max, ''), l.healthy, l.status_code,
	coalesce(l.status, ''), l.backup_locked, l.restore_locked, CASE WHEN l.wal_max IS NOT NULL THEN s.t END,
	coalesce(l.has_protection, false), coalesce(l.versioning, ''), coalesce(l.lock_mode, ''), coalesce(l.lock_retention_seconds, 0),
	coalesce(l.encryption, ''), coalesce(l.kms_key, ''), coalesce(l.lifecycle_known, false), coalesce(l.transition_after_seconds, 0),
	coalesce(l.transition_class, ''), coalesce(l.expire_after_seconds, 0)
FROM latest l LEFT JOIN since s ON l.source = s.source AND l.name = s.name
ORDER BY l.env, l.source, l.name`
	rows, err := d.Query(ctx, q, at.UTC())
	if err != nil {
		return nil, fail(err)
	}
	defer rows.Close()
	var out []RepositoryAt
	var unchanged []int
	for rows.Next() {
		var r RepositoryAt
		var code int64
		var since sql.NullTime
		var p history.RepositoryRow
		if err := rows.Scan(&r.Source, &r.Env, &r.Dataset, &r.Name, &r.ObservedAt, &r.Location, &r.StorageClass,
			&r.Region, &r.StoredBytes, &r.LogicalBytes, &r.DedupRatio, &r.CompressionRatio, &r.WALMin, &r.WALMax,
			&r.Healthy, &code, &r.Status, &r.BackupLocked, &r.RestoreLocked, &since,
			&p.HasProtection, &p.Versioning, &p.LockMode, &p.LockRetentionSeconds, &p.Encryption, &p.KMSKey,
			&p.LifecycleKnown, &p.TransitionAfterSeconds, &p.TransitionClass, &p.ExpireAfterSeconds); err != nil {
			return nil, fail(err)
		}
		// The history's own mapping of the columns to the facts.
		r.Protection = p.ProtectionOf()
		r.StatusCode = int(code)
		r.ObservedAt = r.ObservedAt.UTC()
		if since.Valid {
			r.WALSince = since.Time.UTC()
		} else if r.WALMax != "" {
			unchanged = append(unchanged, len(out))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fail(err)
	}
	if err := d.walSince(ctx, out, unchanged, at); err != nil {
		return nil, fail(err)
	}
	return out, nil
}

// walSince sets WALSince of the repositories of repos at the indices
// unchanged from their whole history up to at: since the first
// observation with their current WALMax.
func (d *DB) walSince(ctx context.Context, repos []RepositoryAt, unchanged []int, at time.Time) error {
	if len(unchanged) == 0 {
		return nil
	}
	var keys []string
	for _, i := range unchanged {
		keys = append(keys, fmt.Sprintf("(%s, %s)", quote(repos[i].Source), quote(repos[i].Name)))
	}
	q := `SELECT source, name, max(observed_at) FILTER (WHERE changed) FROM (
	SELECT source, name, observed_at, wal_max IS DISTINCT FROM lag(wal_max) OVER (PARTITION BY source, name ORDER BY observed_at) AS changed
	FROM repositories
	WHERE observed_at <= $1 AND dt <= $2 AND (source, name) IN (VALUES ` + strings.Join(keys, ", ") + `)
) GROUP BY ALL`
	rows, err := d.Query(ctx, q, at.UTC(), dayOf(at))
	if err != nil {
		return err
	}
	defer rows.Close()
	since := map[[2]string]time.Time{}
	for rows.Next() {
		var source, name string
		var t sql.NullTime
		if err := rows.Scan(&source, &name, &t); err != nil {
			return err
		}
		if t.Valid {
			since[[2]string{source, name}] = t.Time.UTC()
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, i := range unchanged {
		repos[i].WALSince = since[[2]string{repos[i].Source, repos[i].Name}]
	}
	return nil
}

// Probes returns, for every probe, its newest successful and newest failed
// run that started at or before at.
func (d *DB) Probes(ctx context.Context, at time.Time) ([]model.ProbeResult, error) {
	return d.ProbesSince(ctx, time.Time{}, at)
}

// ProbesSince returns, for every probe that ran within [from, at], its
// newest successful and newest failed run in that window; a zero from
// means the whole history. It reads the window's partitions only.
func (d *DB) ProbesSince(ctx context.Context, from, at time.Time) ([]model.ProbeResult, error) {
	return d.probesSince(ctx, from, at, probeFilter{})
}

// probeFilter narrows probesSince: to the named probes when names is not
// nil, and to the restore tests that the named sources reported when
// reportedBy is not nil.
type probeFilter struct {
	names, reportedBy []string
}

// probesSince is ProbesSince, for the probe runs that only selects.
func (d *DB) probesSince(ctx context.Context, from, at time.Time, only probeFilter) ([]model.ProbeResult, error) {
	src, ok, err := d.window(ctx, TableProbes, "start_time", from, at)
	if err != nil {
		return nil, fmt.Errorf("read probe runs: %w", err)
	}
	if !ok {
		return nil, nil
	}
	where := ""
	if only.names != nil {
		where += " AND probe IN " + inList(only.names)
	}
	if only.reportedBy != nil {
		where += " AND coalesce(collected, false) AND source IN " + inList(only.reportedBy)
	}
	// The empty select gives the columns added since the first release
	// (collected) to a window of older files only.
	q := `SELECT run_id, probe, coalesce(kind, ''), coalesce(env, ''), coalesce(dataset, ''), coalesce(source, ''),
	coalesce(backup_id, ''), coalesce(release, ''), restored_point, start_time, coalesce(duration_seconds, 0), success,
	coalesce(error, ''), coalesce(tables_compared, 0), tables_mismatched, coalesce(files_verified, 0),
	coalesce(bytes_verified, 0), coalesce(details, ''), coalesce(rto_target_seconds, 0), coalesce(collected, false)
FROM (` + emptySelect(TableProbes) + ` UNION ALL BY NAME SELECT * FROM ` + src + `) WHERE start_time <= $1` + where + `
QUALIFY row_number() OVER (PARTITION BY probe, success ORDER BY start_time DESC, run_id DESC) = 1
ORDER BY probe, start_time`
	rows, err := d.Query(ctx, q, at.UTC())
	if err != nil {
		return nil, fmt.Errorf("read probe runs: %w", err)
	}
	defer rows.Close()
	var out []model.ProbeResult
	for rows.Next() {
		var (
			p              model.ProbeResult
			restored       sql.NullTime
			dur, rto       float64
			tables         int64
			mismatched     any
			files, verifed int64
		)
		if err := rows.Scan(&p.RunID, &p.Probe, &p.Kind, &p.Env, &p.Dataset, &p.Source, &p.BackupID, &p.Release,
			&restored, &p.Start, &dur, &p.Success, &p.Error, &tables, &mismatched, &files, &verifed, &p.Details, &rto, &p.Collected); err != nil {
			return nil, fmt.Errorf("read probe runs: %w", err)
		}
		if restored.Valid {
			p.RestoredPoint = restored.Time.UTC()
		}
		p.Start = p.Start.UTC()
		p.Duration = seconds(dur)
		p.RTOTarget = seconds(rto)
		p.TablesCompared = int(tables)
		p.TablesMismatched = stringList(mismatched)
		p.FilesVerified, p.BytesVerified = files, verifed
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read probe runs: %w", err)
	}
	return out, nil
}

// days returns the table expression of the rows of table in the
// partitions from first to last (YYYY-MM-DD, inclusive). Every reference
// to a view binds all of its files, tens of milliseconds for the backups
// of a year; naming a few days' files binds those only. The columns of
// the writer's schema are there even when no file in range has them.
func (d *DB) days(table, first, last string) (string, error) {
	days, err := d.root.Partitions(table)
	if err != nil {
		return "", err
	}
	days = slices.DeleteFunc(days, func(day string) bool { return day < first || day > last })
	if len(days) == 0 {
		return "(SELECT *, NULL::DATE AS dt FROM (" + emptySelect(table) + "))", nil
	}
	globs := make([]string, len(days))
	for i, day := range days {
		globs[i] = quote(d.root.PartitionGlob(table, day))
	}
	return fmt.Sprintf("(%s UNION ALL BY NAME SELECT * FROM read_parquet([%s], hive_partitioning = true, union_by_name = true))",
		emptySelect(table), strings.Join(globs, ", ")), nil
}

// window returns the table expression of the rows of table whose time
// column lies within [from, at], from the partitions of those days only:
// naming the files spares DuckDB looking at every other partition. A zero
// from means every partition up to at's day; in that case, the newest
// rows sit in a few partitions, which a first pass finds. It reports false
// when no partition can hold such a row.
func (d *DB) window(ctx context.Context, table, column string, from, at time.Time) (string, bool, error) {
	if !d.has[table] {
		return "", false, nil
	}
	days, err := d.root.Partitions(table)
	if err != nil {
		return "", false, err
	}
	first, last := "", dayOf(at)
	if !from.IsZero() {
		first = dayOf(from)
	}
	days = slices.DeleteFunc(days, func(day string) bool { return day < first || day > last })
	if len(days) == 0 {
		return "", false, nil
	}
	if from.IsZero() {
		return "(SELECT * FROM " + table + " WHERE dt <= " + quote(last) + ")", true, nil
	}
	globs := make([]string, len(days))
	for i, day := range days {
		globs[i] = quote(d.root.PartitionGlob(table, day))
	}
	return fmt.Sprintf("(SELECT * FROM read_parquet([%s], hive_partitioning = true, union_by_name = true) WHERE %s >= %s)",
		strings.Join(globs, ", "), column, "TIMESTAMPTZ "+quote(from.UTC().Format("2006-01-02 15:04:05.999999Z07:00"))), true, nil
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// dayOf is the partition day of a moment, for pruning partitions.
func dayOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// stringList converts a DuckDB list of VARCHAR to a slice.
func stringList(v any) []string {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// backupOf maps a row of backupColumns, as the driver returns it, to a
// backup. NULL columns leave their field at its zero value.
func backupOf(v []driver.Value) (model.Backup, error) {
	str := func(i int) string { s, _ := v[i].(string); return s }
	num := func(i int) int64 { n, _ := v[i].(int64); return n }
	flag := func(i int) bool { f, _ := v[i].(bool); return f }
	when := func(i int) time.Time {
		if t, ok := v[i].(time.Time); ok {
			return t.UTC()
		}
		return time.Time{}
	}
	b := model.Backup{
		Source: str(0), Env: str(1), Dataset: str(2), ID: str(3), Type: model.BackupType(str(4)),
		Release: str(5), Parent: str(6), Start: when(7), End: when(8), Status: model.Status(str(9)), Error: str(10),
		LogicalBytes: num(11), StoredBytes: num(12), Location: str(14), StorageClass: str(15),
		Region: str(16), Encrypted: flag(17), KeyID: str(18), Immutable: flag(19), RetainUntil: when(20),
		Classification: str(24),
	}
	b.SetDetails(model.BackupDetail{
		FileCount: num(13), Checksum: str(21), Agent: str(22), AgentVersion: str(23),
		Paths: stringList(v[26]), LSNStart: str(27), LSNStop: str(28), WALStart: str(29), WALStop: str(30),
		// The column holds whole seconds, as the history writes them.
		ExpectedInterval: time.Duration(num(31)) * time.Second,
	})
	if tags := str(25); tags != "" {
		if err := json.Unmarshal([]byte(tags), &b.Tags); err != nil {
			return b, fmt.Errorf("tags of backup %s of %s: %w", b.ID, b.Source, err)
		}
	}
	return b, nil
}
