package history

import (
	"fmt"
	"path/filepath"
	"time"
)

// Row is a row of one of the tables.
type Row interface {
	BackupRow | RepositoryRow | ProbeRow
}

// WriteRows publishes rows under root as a Writer would: one new file per
// partition, each written atomically, partitioned by collected_at,
// observed_at or start_time. It skips the duplicate filter, so it is for
// tools and tests that build a history from rows they made (the analyzer's
// fixtures and benchmarks), never for a root that a Writer has open. It
// returns the paths of the files it wrote.
func WriteRows[T Row](root string, rows []T) ([]string, error) {
	table, at := tableOf[T]()
	var paths []string
	for _, day := range byDay(rows, at) {
		t := at(&day[0])
		dir := filepath.Join(root, table, partitionOf(t))
		name, err := writeFile(dir, t, day, nil)
		if err != nil {
			return paths, fmt.Errorf("write %s rows: %w", table, err)
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	return paths, nil
}

// tableOf names the table of a row type and the time that partitions it.
func tableOf[T Row]() (string, func(*T) time.Time) {
	switch any(new(T)).(type) {
	case *BackupRow:
		return TableBackups, func(r *T) time.Time { return any(r).(*BackupRow).CollectedAt }
	case *RepositoryRow:
		return TableRepositories, func(r *T) time.Time { return any(r).(*RepositoryRow).ObservedAt }
	default:
		return TableProbes, func(r *T) time.Time { return any(r).(*ProbeRow).StartTime }
	}
}
