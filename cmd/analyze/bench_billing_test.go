package main

import (
	"bufio"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/testutil"
)

// benchCURLines is the size of the billing benchmark: 10 million CUR
// lines unless RESTORABLE_BENCH_CUR_LINES says otherwise (1000000 while
// developing).
func benchCURLines(b *testing.B) int {
	if s := os.Getenv("RESTORABLE_BENCH_CUR_LINES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("RESTORABLE_BENCH_CUR_LINES=%q is not a positive number", s)
		}
		return n
	}
	return 10_000_000
}

// benchCURFiles is how many files the lines are spread over: a month's
// bill each, as AWS delivers them.
const benchCURFiles = 10

// benchBills returns the benchmark's bills: the legacy CUR sample
// repeated until there are lines lines, in benchCURFiles files, file i
// shifted i months later, every copy with its own line item ids (the
// sample's id and the copy's number). They are generated once into the
// system's temporary directory; later runs reuse them.
func benchBills(b *testing.B, lines int) []string {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("restorable-bench-cur-v1-%d", lines))
	files := make([]string, benchCURFiles)
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("cur-%02d.csv", i))
	}
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return files
	}
	start := time.Now()
	if err := os.RemoveAll(dir); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	rows := testutil.ReadCSV(b, "../../internal/billing/testdata/aws-cur-legacy-sample.csv")
	header, sample := rows[0], rows[1:]
	col := func(name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		b.Fatalf("no column %s", name)
		return -1
	}
	id, interval := col("identity/LineItemId"), col("identity/TimeInterval")
	dates := []int{col("lineItem/UsageStartDate"), col("lineItem/UsageEndDate"), col("bill/BillingPeriodStartDate"), col("bill/BillingPeriodEndDate")}
	perFile := (lines + benchCURFiles - 1) / benchCURFiles
	written := 0
	for i, path := range files {
		out, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		bw := bufio.NewWriterSize(out, 1<<20)
		w := csv.NewWriter(bw)
		if err := w.Write(header); err != nil {
			b.Fatal(err)
		}
		shift := func(s string) string {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return s
			}
			return t.AddDate(0, i, 0).Format("2006-01-02T15:04:05.000Z")
		}
		shiftInterval := func(s string) string {
			a, z, ok := strings.Cut(s, "/")
			if !ok {
				return s
			}
			ta, err1 := time.Parse(time.RFC3339, a)
			tz, err2 := time.Parse(time.RFC3339, z)
			if err1 != nil || err2 != nil {
				return s
			}
			return ta.AddDate(0, i, 0).Format(time.RFC3339) + "/" + tz.AddDate(0, i, 0).Format(time.RFC3339)
		}
		// The sample's rows with this file's dates, once.
		shifted := make([][]string, len(sample))
		for j, r := range sample {
			r = append([]string(nil), r...)
			for _, c := range dates {
				r[c] = shift(r[c])
			}
			r[interval] = shiftInterval(r[interval])
			shifted[j] = r
		}
		row := make([]string, len(header))
		for k := 0; written < lines && k < perFile; k++ {
			src := shifted[k%len(shifted)]
			copy(row, src)
			row[id] = src[id] + "-" + strconv.Itoa(k/len(shifted))
			if err := w.Write(row); err != nil {
				b.Fatal(err)
			}
			written++
		}
		w.Flush()
		if err := w.Error(); err != nil {
			b.Fatal(err)
		}
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := out.Close(); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d CUR lines in %s at %s", lines, time.Since(start).Round(time.Second), dir)
	return files
}

