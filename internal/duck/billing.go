package duck

import (
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// Import is what importing bills of one format and one set of columns
// did: such files are read by one query, in parallel.
type Import struct {
	Files  []string `json:"files"`
	Format string   `json:"format"`
	billing.Stats
	// Written are the kept lines the history did not hold; Duplicates the
	// kept lines whose line id it held already (or that the bill repeats).
	Written    int `json:"written"`
	Duplicates int `json:"duplicates"`
}

// DefaultImportMemoryLimit bounds DuckDB's memory during an import: a
// streaming read and write needs little, and beyond it DuckDB spills.
const DefaultImportMemoryLimit = "512MB"

// ImportOptions tune ImportBills.
type ImportOptions struct {
	billing.Options
	// MemoryLimit is DuckDB's memory_limit while it reads Parquet bills
	// (DefaultImportMemoryLimit when empty).
	MemoryLimit string
	// Threads is how many goroutines read a CSV bill, and DuckDB's
	// thread count for Parquet bills; zero is one per CPU.
	Threads int
	// Now stamps collected_at; time.Now when nil.
	Now func() time.Time
}

// ImportBills imports bill files (CSV, CSV.gz or Parquet) into the
// cost_lines table of the history at root: CSV bills with the exporter's
// own parser (billing.ScanCSV) on several goroutines, Parquet bills with
// DuckDB, by a query that billing.SelectSQL generates from the same rule
// table. Each file is read once; the kept lines whose line id the table
// does not hold are written as Parquet files of the table, one per UTC
// month at least, and every other line is counted: out of scope, or
// rejected by reason. A group of files becomes part of the table when all
// of it was read: an error leaves the table as the earlier groups made it.
// It holds the history's writer lock while it runs.
func ImportBills(ctx context.Context, root string, files []string, opts ImportOptions) ([]Import, error) {
	if opts.MemoryLimit == "" {
		opts.MemoryLimit = DefaultImportMemoryLimit
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	lock, err := history.ImportLock(root)
	if err != nil {
		return nil, err
	}
	defer lock.Close() //nolint:errcheck // releasing an advisory lock
	staging, err := os.MkdirTemp(filepath.Join(root, "_state"), "import-")
	if err != nil {
		return nil, fmt.Errorf("import bills: %w", err)
	}
	defer os.RemoveAll(staging) //nolint:errcheck // our own scratch directory
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return nil, fmt.Errorf("start duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close() //nolint:errcheck // in-memory database
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to duckdb: %w", err)
	}
	defer conn.Close() //nolint:errcheck // in-memory database
	settings := []string{
		"SET TimeZone = 'UTC'",
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET preserve_insertion_order = false",
		fmt.Sprintf("SET memory_limit = %s", quote(opts.MemoryLimit)),
		fmt.Sprintf("SET temp_directory = %s", quote(filepath.Join(staging, "spill"))),
		// A partitioned write buffers each thread's rows of a partition
		// until this many (524,288 by default): with a month and a status
		// per partition that is most of the memory limit, and it spilled.
		// One row group's worth keeps the buffers small.
		"SET partitioned_write_flush_threshold = 122880",
	}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	// Files of one kind (CSV or Parquet) with the same columns are one
	// group, imported together; groups keep the order of their first
	// file, so that a later group sees the lines of an earlier one as
	// held. CSV files are grouped by their header, Parquet files by the
	// columns DuckDB describes.
	type group struct {
		csv    bool
		header []string
		cols   []billing.Column
		files  []string
	}
	var groups []*group
	for _, f := range files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("import %s: %w", f, err)
		}
		var g *group
		if isParquet(abs) {
			cols, err := describe(ctx, conn, readSQL([]string{abs}))
			if err != nil {
				return nil, fmt.Errorf("import %s: %w", f, err)
			}
			for _, c := range groups {
				if !c.csv && slices.Equal(c.cols, cols) {
					g = c
					break
				}
			}
			if g == nil {
				g = &group{cols: cols}
				groups = append(groups, g)
			}
		} else {
			header, err := csvHeader(abs)
			if err != nil {
				return nil, fmt.Errorf("import %s: %w", f, err)
			}
			for _, c := range groups {
				if c.csv && slices.Equal(c.header, header) {
					g = c
					break
				}
			}
			if g == nil {
				g = &group{csv: true, header: header}
				groups = append(groups, g)
			}
		}
		g.files = append(g.files, abs)
	}
	var out []Import
	for i, g := range groups {
		var im Import
		if g.csv {
			im, err = importCSV(ctx, root, g.files, opts)
		} else {
			im, err = importParquet(ctx, conn, root, filepath.Join(staging, fmt.Sprint(i)), g.files, g.cols, opts)
		}
		if err != nil {
			return out, fmt.Errorf("import %s: %w", strings.Join(g.files, ", "), err)
		}
		out = append(out, im)
	}
	return out, nil
}

