package billing

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// Import is what importing bills with one set of columns did.
type Import struct {
	Files  []string `json:"files"`
	Format string   `json:"format"`
	Stats
	// Written are the kept lines the history did not hold; Duplicates the
	// kept lines whose line id it held already (or that the bills repeat).
	Written    int `json:"written"`
	Duplicates int `json:"duplicates"`
}

// ImportOptions tune ImportBills.
type ImportOptions struct {
	Options
	// Threads is how many goroutines read a CSV bill; zero is one per CPU.
	Threads int
	// Now stamps collected_at; time.Now when nil.
	Now func() time.Time
}

// ImportBills imports bill files (CSV, CSV.gz or Parquet) into the
// cost_lines table of the history at root (analyze import billing): each
// file is read once by the parser of the exporter's billing sources (a CSV
// bill on opts.Threads goroutines), the kept lines whose line id the table
// does not hold are written (history.CostLineImport), and every other line
// is counted: out of scope, or rejected by reason. Files with the same
// columns (FileColumns) are a group, imported in the order of its first file,
// so that a later group sees the lines of an earlier one as held. A group
// becomes part of the table when all of it was read: an error leaves the
// table as the earlier groups made it, and returns their imports. It
// holds the history's writer lock while it runs.
func ImportBills(ctx context.Context, root string, files []string, opts ImportOptions) ([]Import, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Threads <= 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	lock, err := history.ImportLock(root)
	if err != nil {
		return nil, err
	}
	defer lock.Close() //nolint:errcheck // releasing an advisory lock
	type group struct {
		columns []string
		files   []string
	}
	var groups []*group
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		cols, err := withFile(abs, FileColumns)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", f, err)
		}
		i := slices.IndexFunc(groups, func(g *group) bool { return slices.Equal(g.columns, cols) })
		if i < 0 {
			groups = append(groups, &group{columns: cols})
			i = len(groups) - 1
		}
		groups[i].files = append(groups[i].files, abs)
	}
	var out []Import
	for _, g := range groups {
		im, err := importGroup(ctx, root, g.files, opts)
		if err != nil {
			return out, err
		}
		out = append(out, im)
	}
	return out, nil
}

// importGroup imports files with one set of columns. Its
// errors name the file they are about.
func importGroup(ctx context.Context, root string, files []string, opts ImportOptions) (Import, error) {
	im := Import{Files: files}
	ci, err := history.NewCostLineImport(root, opts.Now())
	if err != nil {
		return im, err
	}
	defer ci.Abort() //nolint:errcheck // after Commit a no-op, else it removes what this group staged
	workers := opts.Threads
	writers := make([]*history.CostLineWriter, workers)
	written, held := make([]int, workers), make([]int, workers)
	for i := range writers {
		writers[i] = ci.Writer()
	}
	emit := func(w int, lines []model.CostLine) error {
		n, h, err := writers[w].Write(lines)
		written[w] += n
		held[w] += h
		return err
	}
	for _, f := range files {
		var format string
		var stats Stats
		_, err := withFile(f, func(fh *os.File) (struct{}, error) {
			var err error
			format, stats, err = ScanFile(ctx, fh, ScanOptions{Options: opts.Options, Workers: workers}, emit)
			return struct{}{}, err
		})
		if err != nil {
			return im, fmt.Errorf("%s: %w", f, err)
		}
		im.Format = format
		im.Stats.Add(stats)
	}
	if _, err := ci.Commit(); err != nil {
		return im, err
	}
	for i := range workers {
		im.Written += written[i]
		im.Duplicates += held[i]
	}
	return im, nil
}

// withFile calls fn with the open file at path.
func withFile[T any](path string, fn func(*os.File) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close() //nolint:errcheck // read-only
	return fn(f)
}
