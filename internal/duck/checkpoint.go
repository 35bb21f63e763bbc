package duck

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The checkpoint tables the history writer keeps (see docs/history.md).
// They have no views: a reader needs one or two partitions of them, and a
// view would make DuckDB look at every file.
const (
	tableBackupCheckpoints = "backup_checkpoints"
	tableSeriesCheckpoints = "series_checkpoints"
)

// checkpoints is the newest checkpoint at or before a moment of each source
// that has one in the newest two partitions of a checkpoint table up to
// that moment's day. The writer checkpoints every source on the first
// collection of each UTC day and keeps one day a week of checkpoints older
// than two weeks, so two partitions find every source that was collected
// in the day (or, far back, the week) before; the rows collected since the
// checkpoint are read on top, and sources without one are read from the
// backups table in full.
type checkpoints struct {
	root  Root
	table string
	days  []string
	at    map[string]time.Time
}

func (d *DB) checkpoints(ctx context.Context, table string, at time.Time) (*checkpoints, error) {
	c := &checkpoints{root: d.root, table: table, at: map[string]time.Time{}}
	days, err := d.root.Partitions(table)
	if err != nil {
		return nil, err
	}
	last := dayOf(at)
	days = slices.DeleteFunc(days, func(day string) bool { return day > last })
	if len(days) == 0 {
		return c, nil
	}
	c.days = days[max(0, len(days)-2):]
	rows, err := d.Query(ctx, `SELECT source, max(checkpoint_at) FROM `+c.from()+` WHERE checkpoint_at <= $1 GROUP BY source`, at.UTC())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	for rows.Next() {
		var source string
		var t time.Time
		if err := rows.Scan(&source, &t); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		c.at[source] = t.UTC()
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return c, nil
}

// empty reports whether no source has a checkpoint.
func (c *checkpoints) empty() bool { return len(c.at) == 0 }

// from is the table expression of the partitions searched.
func (c *checkpoints) from() string {
	globs := make([]string, len(c.days))
	for i, day := range c.days {
		globs[i] = quote(c.root.PartitionGlob(c.table, day))
	}
	// Checkpoints written before a column of the backups table existed
	// lack it: the empty select gives it to them, NULL.
	return "(SELECT *, NULL::TIMESTAMPTZ AS checkpoint_at FROM (" + emptySelect(TableBackups) + ") UNION ALL BY NAME SELECT * FROM read_parquet([" +
		strings.Join(globs, ", ") + "], hive_partitioning = true, union_by_name = true))"
}

// values is a VALUES list of (source, checkpoint time), for a CTE
// cp(source, checkpoint_at).
func (c *checkpoints) values() string {
	var out []string
	for _, s := range c.sourceList() {
		out = append(out, fmt.Sprintf("(%s, TIMESTAMPTZ %s)", quote(s), quote(c.at[s].Format("2006-01-02 15:04:05.999999Z07:00"))))
	}
	return "VALUES " + strings.Join(out, ", ")
}

// since is the predicate on dt that keeps the partitions holding rows
// collected at or after the oldest checkpoint.
func (c *checkpoints) since() string {
	return "dt >= DATE " + quote(c.firstDay())
}

// firstDay is the day of the oldest checkpoint.
func (c *checkpoints) firstDay() string {
	oldest := time.Time{}
	for _, t := range c.at {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	return dayOf(oldest)
}

func (c *checkpoints) sourceList() []string {
	out := make([]string, 0, len(c.at))
	for s := range c.at {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// uncovered returns the sources with backups rows up to at's day that
// have no checkpoint in c, which must be read from the backups table in
// full.
func (d *DB) uncovered(ctx context.Context, c *checkpoints, at time.Time) ([]string, error) {
	all, err := d.sources(ctx, at)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(slices.Clone(all), func(s string) bool { _, ok := c.at[s]; return ok }), nil
}

// sources lists the sources with backups rows in partitions up to at's
// day. Two analyses at one moment share the answer.
func (d *DB) sources(ctx context.Context, at time.Time) ([]string, error) {
	day := dayOf(at)
	if list, ok := d.sourcesByDay[day]; ok {
		return list, nil
	}
	rows, err := d.Query(ctx, `SELECT DISTINCT source FROM backups WHERE dt <= $1 ORDER BY 1`, day)
	if err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	var list []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list sources: %w", err)
		}
		list = append(list, s)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("list sources: %w", err)
	}
	d.sourcesByDay = map[string][]string{day: list}
	return list, nil
}

// inList is an SQL list of string literals.
func inList(values []string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = quote(v)
	}
	return "(" + strings.Join(out, ", ") + ")"
}
