package duck

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"
)

// DailyPoint is the storage one environment held in one storage class at
// the end of one UTC day.
type DailyPoint struct {
	Env          string
	StorageClass string
	Day          time.Time
	StoredBytes  float64
	LogicalBytes float64
	// Repositories is how many repositories (or, from backups, how many
	// backups) the day sums over.
	Repositories int64
	// FromBackups is true when the environment has no repository
	// observations and the day sums the retained backups instead.
	FromBackups bool
}

// Trend is the least-squares line through an environment's daily stored
// bytes, as DuckDB's regr_* aggregates compute it; x counts days since
// the first day fitted.
type Trend struct {
	Env, StorageClass string
	N                 int64
	Slope, Intercept  float64
	R2                float64
	AvgX              float64
	Sxx, Syy, Sxy     float64
	First, Last       time.Time
}

// finite is a nullable float with NULL, NaN and infinities as 0, so that
// results always encode as JSON.
func finite(v sql.NullFloat64) float64 {
	if !v.Valid || math.IsNaN(v.Float64) || math.IsInf(v.Float64, 0) {
		return 0
	}
	return v.Float64
}

// Ratios are what an environment's repositories say about deduplication
// and compression on the last day observed, weighted by logical bytes.
type Ratios struct {
	Env, StorageClass string
	Dedup             float64
	Compression       float64
	// Effective is logical over stored bytes.
	Effective float64
}

// BuildDaily builds the table daily: per environment, storage class and
// day from the first observation to at, the stored and logical bytes.
// Repository observations are carried forward from one day to the next
// while the repository is observed; environments without repository
// observations sum the stored bytes of their retained backups instead,
// each counted from its end time (the catalog knows backups older than the
// history) until the history saw it removed.
func (d *DB) BuildDaily(ctx context.Context, at time.Time) error {
	q := `CREATE OR REPLACE TABLE daily AS
WITH obs AS (
	SELECT env, coalesce(storage_class, '') AS class, source, name, observed_at::DATE AS day,
		arg_max(coalesce(stored_bytes, 0), observed_at) AS stored, arg_max(coalesce(logical_bytes, 0), observed_at) AS logical
	FROM repositories WHERE observed_at <= $1 AND dt <= $2
	GROUP BY ALL
), span AS (
	SELECT source, name, min(day) AS first, max(day) AS last FROM obs GROUP BY ALL
), repo_days AS (
	SELECT s.source, s.name, unnest(generate_series(s.first, s.last, INTERVAL 1 DAY))::DATE AS day FROM span s
), from_repos AS (
	SELECT o.env, o.class, g.day, sum(o.stored)::DOUBLE AS stored, sum(o.logical)::DOUBLE AS logical, count(*) AS n, false AS from_backups
	FROM repo_days g ASOF JOIN obs o ON g.source = o.source AND g.name = o.name AND g.day >= o.day
	GROUP BY ALL
), keys AS (
	SELECT source, id,
		arg_max(env, collected_at) AS env,
		arg_max(coalesce(storage_class, ''), collected_at) FILTER (WHERE NOT removed) AS class,
		min(coalesce(end_time, collected_at)) FILTER (WHERE NOT removed) AS added,
		max(collected_at) FILTER (WHERE removed) AS gone,
		arg_max(coalesce(stored_bytes, 0), collected_at) FILTER (WHERE NOT removed) AS stored,
		arg_max(coalesce(logical_bytes, 0), collected_at) FILTER (WHERE NOT removed) AS logical
	FROM backups
	WHERE collected_at <= $1 AND dt <= $2 AND env NOT IN (SELECT DISTINCT env FROM obs)
		AND status IN ('succeeded', 'partial')
	GROUP BY ALL
	HAVING min(collected_at) FILTER (WHERE NOT removed) IS NOT NULL
), events AS (
	SELECT env, class, added::DATE AS day, stored AS ds, logical AS dl, 1 AS dn FROM keys
	UNION ALL
	SELECT env, class, gone::DATE, -stored, -logical, -1 FROM keys WHERE gone IS NOT NULL AND gone >= added
), per_day AS (
	SELECT env, class, day, sum(ds) AS ds, sum(dl) AS dl, sum(dn) AS dn FROM events GROUP BY ALL
), backup_days AS (
	SELECT c.env, c.class, unnest(generate_series(c.first, $2::DATE, INTERVAL 1 DAY))::DATE AS day
	FROM (SELECT env, class, min(day) AS first FROM per_day GROUP BY ALL) c
), from_backups AS (
	SELECT b.env, b.class, b.day,
		sum(coalesce(p.ds, 0)) OVER w AS stored, sum(coalesce(p.dl, 0)) OVER w AS logical, sum(coalesce(p.dn, 0)) OVER w AS n, true AS from_backups
	FROM backup_days b LEFT JOIN per_day p ON b.env = p.env AND b.class = p.class AND b.day = p.day
	WINDOW w AS (PARTITION BY b.env, b.class ORDER BY b.day)
)
SELECT env, class, day, stored, logical, n, from_backups FROM from_repos
UNION ALL
SELECT env, class, day, stored::DOUBLE, logical::DOUBLE, n::BIGINT, from_backups FROM from_backups`
	if err := d.Exec(ctx, q, at.UTC(), dayOf(at)); err != nil {
		return fmt.Errorf("build daily storage: %w", err)
	}
	return nil
}

