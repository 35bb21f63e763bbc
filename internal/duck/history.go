package duck

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// RPOBreaches returns every interval within [since, at] in which a series
// of an environment with an RPO had no successful backup younger than the
// RPO, and which ended by at; a breach still open at at is the rpo check's.
//
// A breach starts when the good backup before it turns RPO old and ends
// when the next good backup ends. A backup counts from the moment it ended,
// whether or not it is still retained: it could have been restored then.
// Two versions of one backup are two rows with one end time: the gap
// between them is zero, so they need no deduplication.
//
// firstGood (SeriesHistory.FirstGood) says which series already had good
// backups before the period, so that a gap reaching back over since is
// reported from since on, and a series born inside the period is not
// blamed for the time before its first backup.
func (d *DB) RPOBreaches(ctx context.Context, rpo map[string]time.Duration, firstGood map[model.SeriesKey]time.Time, since, at time.Time) ([]policy.RPOBreach, error) {
	if len(rpo) == 0 || !since.Before(at) {
		return nil, nil
	}
	envs := make([]string, 0, len(rpo))
	var values []string
	var longest time.Duration
	for env, r := range rpo {
		envs = append(envs, env)
		longest = max(longest, r)
	}
	slices.Sort(envs)
	for _, env := range envs {
		values = append(values, fmt.Sprintf("(%s, %d)", quote(env), rpo[env].Microseconds()))
	}
	lookback := since.Add(-longest)
	window, err := d.days(TableBackups, dayOf(lookback), dayOf(at))
	if err != nil {
		return nil, fmt.Errorf("read RPO history: %w", err)
	}
	// Gaps compare as microseconds: comparing intervals normalises each
	// one, which costs more than reading the rows. The window orders end
	// times only, and the few breaches look their backups up afterwards:
	// carrying ids through the window sorts strings. Of backups that ended
	// at the same moment, the one after a gap is the first by id and the
	// one before it the last, as if ordered by end time and id.
	q := `WITH rpo(env, rpo_us) AS (VALUES ` + strings.Join(values, ", ") + `),
good AS MATERIALIZED (
	SELECT b.env, b.source, b.dataset, b.id, b.end_time, rpo.rpo_us
	FROM ` + window + ` b JOIN rpo ON b.env = rpo.env
	WHERE NOT b.removed AND b.status = 'succeeded' AND b.collected_at <= $1 AND b.dt >= $3 AND b.dt <= $4
		AND b.end_time <= $1 AND epoch_us(b.end_time) >= epoch_us($2::TIMESTAMPTZ) - rpo.rpo_us
), gaps AS (
	SELECT env, source, dataset, end_time, rpo_us, lag(end_time) OVER (PARTITION BY env, source, dataset ORDER BY end_time) AS prev_end
	FROM good
), breaches AS (
	SELECT * FROM gaps WHERE end_time > $2 AND (prev_end IS NULL OR epoch_us(end_time) - epoch_us(prev_end) > rpo_us)
)
SELECT b.env, b.source, b.dataset,
	(SELECT max(g.id) FROM good g WHERE g.env = b.env AND g.source = b.source AND g.dataset = b.dataset AND g.end_time = b.prev_end),
	b.prev_end,
	(SELECT min(g.id) FROM good g WHERE g.env = b.env AND g.source = b.source AND g.dataset = b.dataset AND g.end_time = b.end_time),
	b.end_time, b.rpo_us
FROM breaches b
ORDER BY env, source, dataset, end_time`
	rows, err := d.Query(ctx, q, at.UTC(), since.UTC(), dayOf(lookback), dayOf(at))
	if err != nil {
		return nil, fmt.Errorf("read RPO history: %w", err)
	}
	defer rows.Close()
	var out []policy.RPOBreach
	for rows.Next() {
		var (
			k       model.SeriesKey
			prevID  sql.NullString
			prevEnd sql.NullTime
			id      string
			end     time.Time
			rpoUS   int64
		)
		if err := rows.Scan(&k.Env, &k.Source, &k.Dataset, &prevID, &prevEnd, &id, &end, &rpoUS); err != nil {
			return nil, fmt.Errorf("read RPO history: %w", err)
		}
		r := time.Duration(rpoUS) * time.Microsecond
		b := policy.RPOBreach{
			Series: k, RPO: r, End: end.UTC(),
			After: policy.Evidence{Kind: "backup", Source: k.Source, ID: id, Time: end.UTC(), Note: "next successful backup"},
		}
		if prevEnd.Valid {
			b.Start = prevEnd.Time.Add(r).UTC()
			b.Before = policy.Evidence{Kind: "backup", Source: k.Source, ID: prevID.String, Time: prevEnd.Time.UTC(), Note: "successful backup before the gap"}
		} else {
			// No good backup in the RPO before the period: the series was
			// in breach when the period began if it had good backups
			// before.
			first, ok := firstGood[k]
			if !ok || !first.Before(since.Add(-r)) {
				continue
			}
			b.Start = since.UTC()
		}
		if b.Start.Before(since) {
			b.Start = since.UTC()
		}
		if !b.Start.Before(b.End) {
			continue
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read RPO history: %w", err)
	}
	return out, nil
}
