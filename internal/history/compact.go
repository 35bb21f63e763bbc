package history

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Compact merges the files of every partition that holds more than
// MaxFilesPerPartition files into one, so that the number of files stays
// bounded however often catalogs change. Rows are copied as they are, in
// file order.
//
// The merged file is published atomically before its inputs are removed, so
// a reader listing the partition in between sees the rows twice; that window
// lasts as long as removing a handful of files. The merged file names its
// inputs in its metadata, and Open removes any that a crash left behind, so
// the duplicates never outlive a restart.
//
// It first thins the checkpoint tables: the checkpoint partitions of the
// last checkpointDailyDays days are kept, and of the older ones one per ISO
// week (see keptCheckpointDays). Rows of the backups, repositories and
// probes tables are never removed.
//
// Compact only merges and removes files this package wrote (named
// part-<time>-<random>.parquet) in the partitions of its own tables. It is
// safe to call while appends go on: an append only adds a new file, which
// the running compaction does not touch, and a checkpoint is only written
// into the current day's partition, which is never thinned.
func (w *Writer) Compact() error {
	if err := w.begin(); err != nil {
		return fmt.Errorf("compact history: %w", err)
	}
	defer w.life.RUnlock()
	w.compactMu.Lock()
	defer w.compactMu.Unlock()
	// Thinning comes first, so that no partition is merged only to be
	// removed.
	if err := w.thinCheckpoints(); err != nil {
		return fmt.Errorf("compact history: %w", err)
	}
	for _, table := range tables() {
		if err := w.compactTable(table); err != nil {
			return fmt.Errorf("compact history table %s: %w", table, err)
		}
	}
	return nil
}

func (w *Writer) compactTable(table string) error {
	parts, err := partitions(w.tableDir(table))
	if err != nil {
		return err
	}
	for _, dir := range parts {
		l, err := listPartition(dir)
		if err != nil {
			return err
		}
		if len(l.ours) <= w.maxFiles {
			continue
		}
		now := micros(w.now())
		switch table {
		case TableBackups:
			err = compactPartition[BackupRow](dir, l.ours, now)
		case TableRepositories:
			err = compactPartition[RepositoryRow](dir, l.ours, now)
		case TableProbes:
			err = compactPartition[ProbeRow](dir, l.ours, now)
		case TableAudit:
			err = compactPartition[AuditRow](dir, l.ours, now)
		case TableEvents:
			err = compactPartition[EventRow](dir, l.ours, now)
		case TableBackupCheckpoints:
			err = compactPartition[BackupCheckpointRow](dir, l.ours, now)
		case TableSeriesCheckpoints:
			err = compactPartition[SeriesCheckpointRow](dir, l.ours, now)
		case TableRequestCounts:
			err = compactPartition[RequestCountRow](dir, l.ours, now)
		case TableCostLines:
			err = compactPartitionWith(dir, l.ours, now, readCostLines)
		}
		if err != nil {
			return err
		}
		w.logger.Debug("compacted history partition", "dir", dir, "files", len(l.ours))
	}
	return nil
}

// compactPartition writes the rows of inputs to one new file of dir, then
// removes the inputs.
func compactPartition[T any](dir string, inputs []string, now time.Time) error {
	return compactPartitionWith(dir, inputs, now, readFile[T])
}

// compactPartitionWith is compactPartition reading the inputs with read.
func compactPartitionWith[T any](dir string, inputs []string, now time.Time, read func(path string, fn func([]T) error) error) error {
	meta := map[string]string{replacesKey: strings.Join(inputs, ",")}
	_, err := publish(dir, now, meta, func(pw *parquet.GenericWriter[T]) error {
		for _, name := range inputs {
			err := read(filepath.Join(dir, name), func(rows []T) error {
				_, err := pw.Write(rows)
				return err
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge %d files of %s: %w", len(inputs), dir, err)
	}
	for _, name := range inputs {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("remove merged file: %w", err)
		}
	}
	return syncDir(dir)
}

// recover cleans what a killed writer left in a table: temporary files of
// writes that never finished (only names this package gives them), and the
// inputs of a compaction that published its merged file but was stopped
// before removing them.
func (w *Writer) recover(table string) error {
	parts, err := partitions(w.tableDir(table))
	if err != nil {
		return err
	}
	for _, dir := range parts {
		l, err := listPartition(dir)
		if err != nil {
			return err
		}
		changed := false
		for _, name := range l.temps {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove unfinished file: %w", err)
			}
			w.logger.Info("removed unfinished history file", "dir", dir, "file", name)
			changed = true
		}
		present := map[string]bool{}
		for _, name := range l.ours {
			present[name] = true
		}
		for _, name := range l.ours {
			if !present[name] {
				continue
			}
			replaced, err := replacedFiles(filepath.Join(dir, name))
			if err != nil {
				return err
			}
			for _, old := range replaced {
				if old == name || !present[old] {
					continue
				}
				if err := os.Remove(filepath.Join(dir, old)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("remove merged file: %w", err)
				}
				w.logger.Info("removed file an interrupted compaction merged", "dir", dir, "file", old, "into", name)
				present[old] = false
				changed = true
			}
		}
		if changed {
			if err := syncDir(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

func replacedFiles(path string) (names []string, err error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	return replacedBy(pf), nil
}