// Daily returns the rows of the daily table of env ("" for all), in order.
func (d *DB) Daily(ctx context.Context, env string) ([]DailyPoint, error) {
	rows, err := d.Query(ctx, `SELECT env, class, day, stored, logical, n, from_backups FROM daily
WHERE $1 = '' OR env = $1 ORDER BY env, class, day`, env)
	if err != nil {
		return nil, fmt.Errorf("read daily storage: %w", err)
	}
	defer rows.Close()
	var out []DailyPoint
	for rows.Next() {
		var p DailyPoint
		if err := rows.Scan(&p.Env, &p.StorageClass, &p.Day, &p.StoredBytes, &p.LogicalBytes, &p.Repositories, &p.FromBackups); err != nil {
			return nil, fmt.Errorf("read daily storage: %w", err)
		}
		p.Day = p.Day.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// Trends fits a line through the daily stored bytes of each environment
// and storage class over the days in [from, to].
func (d *DB) Trends(ctx context.Context, env string, from, to time.Time) ([]Trend, error) {
	q := `WITH f AS (
	SELECT env, class, day, stored, min(day) OVER (PARTITION BY env, class) AS first FROM daily
	WHERE ($1 = '' OR env = $1) AND day >= $2::DATE AND day <= $3::DATE
), x AS (SELECT env, class, day, first, stored AS y, datediff('day', first, day)::DOUBLE AS x FROM f)
SELECT env, class, regr_count(y, x), regr_slope(y, x), regr_intercept(y, x), regr_r2(y, x), regr_avgx(y, x),
	regr_avgy(y, x), regr_sxx(y, x), regr_syy(y, x), regr_sxy(y, x), min(day), max(day)
FROM x GROUP BY ALL ORDER BY env, class`
	rows, err := d.Query(ctx, q, env, dayOf(from), dayOf(to))
	if err != nil {
		return nil, fmt.Errorf("fit storage trends: %w", err)
	}
	defer rows.Close()
	var out []Trend
	for rows.Next() {
		var t Trend
		var slope, icpt, r2, avgx, avgy, sxx, syy, sxy sql.NullFloat64
		if err := rows.Scan(&t.Env, &t.StorageClass, &t.N, &slope, &icpt, &r2, &avgx, &avgy, &sxx, &syy, &sxy, &t.First, &t.Last); err != nil {
			return nil, fmt.Errorf("fit storage trends: %w", err)
		}
		t.Slope, t.Intercept, t.R2, t.AvgX = finite(slope), finite(icpt), finite(r2), finite(avgx)
		t.Sxx, t.Syy, t.Sxy = finite(sxx), finite(syy), finite(sxy)
		switch {
		case t.Sxx == 0:
			// One day, or all on one day: no slope to fit, so the line is
			// flat at the mean.
			t.Slope, t.Intercept, t.R2 = 0, finite(avgy), 0
		case !r2.Valid && t.N > 1:
			// DuckDB leaves regr_r2 NULL when y does not vary: a flat line
			// explains all there is.
			t.R2 = 1
		}
		t.First, t.Last = t.First.UTC(), t.Last.UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// Ratios returns the deduplication and compression ratios of each
// environment's repositories at their latest observation up to at.
func (d *DB) Ratios(ctx context.Context, at time.Time) ([]Ratios, error) {
	q := `WITH latest AS (
	SELECT * FROM repositories WHERE observed_at <= $1 AND dt <= $2
	QUALIFY row_number() OVER (PARTITION BY source, name ORDER BY observed_at DESC) = 1
)
SELECT env, coalesce(storage_class, ''),
	coalesce(sum(logical_bytes * dedup_ratio) FILTER (WHERE dedup_ratio > 0) / nullif(sum(logical_bytes) FILTER (WHERE dedup_ratio > 0), 0), 0),
	coalesce(sum(logical_bytes * compression_ratio) FILTER (WHERE compression_ratio > 0) / nullif(sum(logical_bytes) FILTER (WHERE compression_ratio > 0), 0), 0),
	coalesce(sum(logical_bytes)::DOUBLE / nullif(sum(stored_bytes), 0), 0)
FROM latest GROUP BY ALL ORDER BY ALL`
	rows, err := d.Query(ctx, q, at.UTC(), dayOf(at))
	if err != nil {
		return nil, fmt.Errorf("read storage ratios: %w", err)
	}
	defer rows.Close()
	var out []Ratios
	for rows.Next() {
		var r Ratios
		if err := rows.Scan(&r.Env, &r.StorageClass, &r.Dedup, &r.Compression, &r.Effective); err != nil {
			return nil, fmt.Errorf("read storage ratios: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReleaseStart is when a release first appeared in an environment.
type ReleaseStart struct {
	Env, Release string
	FirstSeen    time.Time
}

// Releases returns the first sighting of every release label in every
// environment, up to at, in order.
func (d *DB) Releases(ctx context.Context, at time.Time) ([]ReleaseStart, error) {
	q := `SELECT env, release, min(coalesce(start_time, end_time)) AS first FROM backups
WHERE NOT removed AND release IS NOT NULL AND release <> '' AND collected_at <= $1 AND dt <= $2
GROUP BY ALL HAVING first IS NOT NULL ORDER BY env, first, release`
	rows, err := d.Query(ctx, q, at.UTC(), dayOf(at))
	if err != nil {
		return nil, fmt.Errorf("read releases: %w", err)
	}
	defer rows.Close()
	var out []ReleaseStart
	for rows.Next() {
		var r ReleaseStart
		if err := rows.Scan(&r.Env, &r.Release, &r.FirstSeen); err != nil {
			return nil, fmt.Errorf("read releases: %w", err)
		}
		r.FirstSeen = r.FirstSeen.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}
