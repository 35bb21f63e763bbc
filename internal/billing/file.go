package billing

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/restorable/restorable/internal/model"
)

// A bill file's name says what it holds: .parquet is Parquet, .gz a
// gzipped CSV, anything else CSV; other compressions are refused by name
// rather than read as text. The exporter's billing sources and analyze
// import billing both read files through here.

// openCSV returns the CSV text of a file that is not Parquet.
func openCSV(f *os.File) (io.Reader, func() error, error) {
	switch ext := strings.ToLower(filepath.Ext(f.Name())); ext {
	case ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".snappy", ".zip":
		return nil, nil, fmt.Errorf("%s compression is not read: decompress the bill, or gzip it", ext)
	case ".gz":
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, nil, fmt.Errorf("read gzip: %w", err)
		}
		return z, z.Close, nil
	}
	return f, func() error { return nil }, nil
}

func isParquet(f *os.File) bool { return strings.EqualFold(filepath.Ext(f.Name()), ".parquet") }

// FileColumns returns the columns of a bill file: the header of a CSV
// bill, the column paths of a Parquet bill (ParquetColumns).
func FileColumns(f *os.File) ([]string, error) {
	if isParquet(f) {
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		return ParquetColumns(f, fi.Size())
	}
	r, done, err := openCSV(f)
	if err != nil {
		return nil, err
	}
	defer done() //nolint:errcheck // read-only
	return CSVHeader(r)
}

// ScanFile reads a bill file with ScanCSV (on opts.Workers goroutines) or
// ScanParquet (on one: worker 0), as its name says.
func ScanFile(ctx context.Context, f *os.File, opts ScanOptions, emit func(worker int, lines []model.CostLine) error) (string, Stats, error) {
	if isParquet(f) {
		fi, err := f.Stat()
		if err != nil {
			return "", Stats{}, err
		}
		return ScanParquet(ctx, f, fi.Size(), opts.Options, func(lines []model.CostLine) error { return emit(0, lines) })
	}
	r, done, err := openCSV(f)
	if err != nil {
		return "", Stats{}, err
	}
	defer done() //nolint:errcheck // read-only
	return ScanCSV(ctx, r, opts, emit)
}

// ReadFile reads a bill file with ScanFile on one goroutine and keeps its
// lines in the order of the file.
func ReadFile(ctx context.Context, f *os.File, opts Options) (*Bill, error) {
	return collect(func(emit func(int, []model.CostLine) error) (string, Stats, error) {
		return ScanFile(ctx, f, ScanOptions{Options: opts, Workers: 1}, emit)
	})
}

// collect keeps the lines a scan on one goroutine emits.
func collect(scan func(emit func(int, []model.CostLine) error) (string, Stats, error)) (*Bill, error) {
	var lines []model.CostLine
	format, stats, err := scan(func(_ int, kept []model.CostLine) error {
		lines = append(lines, kept...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Bill{Format: format, Lines: lines, Stats: stats}, nil
}
