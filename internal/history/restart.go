package history

import (
	"bytes"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/parquet-go/parquet-go"
)

// checkpointLookback is how many of the newest checkpoint partitions a
// restart looks in for the newest checkpoint of each source. A source that
// is still collected has one in the newest partition; one whose last
// checkpoint is older (its collection stopped, or keeps failing) is read
// from its full history, which gives the same state more slowly.
const checkpointLookback = 7

// restart is where a restarted writer starts reading each source's
// backups: the state of its newest checkpoint, then only the rows
// collected since. The zero value starts every source from its full
// history.
type restart struct {
	// at is, per source, the time of its newest checkpoint found in both
	// checkpoint tables. A crash between the two files of a checkpoint
	// leaves one without the other, and the state and the summaries must
	// come from the same moment.
	at map[string]time.Time
	// day is, per source, the partition of its backup checkpoint in the
	// newest checkpoint partition, if it has one: the writer writes no
	// second checkpoint that day.
	day map[string]string
}

// findRestart looks up the newest checkpoint of each source. It reads the
// metadata of the newest checkpoint files, and their source and time
// columns only when a file holds more than one checkpoint (a compacted
// partition).
func findRestart(root string) (restart, error) {
	backups, newest, err := checkpointTimes(filepath.Join(root, TableBackupCheckpoints))
	if err != nil {
		return restart{}, fmt.Errorf("find backup checkpoints: %w", err)
	}
	series, _, err := checkpointTimes(filepath.Join(root, TableSeriesCheckpoints))
	if err != nil {
		return restart{}, fmt.Errorf("find series checkpoints: %w", err)
	}
	r := restart{at: map[string]time.Time{}, day: map[string]string{}}
	for source, times := range backups {
		for at, part := range times {
			if part == newest {
				r.day[source] = part
			}
			if _, ok := series[source][at]; ok && at.After(r.at[source]) {
				r.at[source] = at
			}
		}
	}
	return r, nil
}

// checkpointTimes lists, per source, the times of the checkpoints in the
// newest checkpointLookback partitions of a checkpoint table with the
// partition each is in, and the name of the newest partition.
func checkpointTimes(tableDir string) (map[string]map[time.Time]string, string, error) {
	parts, err := partitions(tableDir)
	if err != nil || len(parts) == 0 {
		return nil, "", err
	}
	parts = parts[max(0, len(parts)-checkpointLookback):]
	out := map[string]map[time.Time]string{}
	add := func(source string, at time.Time, part string) {
		if out[source] == nil {
			out[source] = map[time.Time]string{}
		}
		out[source][at] = part
	}
	for _, dir := range parts {
		part := filepath.Base(dir)
		// A checkpoint file holds one source at one moment, which its
		// bounds tell without reading a row.
		skip := func(rg parquet.RowGroup) (bool, error) {
			source, ok := singleString(rg, "source")
			if !ok {
				return false, nil
			}
			lo, hi, ok := timeBounds(rg, "checkpoint_at")
			if !ok || !lo.Equal(hi) {
				return false, nil
			}
			add(source, lo, part)
			return true, nil
		}
		err := eachFileIn([]string{dir}, func(path string) error {
			return readColumnGroups(path, []string{"source", "checkpoint_at"}, skip, func(v []parquet.Value) error {
				add(valueString(v[0]), valueMicros(v[1]), part)
				return nil
			})
		})
		if err != nil {
			return nil, "", err
		}
	}
	return out, filepath.Base(parts[len(parts)-1]), nil
}

// wants reports whether a backups row of source collected at collected is
// needed on top of the source's checkpoint: rows collected at the
// checkpoint's time are read again, which changes nothing, because a later
// collection at the same clock reading is not in the checkpoint.
func (r restart) wants(source string, collected time.Time) bool {
	at, ok := r.at[source]
	return !ok || !collected.Before(at)
}

// wantsCheckpoint reports whether a checkpoint row is one a source starts
// from: a row of its checkpoint, collected before the checkpoint's time.
// A row collected at that time is also in the backups table, which is
// read from that time on.
func (r restart) wantsCheckpoint(source string, checkpointAt, collected time.Time) bool {
	at, ok := r.at[source]
	return ok && at.Equal(checkpointAt) && collected.Before(at)
}

