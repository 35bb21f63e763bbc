package billing

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// Import is what importing bills of one kind (CSV or Parquet) and one set
// of columns did.
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
// is counted: out of scope, or rejected by reason. Files of one kind with
// the same columns are a group, imported in the order of its first file,
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
		parquet bool
		columns []string
		files   []string
	}
	var groups []*group
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		isParquet := strings.HasSuffix(strings.ToLower(abs), ".parquet")
		var cols []string
		if isParquet {
			cols, err = withParquet(abs, ParquetColumns)
		} else {
			cols, err = withCSV(abs, CSVHeader)
		}
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", f, err)
		}
		i := slices.IndexFunc(groups, func(g *group) bool { return g.parquet == isParquet && slices.Equal(g.columns, cols) })
		if i < 0 {
			groups = append(groups, &group{parquet: isParquet, columns: cols})
			i = len(groups) - 1
		}
		groups[i].files = append(groups[i].files, abs)
	}
	var out []Import
	for _, g := range groups {
		im, err := importGroup(ctx, root, g.files, g.parquet, opts)
		if err != nil {
			return out, err
		}
		out = append(out, im)
	}
	return out, nil
}

// importGroup imports files of one kind and one set of columns. Its
// errors name the file they are about.
func importGroup(ctx context.Context, root string, files []string, isParquet bool, opts ImportOptions) (Import, error) {
	im := Import{Files: files}
	ci, err := history.NewCostLineImport(root, opts.Now())
	if err != nil {
		return im, err
	}
	defer ci.Abort() //nolint:errcheck // after Commit a no-op, else it removes what this group staged
	workers := opts.Threads
	if isParquet {
		workers = 1
	}
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
		if isParquet {
			_, err = withParquet(f, func(r io.ReaderAt, size int64) (struct{}, error) {
				format, stats, err = ScanParquet(ctx, r, size, opts.Options, func(lines []model.CostLine) error { return emit(0, lines) })
				return struct{}{}, err
			})
		} else {
			_, err = withCSV(f, func(r io.Reader) (struct{}, error) {
				format, stats, err = ScanCSV(ctx, r, ScanOptions{Options: opts.Options, Workers: workers}, emit)
				return struct{}{}, err
			})
		}
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

// withCSV calls fn with the text of a CSV bill, uncompressed when its name
// ends in .gz. Other compressions are refused by name.
func withCSV[T any](path string, fn func(io.Reader) (T, error)) (T, error) {
	var zero T
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".snappy", ".zip":
		return zero, fmt.Errorf("%s compression is not read: decompress the bill, or gzip it", ext)
	}
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close() //nolint:errcheck // read-only
	var r io.Reader = f
	if strings.EqualFold(filepath.Ext(path), ".gz") {
		z, err := gzip.NewReader(f)
		if err != nil {
			return zero, fmt.Errorf("read gzip: %w", err)
		}
		defer z.Close() //nolint:errcheck // read-only
		r = z
	}
	v, err := fn(r)
	if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) {
		err = fmt.Errorf("read gzip: %w", err)
	}
	return v, err
}

// withParquet calls fn with a Parquet bill.
func withParquet[T any](path string, fn func(io.ReaderAt, int64) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err
	}
	defer f.Close() //nolint:errcheck // read-only
	fi, err := f.Stat()
	if err != nil {
		return zero, err
	}
	return fn(f, fi.Size())
}
