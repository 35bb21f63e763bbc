package duck

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Root is where a history lives: a local directory today, an
// object-storage prefix later. It tells DuckDB which files make up a table
// and which directories it may read.
type Root interface {
	// Glob returns the pattern of a table's Parquet files, as read_parquet
	// takes it.
	Glob(table string) string
	// HasData reports whether a table has at least one data file.
	HasData(table string) (bool, error)
	// Partitions lists the days (YYYY-MM-DD) of a table's partitions that
	// hold at least one Parquet file, oldest first.
	Partitions(table string) ([]string, error)
	// PartitionGlob returns the pattern of the Parquet files of one
	// partition of a table.
	PartitionGlob(table, day string) string
	// Readable is the prefix DuckDB is allowed to read; nothing outside it
	// is reachable from a query.
	Readable() string
	// String names the root in messages.
	String() string
}

// ParseRoot returns the root a --history flag or history.root names.
func ParseRoot(s string) (Root, error) {
	if s == "" {
		return nil, errors.New("empty history root")
	}
	if scheme, _, ok := strings.Cut(s, "://"); ok {
		return nil, fmt.Errorf("history root %s: %s:// roots are not supported by the analyzer yet; copy the history to a local directory first", s, scheme)
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		return nil, fmt.Errorf("history root %s: %w", s, err)
	}
	st, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("history root %s does not exist: run the exporter first, or pass --history", abs)
	}
	if err != nil {
		return nil, fmt.Errorf("history root %s: %w", abs, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("history root %s is not a directory", abs)
	}
	return Dir(abs), nil
}

// Dir is a history in a local directory:
// <dir>/<table>/dt=YYYY-MM-DD/<file>.parquet.
type Dir string

// Glob implements Root. Only files ending in .parquet inside a partition
// directory match, so files a writer is still writing (named .<name>.tmp)
// are never read.
func (d Dir) Glob(table string) string {
	return filepath.Join(string(d), table, "dt=*", "*.parquet")
}

// HasData implements Root.
func (d Dir) HasData(table string) (bool, error) {
	dir := filepath.Join(string(d), table)
	parts, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("list %s: %w", dir, err)
	}
	for _, p := range parts {
		if !p.IsDir() || !strings.HasPrefix(p.Name(), "dt=") {
			continue
		}
		files, err := filepath.Glob(filepath.Join(dir, p.Name(), "*.parquet"))
		if err != nil {
			return false, fmt.Errorf("list %s: %w", p.Name(), err)
		}
		if len(files) > 0 {
			return true, nil
		}
	}
	return false, nil
}

// Partitions implements Root.
func (d Dir) Partitions(table string) ([]string, error) {
	dir := filepath.Join(string(d), table)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var days []string
	for _, e := range entries {
		day, ok := strings.CutPrefix(e.Name(), "dt=")
		if !e.IsDir() || !ok {
			continue
		}
		if _, err := time.Parse(time.DateOnly, day); err != nil {
			continue
		}
		files, err := filepath.Glob(d.PartitionGlob(table, day))
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", e.Name(), err)
		}
		if len(files) > 0 {
			days = append(days, day)
		}
	}
	slices.Sort(days)
	return days, nil
}

// PartitionGlob implements Root.
func (d Dir) PartitionGlob(table, day string) string {
	return filepath.Join(string(d), table, "dt="+day, "*.parquet")
}

// Readable implements Root.
func (d Dir) Readable() string { return string(d) + string(filepath.Separator) }

func (d Dir) String() string { return string(d) }