// readSQL is the relation of Parquet bill files.
func readSQL(files []string) string {
	list := make([]string, len(files))
	for i, f := range files {
		list[i] = quote(f)
	}
	return fmt.Sprintf("read_parquet([%s])", strings.Join(list, ", "))
}

func isParquet(path string) bool { return strings.HasSuffix(strings.ToLower(path), ".parquet") }

// openCSV opens a CSV bill, uncompressed when its name ends in .gz.
func openCSV(path string) (io.Reader, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	lower := strings.ToLower(path)
	switch ext := filepath.Ext(lower); ext {
	case ".gz":
		z, err := gzip.NewReader(f)
		if err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("read gzip: %w", err)
		}
		return z, func() error { return errors.Join(z.Close(), f.Close()) }, nil
	case ".zst", ".zstd", ".bz2", ".xz", ".lz4", ".snappy", ".zip":
		_ = f.Close()
		return nil, nil, fmt.Errorf("%s compression is not read: decompress the bill, or gzip it", ext)
	}
	return f, f.Close, nil
}

// csvHeader returns the columns of a CSV bill.
func csvHeader(path string) ([]string, error) {
	r, closeFn, err := openCSV(path)
	if err != nil {
		return nil, err
	}
	defer closeFn() //nolint:errcheck // read-only
	return billing.CSVHeader(r)
}

