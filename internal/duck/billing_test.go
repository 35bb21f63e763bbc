package duck

import (
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

const (
	focusSample = "../billing/testdata/focus-1.0-sample.csv"
	curSample   = "../billing/testdata/aws-cur-legacy-sample.csv"
	messySample = "../billing/testdata/messy-focus.csv"
)

func memDB(t *testing.T) *sql.DB {
	t.Helper()
	c, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// snake turns a legacy CUR column name into its CUR 2.0 name:
// lineItem/UsageAccountId is line_item_usage_account_id.
func snake(s string) string {
	var b strings.Builder
	prev := '/'
	for _, r := range s {
		switch {
		case r == '/' || r == ':':
			b.WriteRune('_')
		case unicode.IsUpper(r):
			if prev != '/' && prev != ':' && !unicode.IsUpper(prev) {
				b.WriteRune('_')
			}
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// cur2FromLegacy writes the legacy CUR sample as a CUR 2.0 Parquet file:
// snake_case columns, typed dates and amounts, the product/ columns as
// the map product, and a resource_tags map that tags Glacier storage
// lines with user_env=prod.
func cur2FromLegacy(t *testing.T, db *sql.DB, out string) {
	t.Helper()
	f, err := os.Open(curSample)
	if err != nil {
		t.Fatal(err)
	}
	header, err := csv.NewReader(f).Read()
	_ = f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var cols, keys, vals []string
	for _, h := range header {
		q := billing.SQLIdent(h)
		if k, ok := strings.CutPrefix(h, "product/"); ok {
			keys = append(keys, billing.SQLString(snake(k)))
			vals = append(vals, q)
			continue
		}
		name := snake(h)
		switch h {
		case "lineItem/UsageStartDate", "lineItem/UsageEndDate", "bill/BillingPeriodStartDate", "bill/BillingPeriodEndDate":
			cols = append(cols, fmt.Sprintf("CAST(%s AS TIMESTAMP) AS %s", q, name))
		case "lineItem/UsageAmount", "lineItem/UnblendedCost", "lineItem/BlendedCost", "pricing/publicOnDemandCost":
			cols = append(cols, fmt.Sprintf("CAST(%s AS DOUBLE) AS %s", q, name))
		default:
			cols = append(cols, fmt.Sprintf("%s AS %s", q, name))
		}
	}
	cols = append(cols, fmt.Sprintf("MAP([%s], [%s]) AS product", strings.Join(keys, ", "), strings.Join(vals, ", ")))
	cols = append(cols, `CASE WHEN "lineItem/UsageType" LIKE '%GlacierByteHrs' THEN MAP {'user_env': 'prod'} ELSE MAP {'user_env': NULL}::MAP(VARCHAR, VARCHAR) END AS resource_tags`)
	q := fmt.Sprintf("COPY (SELECT %s FROM read_csv(%s, header = true, all_varchar = true)) TO %s (FORMAT parquet)",
		strings.Join(cols, ", "), billing.SQLString(curSample), billing.SQLString(out))
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
}

func readGo(t *testing.T, path string, opts billing.Options) *billing.Bill {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := billing.ReadFile(context.Background(), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// storedLines reads the cost_lines table of a history.
func storedLines(t *testing.T, db *sql.DB, root string) map[string]model.CostLine {
	t.Helper()
	rows, err := db.Query(fmt.Sprintf(`SELECT line_id, coalesce(source, ''), format, period_start, period_end, provider, coalesce(account, ''),
		coalesce(region, ''), service, coalesce(resource, ''), category, coalesce(storage_class, ''), coalesce(usage_type, ''),
		quantity, coalesce(unit, ''), billed_cost, effective_cost, list_cost, currency, coalesce(env, ''), coalesce(dataset, '')
		FROM read_parquet(%s)`, billing.SQLString(filepath.Join(root, "cost_lines", "*", "*.parquet"))))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]model.CostLine{}
	for rows.Next() {
		var l model.CostLine
		if err := rows.Scan(&l.LineID, &l.Source, &l.Format, &l.PeriodStart, &l.PeriodEnd, &l.Provider, &l.Account, &l.Region,
			&l.Service, &l.Resource, &l.Category, &l.StorageClass, &l.UsageType, &l.Quantity, &l.Unit,
			&l.BilledCost, &l.EffectiveCost, &l.ListCost, &l.Currency, &l.Env, &l.Dataset); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[l.LineID]; dup {
			t.Fatalf("line %s stored twice", l.LineID)
		}
		l.PeriodStart, l.PeriodEnd = l.PeriodStart.UTC(), l.PeriodEnd.UTC()
		out[l.LineID] = l
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sameCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// What the import stores, as the analyzer's DuckDB reads it back, is what
// a billing source of the exporter reads from the same bill: the same
// lines kept, out of scope and rejected by reason, the same line ids,
// categories, classes, amounts, periods and attribution; a re-import
// writes nothing, and the exporter's writer sees the lines as held.
func TestImportAgreesWithGoParser(t *testing.T) {
	db := memDB(t)
	cur2 := filepath.Join(t.TempDir(), "cur2.parquet")
	cur2FromLegacy(t, db, cur2)
	// The messy bill as Parquet text columns (its row with too many
	// fields left out): NULL literals, odd timestamps, bad amounts and
	// tags in Parquet strings.
	messyParquet := filepath.Join(t.TempDir(), "messy.parquet")
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, header = true, all_varchar = true, ignore_errors = true)) TO %s (FORMAT parquet)",
		billing.SQLString(messySample), billing.SQLString(messyParquet))); err != nil {
		t.Fatal(err)
	}
	// The FOCUS sample as Parquet, with the types DuckDB detects (amounts
	// DOUBLE, periods TIMESTAMP, ids BIGINT) and real NULLs.
	focusParquet := filepath.Join(t.TempDir(), "focus.parquet")
	if _, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_csv(%s, header = true, nullstr = 'NULL')) TO %s (FORMAT parquet)",
		billing.SQLString(focusSample), billing.SQLString(focusParquet))); err != nil {
		t.Fatal(err)
	}
	att := &config.CostAttribution{
		Buckets: map[string]config.AttributionTarget{"acme-prod-backups": {Env: "prod", Dataset: "payments"}},
		Tags:    config.AttributionTags{Env: "user:env", Dataset: "app"},
	}
	for _, tc := range []struct {
		name, file string
		att        *config.CostAttribution
		format     string
	}{
		{"focus", focusSample, nil, billing.FormatFOCUS},
		{"focus-parquet", focusParquet, &config.CostAttribution{Tags: config.AttributionTags{Env: "environment"}}, billing.FormatFOCUS},
		{"cur", curSample, nil, billing.FormatCUR},
		{"cur2", cur2, &config.CostAttribution{Tags: config.AttributionTags{Env: "user_env"}}, billing.FormatCUR2},
		{"messy", messySample, att, billing.FormatFOCUS},
		{"messy-parquet", messyParquet, att, billing.FormatFOCUS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := billing.Options{Source: "bills", Attribution: tc.att}
			goBill := readGo(t, tc.file, opts)
			root := t.TempDir()
			ims, err := billing.ImportBills(context.Background(), root, []string{tc.file}, billing.ImportOptions{Options: opts, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			im := ims[0]
			if im.Format != tc.format || goBill.Format != tc.format {
				t.Errorf("formats %s (import) and %s (Go), want %s", im.Format, goBill.Format, tc.format)
			}
			gs := goBill.Stats
			if im.Rows != gs.Rows || im.Kept != gs.Kept || im.OutOfScope != gs.OutOfScope || !sameCounts(im.Rejected, gs.Rejected) || im.Written != gs.Kept {
				t.Fatalf("import %+v, Go parser %+v", im, gs)
			}
			stored := storedLines(t, db, root)
			if len(stored) != len(goBill.Lines) {
				t.Fatalf("%d lines stored, Go parser kept %d", len(stored), len(goBill.Lines))
			}
			for _, g := range goBill.Lines {
				s, ok := stored[g.LineID]
				if !ok {
					t.Fatalf("line %s of the Go parser not imported", g.LineID)
				}
				g.Tags = nil
				if !reflect.DeepEqual(g, s) {
					t.Fatalf("line differs:\nGo:     %+v\nimport: %+v", g, s)
				}
			}
			again, err := billing.ImportBills(context.Background(), root, []string{tc.file}, billing.ImportOptions{Options: opts, Threads: 1})
			if err != nil {
				t.Fatal(err)
			}
			if again[0].Written != 0 || again[0].Duplicates != gs.Kept || len(storedLines(t, db, root)) != len(stored) {
				t.Errorf("re-import: %+v", again[0])
			}
			// The exporter's writer sees the imported lines as held.
			w, err := history.Open(root, history.Options{})
			if err != nil {
				t.Fatal(err)
			}
			st, err := w.AppendCatalog("bills", &model.Catalog{CostLines: goBill.Lines})
			if err != nil || st.CostLines != 0 {
				t.Errorf("the writer appended %d of the imported lines (%v)", st.CostLines, err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The samples' S3 spend in the history is what an independent reading of
// the CSV gives, and the CUR 2.0 Parquet made from the legacy CUR adds
// nothing to it: its lines are the same lines.
func TestImportedTotalsMatchTheFiles(t *testing.T) {
	db := memDB(t)
	root := t.TempDir()
	cur2 := filepath.Join(t.TempDir(), "cur2.parquet")
	cur2FromLegacy(t, db, cur2)
	ims, err := billing.ImportBills(context.Background(), root, []string{focusSample, curSample, cur2}, billing.ImportOptions{Options: billing.Options{Source: "import"}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if ims[2].Written != 0 || ims[2].Duplicates != ims[1].Written {
		t.Errorf("CUR 2.0 after the legacy CUR: %+v", ims[2])
	}
	for _, tc := range []struct {
		file, key, value, cost, service string
	}{
		{focusSample, "ServiceName", "Amazon Simple Storage Service", "BilledCost", "Amazon Simple Storage Service"},
		{curSample, "lineItem/ProductCode", "AmazonS3", "lineItem/UnblendedCost", "AmazonS3"},
	} {
		rows := testutil.ReadCSV(t, tc.file)
		ki, ci := -1, -1
		for i, h := range rows[0] {
			if h == tc.key {
				ki = i
			}
			if h == tc.cost {
				ci = i
			}
		}
		var want float64
		n := 0
		for _, r := range rows[1:] {
			if r[ki] == tc.value {
				var v float64
				if _, err := fmt.Sscan(r[ci], &v); err != nil {
					t.Fatal(err)
				}
				want += v
				n++
			}
		}
		var got float64
		var m int
		if err := db.QueryRow(fmt.Sprintf("SELECT sum(billed_cost), count(*) FROM read_parquet(%s) WHERE service = ?",
			billing.SQLString(filepath.Join(root, "cost_lines", "*", "*.parquet"))), tc.service).Scan(&got, &m); err != nil {
			t.Fatal(err)
		}
		if m != n || math.Abs(got-want) > 1e-12 {
			t.Errorf("%s: %d lines billing %.12f stored, the file has %d billing %.12f", tc.service, m, got, n, want)
		}
	}
}

// Files the import wrote are the history's own: compaction merges them
// without losing or changing a line.
func TestImportedFilesCompact(t *testing.T) {
	db := memDB(t)
	root := t.TempDir()
	dir := t.TempDir()
	data, err := os.ReadFile(curSample)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	half := len(lines) / 2
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	if err := os.WriteFile(a, []byte(strings.Join(lines[:half], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte(lines[0]+strings.Join(lines[half:], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := billing.ImportBills(context.Background(), root, []string{a, b}, billing.ImportOptions{Threads: 1}); err != nil {
		t.Fatal(err)
	}
	before := storedLines(t, db, root)
	w, err := history.Open(root, history.Options{MaxFilesPerPartition: 1, Now: func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(root, "cost_lines", "*", "*.parquet"))
	parts, _ := filepath.Glob(filepath.Join(root, "cost_lines", "*"))
	if len(files) != len(parts) {
		t.Errorf("%d files in %d partitions after compaction", len(files), len(parts))
	}
	after := storedLines(t, db, root)
	if len(after) != len(before) {
		t.Fatalf("%d lines after compaction, %d before", len(after), len(before))
	}
	for id, l := range before {
		if !reflect.DeepEqual(after[id], l) {
			t.Fatalf("line %s changed:\n%+v\n%+v", id, l, after[id])
		}
	}
}

// A bill that repeats lines keeps one of each, and counts the others as
// held.
func TestImportDropsRepeatedLines(t *testing.T) {
	data, err := os.ReadFile(curSample)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
	if !strings.HasSuffix(lines[len(lines)-1], "\n") {
		lines[len(lines)-1] += "\n"
	}
	// The whole sample, then its S3 lines once more.
	var b strings.Builder
	b.WriteString(strings.Join(lines, ""))
	repeated := 0
	for _, l := range lines[1:] {
		if strings.Contains(l, ",AmazonS3,") {
			b.WriteString(l)
			repeated++
		}
	}
	path := filepath.Join(t.TempDir(), "twice.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	ims, err := billing.ImportBills(context.Background(), t.TempDir(), []string{path}, billing.ImportOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if im := ims[0]; repeated != 799 || im.Kept != 799*2 || im.Written != 799 || im.Duplicates != 799 {
		t.Errorf("%d repeated; import %+v", repeated, im)
	}
}

// writeCURCopy writes the legacy CUR sample with every line item id
// suffixed, gzipped when the name ends in .gz, with CRLF line ends when
// crlf: a month's bill of the same account in another file.
func writeCURCopy(t *testing.T, path, suffix string, crlf bool) {
	t.Helper()
	rows := testutil.ReadCSV(t, curSample)
	id := slices.Index(rows[0], "identity/LineItemId")
	for _, r := range rows[1:] {
		r[id] += suffix
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var w io.Writer = out
	var z *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		z = gzip.NewWriter(out)
		w = z
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = crlf
	if err := cw.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if z != nil {
		if err := z.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Bills with the same columns are read together however their headers
// are spelled (a gzipped copy, CRLF line ends), bills of another format
// apart, and every line is imported once: grouping by the header line
// never merges files whose columns differ nor loses a file.
func TestImportGroupsFilesByColumns(t *testing.T) {
	dir := t.TempDir()
	gz, crlf := filepath.Join(dir, "cur-02.csv.gz"), filepath.Join(dir, "cur-03.csv")
	writeCURCopy(t, gz, "-gz", false)
	writeCURCopy(t, crlf, "-crlf", true)
	root := t.TempDir()
	ims, err := billing.ImportBills(context.Background(), root, []string{curSample, focusSample, gz, crlf}, billing.ImportOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ims) != 2 {
		t.Fatalf("%d groups, want the CUR bills and the FOCUS bill: %+v", len(ims), ims)
	}
	cur := readGo(t, curSample, billing.Options{})
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	if want := []string{abs(curSample), gz, crlf}; !slices.Equal(ims[0].Files, want) || ims[0].Format != billing.FormatCUR {
		t.Errorf("first group %s %v, want cur %v", ims[0].Format, ims[0].Files, want)
	}
	if ims[0].Written != 3*cur.Stats.Kept || ims[0].Duplicates != 0 {
		t.Errorf("CUR group wrote %d (%d duplicates), want 3 x %d", ims[0].Written, ims[0].Duplicates, cur.Stats.Kept)
	}
	if ims[1].Format != billing.FormatFOCUS || !slices.Equal(ims[1].Files, []string{abs(focusSample)}) {
		t.Errorf("second group %s %v", ims[1].Format, ims[1].Files)
	}
}

// A group of CSV bills that fails part way (a malformed record in its
// second file) adds nothing to the table and leaves nothing staged; the
// error names the file and the line. An earlier group stays imported.
func TestFailedImportLeavesTheTable(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "a.csv"), filepath.Join(dir, "b.csv")
	writeCURCopy(t, good, "-a", false)
	writeCURCopy(t, bad, "-b", false)
	data, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(data), "\n")
	lines[1000] = `x"y,` + lines[1000]
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ims, err := billing.ImportBills(context.Background(), root, []string{focusSample, good, bad}, billing.ImportOptions{Threads: 2})
	if err == nil || !strings.Contains(err.Error(), bad+": line 1001: ") {
		t.Fatalf("error %v, want %s at line 1001", err, bad)
	}
	if len(ims) != 1 || ims[0].Format != billing.FormatFOCUS || ims[0].Written == 0 {
		t.Fatalf("imports before the error: %+v", ims)
	}
	db := memDB(t)
	for id, l := range storedLines(t, db, root) {
		if l.Format != billing.FormatFOCUS {
			t.Fatalf("line %s of the failed group stored", id)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(root, "_state", "import-*")); len(left) != 0 {
		t.Errorf("staged files left: %v", left)
	}
}
