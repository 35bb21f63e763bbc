package duck

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// Events returns the release events the exporter had received by at (the
// partitions up to at's day, rows received at or before at), one per id,
// in no particular order: what policy.Input.Events wants of the history.
func (d *DB) Events(ctx context.Context, at time.Time) ([]model.Event, error) {
	src, ok, err := d.window(ctx, TableEvents, "received", time.Time{}, at)
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if !ok {
		return []model.Event{}, nil
	}
	q := `SELECT id, coalesce(sender, ''), coalesce(kind, ''), coalesce(env, ''), coalesce(dataset, ''), coalesce(release, ''),
	coalesce(revision, ''), coalesce(actor, ''), coalesce(result, ''), time, received, coalesce(backup_source, ''),
	coalesce(backup_id, ''), coalesce(migration, false), coalesce(reason, ''), coalesce(url, '')
FROM ` + src + ` WHERE received <= $1
QUALIFY row_number() OVER (PARTITION BY id ORDER BY received, time) = 1`
	rows, err := d.Query(ctx, q, at.UTC())
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	out := []model.Event{}
	for rows.Next() {
		var (
			e              model.Event
			kind, result   string
			when, received sql.NullTime
		)
		if err := rows.Scan(&e.ID, &e.Sender, &kind, &e.Env, &e.Dataset, &e.Release, &e.Revision, &e.Actor, &result,
			&when, &received, &e.BackupSource, &e.BackupID, &e.Migration, &e.Reason, &e.URL); err != nil {
			return nil, fmt.Errorf("read events: %w", err)
		}
		e.Kind, e.Result = model.EventKind(kind), model.EventResult(result)
		e.Time, e.Received = when.Time.UTC(), received.Time.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
