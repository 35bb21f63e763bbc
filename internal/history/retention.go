package history

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// checkpointDailyDays is how many days before the writer's current UTC day
// every daily checkpoint partition is kept. Older ones are thinned to one
// a week: a checkpoint holds the whole retained set of its source, so daily
// ones cost a full copy of that set per source and day, while a reader of
// an old moment only needs some checkpoint before it and reads the rows
// collected since. Restart looks in the newest checkpointLookback
// partitions, which stay daily as long as the writer runs.
const checkpointDailyDays = 14

// checkpointTables are the tables thinCheckpoints thins, and nothing else:
// the backups, repositories and probes tables are the history itself.
func checkpointTables() []string {
	return []string{TableBackupCheckpoints, TableSeriesCheckpoints}
}

// thinCheckpoints removes the checkpoint partitions older than
// checkpointDailyDays, except one partition per ISO week (see
// keptCheckpointDays). It removes only the files this package wrote, then
// the partition directory when that left it empty; a partition that holds
// other files keeps them and stays.
func (w *Writer) thinCheckpoints() error {
	cutoff := partitionOf(w.now().UTC().AddDate(0, 0, -checkpointDailyDays))
	parts := map[string][]string{}
	for _, table := range checkpointTables() {
		dirs, err := partitions(w.tableDir(table))
		if err != nil {
			return err
		}
		for _, dir := range dirs {
			parts[table] = append(parts[table], filepath.Base(dir))
		}
	}
	kept := keptCheckpointDays(parts, cutoff)
	for _, table := range checkpointTables() {
		removed := false
		for _, part := range parts[table] {
			if kept[table][part] {
				continue
			}
			n, err := removeOurFiles(filepath.Join(w.tableDir(table), part))
			if err != nil {
				return fmt.Errorf("thin checkpoints of %s: %w", table, err)
			}
			w.logger.Info("removed old history checkpoints", "table", table, "partition", part, "files", n)
			removed = true
		}
		if removed {
			if err := syncDir(w.tableDir(table)); err != nil {
				return err
			}
		}
	}
	return nil
}

// keptCheckpointDays decides which partitions (dt=YYYY-MM-DD) of each
// checkpoint table to keep: every partition from the cutoff partition on,
// and of the older ones the oldest of each ISO week, so that no week is
// left without a checkpoint. A day present in both tables is preferred to
// one in a single table (a crash between a checkpoint's two files, or a
// partition emptied by hand), so that both tables keep the same day and a
// restart, which needs a checkpoint's backups and series at the same
// moment, finds both. A partition whose name is not a valid date is kept:
// it is not the writer's to judge.
func keptCheckpointDays(parts map[string][]string, cutoff string) map[string]map[string]bool {
	count := map[string]int{}
	for _, table := range checkpointTables() {
		for _, part := range parts[table] {
			count[part]++
		}
	}
	kept := map[string]map[string]bool{}
	for _, table := range checkpointTables() {
		kept[table] = map[string]bool{}
		// best is, per ISO week, the day kept among the old partitions.
		best := map[[2]int]string{}
		better := func(a, b string) bool {
			if count[a] != count[b] {
				return count[a] > count[b]
			}
			return a < b
		}
		for _, part := range parts[table] {
			day, err := time.Parse(dayLayout, strings.TrimPrefix(part, partitionPrefix))
			if err != nil || part >= cutoff {
				kept[table][part] = true
				continue
			}
			year, week := day.ISOWeek()
			k := [2]int{year, week}
			if cur, ok := best[k]; !ok || better(part, cur) {
				best[k] = part
			}
		}
		for _, part := range best {
			kept[table][part] = true
		}
	}
	return kept
}

// removeOurFiles removes the files this package wrote from a partition
// directory, and the directory when nothing else is left in it, and
// returns how many files it removed. Files being written (temporary names)
// are left to recovery; a checkpoint is only ever written into the current
// day's partition, never into one old enough to be thinned.
func removeOurFiles(dir string) (int, error) {
	l, err := listPartition(dir)
	if err != nil {
		return 0, err
	}
	for _, name := range l.ours {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return 0, fmt.Errorf("remove old checkpoint file: %w", err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", dir, err)
	}
	if len(entries) > 0 {
		return len(l.ours), syncDir(dir)
	}
	if err := os.Remove(dir); err != nil {
		return 0, fmt.Errorf("remove empty partition: %w", err)
	}
	return len(l.ours), nil
}