// importCSV reads CSV bills with the exporter's parser (billing.ScanCSV)
// on opts.Threads goroutines, each writing the new kept lines to its own
// files of the table (history.CostLineImport), which become part of the
// table when every file was read.
func importCSV(ctx context.Context, root string, files []string, opts ImportOptions) (Import, error) {
	im := Import{Files: files}
	workers := opts.Threads
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ci, err := history.NewCostLineImport(root, opts.Now())
	if err != nil {
		return im, err
	}
	defer ci.Abort() //nolint:errcheck // after Commit, a no-op; else removes our staged files
	writers := make([]*history.CostLineWriter, workers)
	written, held := make([]int, workers), make([]int, workers)
	for i := range writers {
		writers[i] = ci.Writer()
	}
	for _, f := range files {
		r, closeFn, err := openCSV(f)
		if err != nil {
			return im, err
		}
		format, stats, err := billing.ScanCSV(ctx, r, billing.ScanOptions{Options: opts.Options, Workers: workers}, func(w int, lines []model.CostLine) error {
			n, h, err := writers[w].Write(lines)
			written[w] += n
			held[w] += h
			return err
		})
		_ = closeFn()
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

// importParquet reads Parquet bills with DuckDB: billing.SelectSQL
// normalises them as the exporter's parser does.
func importParquet(ctx context.Context, conn *sql.Conn, root, staging string, files []string, cols []billing.Column, opts ImportOptions) (Import, error) {
	im := Import{Files: files}
	from := readSQL(files)
	q, format, err := billing.SelectSQL(opts.Format, cols, from, opts.Options)
	if err != nil {
		return im, err
	}
	im.Format = format
	held := "false"
	if has, err := Dir(root).HasData(history.TableCostLines); err != nil {
		return im, err
	} else if has {
		held = fmt.Sprintf("line_id IN (SELECT line_id FROM read_parquet(%s))", quote(Dir(root).Glob(history.TableCostLines)))
	}
	now := opts.Now().UTC().Truncate(time.Microsecond)
	// Only new kept lines carry their columns and a day into the files;
	// the others are written as their status alone, one partition per
	// status, to be counted. line_id is the one column the held check
	// reads before the status is final.
	outCols := []string{"final AS status", "CASE WHEN final = 'ok' THEN dt END AS dt"}
	for _, c := range billing.OutputColumns {
		outCols = append(outCols, fmt.Sprintf("CASE WHEN final = 'ok' THEN %s END AS %s", c, c))
	}
	outCols = append(outCols, fmt.Sprintf("CASE WHEN final = 'ok' THEN TIMESTAMPTZ %s END AS collected_at", quote(now.Format("2006-01-02 15:04:05.999999+00"))))
	copySQL := fmt.Sprintf(`COPY (
		SELECT %s FROM (SELECT *, CASE WHEN status = 'ok' AND %s THEN 'held' ELSE status END AS final FROM (%s))
	) TO %s (FORMAT parquet, PARTITION_BY (status, dt))`, strings.Join(outCols, ", "), held, q, quote(staging))
	if _, err := conn.ExecContext(ctx, copySQL); err != nil {
		return im, fmt.Errorf("read and normalise: %w", err)
	}
	counts, err := conn.QueryContext(ctx, fmt.Sprintf(
		"SELECT status, count(*) FROM read_parquet(%s, hive_partitioning = true, hive_types = {'status': VARCHAR, 'dt': VARCHAR}) GROUP BY status",
		quote(filepath.Join(staging, "*", "*", "*.parquet"))))
	if err != nil {
		return im, fmt.Errorf("count lines: %w", err)
	}
	for counts.Next() {
		var status string
		var n int
		if err := counts.Scan(&status, &n); err != nil {
			_ = counts.Close()
			return im, err
		}
		im.Rows += n
		switch status {
		case billing.StatusOK:
			im.Kept += n
			im.Written += n
		case "held":
			im.Kept += n
			im.Duplicates += n
		case billing.StatusOutOfScope:
			im.OutOfScope += n
		default:
			if im.Rejected == nil {
				im.Rejected = map[string]int{}
			}
			im.Rejected[status] += n
		}
	}
	if err := errors.Join(counts.Err(), counts.Close()); err != nil {
		return im, fmt.Errorf("count lines: %w", err)
	}
	okDir := filepath.Join(staging, "status="+billing.StatusOK)
	if im.Written > 0 {
		repeats, err := dedupeStaged(ctx, conn, okDir)
		if err != nil {
			return im, err
		}
		im.Written -= repeats
		im.Duplicates += repeats
	}
	parts, err := filepath.Glob(filepath.Join(okDir, "dt=*"))
	if err != nil {
		return im, err
	}
	for _, part := range parts {
		day, err := time.Parse(time.DateOnly, strings.TrimPrefix(filepath.Base(part), "dt="))
		if err != nil {
			return im, fmt.Errorf("staged partition %s: %w", part, err)
		}
		staged, err := filepath.Glob(filepath.Join(part, "*.parquet"))
		if err != nil {
			return im, err
		}
		for _, f := range staged {
			if _, err := history.AdoptFile(root, history.TableCostLines, day, f, now); err != nil {
				return im, err
			}
		}
	}
	return im, nil
}

// dedupeStaged rewrites the staged kept lines when the bill repeats a line
// id, keeping one line of each, and returns how many it dropped. Bills
// rarely do, so the usual cost is one count over the staged files.
func dedupeStaged(ctx context.Context, conn *sql.Conn, okDir string) (int, error) {
	glob := quote(filepath.Join(okDir, "*", "*.parquet"))
	// Counting distinct 64-bit hashes of the ids holds 8 bytes a line, not
	// the ids: equal hashes of different ids (about one chance in a
	// million for ten million lines) only send the import down the exact
	// path below, which counts what it drops itself.
	var total, distinct int
	if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*), count(DISTINCT hash(line_id)) FROM read_parquet(%s)", glob)).Scan(&total, &distinct); err != nil {
		return 0, fmt.Errorf("count repeated lines: %w", err)
	}
	if distinct == total {
		return 0, nil
	}
	deduped := okDir + ".deduped"
	_, err := conn.ExecContext(ctx, fmt.Sprintf(`COPY (
		SELECT * FROM read_parquet(%s, hive_partitioning = true, hive_types = {'dt': VARCHAR})
		QUALIFY row_number() OVER (PARTITION BY line_id ORDER BY collected_at) = 1
	) TO %s (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (dt))`, glob, quote(deduped)))
	if err != nil {
		return 0, fmt.Errorf("drop repeated lines: %w", err)
	}
	var kept int
	if err := conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM read_parquet(%s)", quote(filepath.Join(deduped, "*", "*.parquet")))).Scan(&kept); err != nil {
		return 0, fmt.Errorf("count lines kept: %w", err)
	}
	if err := os.RemoveAll(okDir); err != nil {
		return 0, err
	}
	return total - kept, os.Rename(deduped, okDir)
}

// describe returns the columns of a relation.
func describe(ctx context.Context, conn *sql.Conn, from string) ([]billing.Column, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE SELECT * FROM "+from)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close() //nolint:errcheck // read-only
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var cols []billing.Column
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		cols = append(cols, billing.Column{Name: name, Type: typ})
	}
	return cols, rows.Err()
}