// BenchmarkImportBillingCUR10M imports 10 million legacy CUR lines with
// the built analyze binary (process start, history lock and writing
// included) into a fresh history, and reads the same files with a bare
// DuckDB read_csv in the same run; it reports both throughputs, their
// ratio, the CPU time of both and the import's peak resident memory, and
// beside them the same bare read one file a query (ratio-per-file), and
// a bare DuckDB conversion of the files to Parquet (every column, no
// normalisation) and the import's ratio to it.
func BenchmarkImportBillingCUR10M(b *testing.B) {
	lines := benchCURLines(b)
	files := benchBills(b, lines)
	dir := b.TempDir()
	bin := filepath.Join(dir, "analyze")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatalf("build analyze: %v", err)
	}
	root := filepath.Join(dir, "history")
	// CPU time, beside the wall-clock time: DuckDB's bare scan of the
	// same files has measured 16.5 and 48 CPU seconds on the same machine
	// type on different days, so the ratio alone does not say enough.
	var importCPU, bareCPU time.Duration
	importOnce := func() (time.Duration, int64) {
		if err := os.RemoveAll(root); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, append([]string{"--history", root, "import", "billing", "--format", "json"}, files...)...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			b.Fatalf("analyze import billing: %v\n%.2000s", err, out)
		}
		var res struct {
			Imports []struct{ Written int } `json:"imports"`
		}
		if err := json.Unmarshal(out, &res); err != nil || len(res.Imports) != 1 || res.Imports[0].Written == 0 {
			b.Fatalf("unexpected output (%v) %.2000s", err, out)
		}
		importCPU += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		return took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss * 1024
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + f + "'"
	}
	bare := func() time.Duration {
		var r0, r1 syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r0); err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r1); err != nil {
				b.Fatal(err)
			}
			bareCPU += time.Duration(r1.Utime.Nano() - r0.Utime.Nano() + r1.Stime.Nano() - r0.Stime.Nano())
		}()
		start := time.Now()
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		var n int
		var sum float64
		q := fmt.Sprintf(`SELECT count(*), sum("lineItem/UnblendedCost") FROM read_csv([%s], header = true)`, strings.Join(quoted, ", "))
		if err := db.QueryRow(q).Scan(&n, &sum); err != nil {
			b.Fatal(err)
		}
		if n != lines {
			b.Fatalf("bare read_csv counted %d lines, want %d", n, lines)
		}
		return time.Since(start)
	}
	// bareEach reads the files as bare does, one query a file: on this
	// machine DuckDB reads ten files faster one by one than in one list.
	bareEach := func() time.Duration {
		start := time.Now()
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		total := 0
		for _, f := range quoted {
			var n int
			var sum float64
			if err := db.QueryRow(fmt.Sprintf(`SELECT count(*), sum("lineItem/UnblendedCost") FROM read_csv(%s, header = true)`, f)).Scan(&n, &sum); err != nil {
				b.Fatal(err)
			}
			total += n
		}
		if total != lines {
			b.Fatalf("bare read_csv of each file counted %d lines, want %d", total, lines)
		}
		return time.Since(start)
	}
	// convert is the other bare DuckDB pass over the files: every column
	// read (types sniffed) and written as Parquet, no normalisation.
	convert := func() time.Duration {
		out := filepath.Join(dir, "converted.parquet")
		start := time.Now()
		db, err := sql.Open("duckdb", "")
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		q := fmt.Sprintf(`COPY (SELECT * FROM read_csv([%s], header = true)) TO '%s' (FORMAT parquet)`, strings.Join(quoted, ", "), out)
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		if err := os.Remove(out); err != nil {
			b.Fatal(err)
		}
		return took
	}
	b.ResetTimer()
	var imp, scan, each, conv time.Duration
	var rss int64
	for range b.N {
		t, r := importOnce()
		imp += t
		rss = max(rss, r)
		scan += bare()
		each += bareEach()
		conv += convert()
	}
	b.StopTimer()
	verifyBenchImport(b, root, quoted)
	imp, scan, each, conv = imp/time.Duration(b.N), scan/time.Duration(b.N), each/time.Duration(b.N), conv/time.Duration(b.N)
	b.ReportMetric(float64(imp.Milliseconds()), "import-ms")
	b.ReportMetric(float64(scan.Milliseconds()), "bare-read-csv-ms")
	b.ReportMetric(float64(lines)/imp.Seconds(), "import-lines/s")
	b.ReportMetric(float64(lines)/scan.Seconds(), "bare-lines/s")
	b.ReportMetric(float64(imp)/float64(scan), "ratio")
	b.ReportMetric(float64(each.Milliseconds()), "bare-per-file-ms")
	b.ReportMetric(float64(imp)/float64(each), "ratio-per-file")
	b.ReportMetric(float64(conv.Milliseconds()), "bare-csv-to-parquet-ms")
	b.ReportMetric(float64(imp)/float64(conv), "ratio-to-parquet")
	b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(importCPU.Seconds()/float64(b.N), "import-cpu-s")
	b.ReportMetric(bareCPU.Seconds()/float64(b.N), "bare-cpu-s")
}

// verifyBenchImport checks, untimed, that the history holds one line for
// each S3 line of the bills (every one of the sample's S3 lines is kept)
// and the bills' S3 cost, as DuckDB reads them.
func verifyBenchImport(b *testing.B, root string, quoted []string) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var want, got int
	var wantCost, gotCost float64
	q := fmt.Sprintf(`SELECT count(*), sum("lineItem/UnblendedCost") FROM read_csv([%s], header = true) WHERE "lineItem/ProductCode" = 'AmazonS3'`, strings.Join(quoted, ", "))
	if err := db.QueryRow(q).Scan(&want, &wantCost); err != nil {
		b.Fatal(err)
	}
	q = fmt.Sprintf(`SELECT count(DISTINCT line_id), sum(billed_cost) FROM read_parquet('%s')`, filepath.Join(root, "cost_lines", "*", "*.parquet"))
	if err := db.QueryRow(q).Scan(&got, &gotCost); err != nil {
		b.Fatal(err)
	}
	if got != want || math.Abs(gotCost-wantCost) > 1e-6*math.Max(1, math.Abs(wantCost)) {
		b.Fatalf("history holds %d S3 lines costing %f, the bills %d costing %f", got, gotCost, want, wantCost)
	}
}
