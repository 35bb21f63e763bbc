package history

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
)

// The checkpoint tables. A backup's state at a moment is its newest row
// collected by then, so a reader that wants the state from the backups
// table alone has to look at every backup the history ever saw. A
// checkpoint writes down what that look would find for one source at one
// moment: the backups retained then, in their latest version, and a summary
// of each release of each series. A reader takes the newest checkpoint of a
// source before its moment and only the rows collected after it.
const (
	TableBackupCheckpoints = "backup_checkpoints"
	TableSeriesCheckpoints = "series_checkpoints"
)

// BackupCheckpointRow is one backup retained at a checkpoint: the row of
// its latest version collected by then (never a removal), unchanged,
// including its collected_at, plus the checkpoint's time.
type BackupCheckpointRow struct {
	BackupRow
	// CheckpointAt is the moment the checkpoint describes; the partition
	// (dt) is its UTC day.
	CheckpointAt time.Time `parquet:"checkpoint_at,timestamp(microsecond:utc)"`
}

// SeriesCheckpointRow summarises every row of one release of one series
// (source, env, dataset, release) collected up to the checkpoint,
// removed backups included. The columns are the aggregates the analyzer's
// series history takes over the backups table, so that the summary of a
// checkpoint and the aggregate of the rows after it combine with min and
// max.
type SeriesCheckpointRow struct {
	Source  string `parquet:"source,dict"`
	Env     string `parquet:"env,dict"`
	Dataset string `parquet:"dataset,dict"`
	// Release is NULL for backups without a release label.
	Release string `parquet:"release,optional,dict"`
	// FirstSeen is the earliest start (else end) time of a version row.
	FirstSeen time.Time `parquet:"first_seen,optional,timestamp(microsecond:utc)"`
	// FirstGood is the earliest end time of a succeeded version row.
	FirstGood time.Time `parquet:"first_good,optional,timestamp(microsecond:utc)"`
	// LastCollectedAt is the newest collected_at of any row, removal rows
	// included.
	LastCollectedAt time.Time `parquet:"last_collected_at,timestamp(microsecond:utc)"`
	CheckpointAt    time.Time `parquet:"checkpoint_at,timestamp(microsecond:utc)"`
}

// seriesRelease identifies a summary within a source.
type seriesRelease struct{ env, dataset, release string }

// seriesSummary accumulates one SeriesCheckpointRow.
type seriesSummary struct {
	firstSeen, firstGood, last time.Time
}

// summaries holds the summaries of one source's series and releases.
type summaries map[seriesRelease]*seriesSummary

// add folds one backups row into the summaries: the definition of what a
// series checkpoint holds.
func (s summaries) add(env, dataset, release, status string, start, end, collectedAt time.Time, removed bool) {
	k := seriesRelease{intern(env), intern(dataset), intern(release)}
	sum := s[k]
	if sum == nil {
		sum = &seriesSummary{}
		s[k] = sum
	}
	if collectedAt.After(sum.last) {
		sum.last = collectedAt
	}
	if removed {
		return
	}
	if seen := cmp.Or(start, end); !seen.IsZero() && (sum.firstSeen.IsZero() || seen.Before(sum.firstSeen)) {
		sum.firstSeen = seen
	}
	if status == "succeeded" && !end.IsZero() && (sum.firstGood.IsZero() || end.Before(sum.firstGood)) {
		sum.firstGood = end
	}
}

// rows returns the summaries as rows of a checkpoint at at, in a stable
// order.
func (s summaries) rows(source string, at time.Time) []SeriesCheckpointRow {
	out := make([]SeriesCheckpointRow, 0, len(s))
	for k, sum := range s {
		out = append(out, SeriesCheckpointRow{
			Source: source, Env: k.env, Dataset: k.dataset, Release: k.release,
			FirstSeen: sum.firstSeen, FirstGood: sum.firstGood, LastCollectedAt: sum.last, CheckpointAt: at,
		})
	}
	slices.SortFunc(out, func(a, b SeriesCheckpointRow) int {
		return cmp.Or(cmp.Compare(a.Env, b.Env), cmp.Compare(a.Dataset, b.Dataset), cmp.Compare(a.Release, b.Release))
	})
	return out
}