// checkpointPartitions are the partition directories of a checkpoint table
// that hold the checkpoints the sources start from.
func (r restart) checkpointPartitions(tableDir string) []string {
	var out []string
	for _, at := range r.at {
		out = append(out, filepath.Join(tableDir, partitionOf(at)))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// skipBackups skips a row group of the backups table whose rows were all
// collected before the checkpoints of the sources it holds. It reads the
// group's bounds and the dictionary of its source column; a group of a
// source without a checkpoint is never skipped.
func (r restart) skipBackups(rg parquet.RowGroup) (bool, error) {
	if len(r.at) == 0 {
		return false, nil
	}
	sources, ok, err := groupStrings(rg, "source")
	if err != nil || !ok {
		return false, err
	}
	_, newest, ok := timeBounds(rg, "collected_at")
	if !ok {
		return false, nil
	}
	for _, s := range sources {
		at, ok := r.at[s]
		if !ok || !newest.Before(at) {
			return false, nil
		}
	}
	return true, nil
}

// skipCheckpoints skips a row group of a checkpoint table that holds none
// of the checkpoints the sources start from, or only rows collected at the
// checkpoint's time: those are read from the backups table (see
// wantsCheckpoint). So the checkpoint of a source's first day, which holds
// the rows of that day's first catalog, is not read twice.
func (r restart) skipCheckpoints(rg parquet.RowGroup) (bool, error) {
	sources, ok, err := groupStrings(rg, "source")
	if err != nil || !ok {
		return false, err
	}
	lo, hi, ok := timeBounds(rg, "checkpoint_at")
	if !ok {
		return false, nil
	}
	oldest, _, known := timeBounds(rg, "collected_at")
	for _, s := range sources {
		if at, ok := r.at[s]; ok && !at.Before(lo) && !at.After(hi) && (!known || oldest.Before(at)) {
			return false, nil
		}
	}
	return true, nil
}

// fileChunk is the chunk of the named column in a row group read from a
// file, or nil.
func fileChunk(rg parquet.RowGroup, name string) *parquet.FileColumnChunk {
	leaf, ok := rg.Schema().Lookup(name)
	if !ok || leaf.MaxRepetitionLevel > 0 {
		return nil
	}
	c, _ := rg.ColumnChunks()[leaf.ColumnIndex].(*parquet.FileColumnChunk)
	return c
}

// singleString is the value of a string column that holds one value in
// the whole row group, according to its statistics.
func singleString(rg parquet.RowGroup, name string) (string, bool) {
	c := fileChunk(rg, name)
	if c == nil || c.NullCount() > 0 {
		return "", false
	}
	lo, hi, ok := c.Bounds()
	if !ok || lo.IsNull() || hi.IsNull() || !bytes.Equal(lo.ByteArray(), hi.ByteArray()) {
		return "", false
	}
	return string(lo.ByteArray()), true
}

// groupStrings lists the values a string column holds in a row group
// (possibly more): the one value its statistics name, else its dictionary.
// The dictionary lists every value of the chunk because the writer sets no
// dictionary size limit: parquet-go only switches a chunk to plain encoding
// past one (1 GiB for strings otherwise).
func groupStrings(rg parquet.RowGroup, name string) ([]string, bool, error) {
	if s, ok := singleString(rg, name); ok {
		return []string{s}, true, nil
	}
	c := fileChunk(rg, name)
	if c == nil || c.NullCount() > 0 {
		return nil, false, nil
	}
	pages := c.Pages()
	defer pages.Close() //nolint:errcheck // closing a page reader releases buffers only
	fp, ok := pages.(*parquet.FilePages)
	if !ok {
		return nil, false, nil
	}
	dict, err := fp.ReadDictionary()
	if err != nil {
		return nil, false, fmt.Errorf("read dictionary of column %s: %w", name, err)
	}
	if dict == nil {
		return nil, false, nil
	}
	out := make([]string, dict.Len())
	for i := range out {
		out[i] = string(dict.Index(int32(i)).ByteArray())
	}
	return out, true, nil
}

// timeBounds are the oldest and newest values of a timestamp column in a
// row group, according to its statistics.
func timeBounds(rg parquet.RowGroup, name string) (time.Time, time.Time, bool) {
	c := fileChunk(rg, name)
	if c == nil || c.NullCount() > 0 {
		return time.Time{}, time.Time{}, false
	}
	lo, hi, ok := c.Bounds()
	if !ok || lo.IsNull() || hi.IsNull() {
		return time.Time{}, time.Time{}, false
	}
	return valueMicros(lo), valueMicros(hi), true
}