// writeCheckpoint publishes the checkpoint of one source at at: the
// retained backups' latest rows and the series summaries, one file in each
// checkpoint table. The backups file comes first; a reader that finds a
// backup checkpoint without its series checkpoint (a crash in between)
// uses each table's newest checkpoint on its own.
func writeCheckpoint(root, source string, at time.Time, retained rowSource, sums summaries) error {
	at = micros(at)
	part := partitionOf(at)
	_, err := publish(filepath.Join(root, TableBackupCheckpoints, part), at, nil, func(pw *parquet.GenericWriter[BackupCheckpointRow]) error {
		batch := make([]BackupCheckpointRow, 0, min(readBatch, retained.n))
		for i := range retained.n {
			batch = append(batch, BackupCheckpointRow{BackupRow: retained.row(i), CheckpointAt: at})
			if len(batch) == cap(batch) {
				if _, err := pw.Write(batch); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		_, err := pw.Write(batch)
		return err
	})
	if err != nil {
		return fmt.Errorf("write backup checkpoint of %s: %w", source, err)
	}
	if _, err := writeFile(filepath.Join(root, TableSeriesCheckpoints, part), at, sums.rows(source, at), nil); err != nil {
		return fmt.Errorf("write series checkpoint of %s: %w", source, err)
	}
	return nil
}

// Checkpoints follows a history written from rows (WriteRows) and writes
// the checkpoints that a Writer would have written for it, so that tools
// and benchmarks that build histories without a Writer produce the same
// tables. Feed it every backups row, in collected_at order, before asking
// for a checkpoint at a later moment.
type Checkpoints struct {
	sources map[string]*checkpointSource
}

type checkpointSource struct {
	retained map[backupID]BackupRow
	sums     summaries
}

// NewCheckpoints returns a Checkpoints that has seen no row.
func NewCheckpoints() *Checkpoints { return &Checkpoints{sources: map[string]*checkpointSource{}} }

// Add records rows of the backups table: a version replaces the backup's
// previous one, a removal drops the backup.
func (c *Checkpoints) Add(rows ...BackupRow) {
	for i := range rows {
		r := &rows[i]
		src := c.sources[r.Source]
		if src == nil {
			src = &checkpointSource{retained: map[backupID]BackupRow{}, sums: summaries{}}
			c.sources[r.Source] = src
		}
		k := backupKey(r.Dataset, r.ID)
		if r.Removed {
			delete(src.retained, k)
		} else {
			row := *r
			row.Paths = slices.Clone(r.Paths)
			src.retained[k] = row
		}
		src.sums.add(r.Env, r.Dataset, r.Release, r.Status, r.StartTime, r.EndTime, r.CollectedAt, r.Removed)
	}
}

// Sources lists the sources seen so far, in order.
func (c *Checkpoints) Sources() []string {
	out := make([]string, 0, len(c.sources))
	for s := range c.sources {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Write publishes the checkpoint of source at at under root, from the rows
// added so far.
func (c *Checkpoints) Write(root, source string, at time.Time) error {
	src := c.sources[source]
	if src == nil {
		return fmt.Errorf("write checkpoint of %s: no rows of that source", source)
	}
	retained := make([]BackupRow, 0, len(src.retained))
	for _, r := range src.retained {
		retained = append(retained, r)
	}
	slices.SortFunc(retained, compareRetained)
	return writeCheckpoint(filepath.Clean(root), source, at, rowSource{n: len(retained), row: func(i int) BackupRow { return retained[i] }}, src.sums)
}

// compareRetained orders the rows of a backup checkpoint as the analyzer
// reads a series: by dataset, end time and id.
// rowSource hands out the n rows of a checkpoint one at a time, so that a
// large catalog's checkpoint is never held as rows all at once.
type rowSource struct {
	n   int
	row func(i int) BackupRow
}

func compareRetained(a, b BackupRow) int {
	return cmp.Or(cmp.Compare(a.Dataset, b.Dataset), a.EndTime.Compare(b.EndTime), cmp.Compare(a.ID, b.ID))
}
