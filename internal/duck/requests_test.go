package duck

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	billcollector "github.com/restorable/restorable/collectors/billing"
	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

// The request counts the exporter writes read back as the request_counts
// view, with the columns the empty view has, a NULL cost where nothing
// priced the requests, and the period's day as dt.
func TestRequestCountsView(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	w, err := history.Open(dir, history.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	count := func(op string, n, cost float64, known bool) model.RequestCount {
		return model.RequestCount{Origin: "cloudwatch", Source: "s3", Env: "prod", Dataset: "payments", Resource: "acme", Operation: op,
			PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Count: n, Cost: cost, Currency: map[bool]string{true: "USD"}[known], CostKnown: known, CostEstimated: known}
	}
	cat := &model.Catalog{Requests: []model.RequestCount{count("GetRequests", 10000, 0.004, true), count("AllRequests", 16000, 0, false)}}
	if _, err := w.AppendCatalog("s3", cat); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, dir)
	ctx := context.Background()
	rows, err := db.Query(ctx, "SELECT operation, count, cost, CAST(dt AS VARCHAR) FROM request_counts ORDER BY operation")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // test
	var got []string
	for rows.Next() {
		var op, dt string
		var n float64
		var cost sql.NullFloat64
		if err := rows.Scan(&op, &n, &cost, &dt); err != nil {
			t.Fatal(err)
		}
		got = append(got, op)
		if dt != "2026-11-29" || (op == "AllRequests") == cost.Valid || op == "GetRequests" && cost.Float64 != 0.004 {
			t.Errorf("%s: count %v cost %v dt %s", op, n, cost, dt)
		}
	}
	if len(got) != 2 {
		t.Errorf("rows %v", got)
	}
	// The view of written files has the columns of the empty view.
	var cols []string
	crows, err := db.Query(ctx, "SELECT column_name FROM (DESCRIBE request_counts)")
	if err != nil {
		t.Fatal(err)
	}
	defer crows.Close() //nolint:errcheck // test
	for crows.Next() {
		var c string
		if err := crows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	want := Columns(TableRequestCounts)
	if len(cols) != len(want) {
		t.Fatalf("columns %v, want %d", cols, len(want))
	}
	for i, c := range want {
		if cols[i] != c.Name {
			t.Errorf("column %d is %s, want %s", i, cols[i], c.Name)
		}
	}
}

// viewColumns returns the columns of a view, with their types.
func viewColumns(t *testing.T, db *DB, view string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT column_name || ' ' || column_type FROM (DESCRIBE "+view+")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // test
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	return cols
}

// The request_counts view holds the rows of the table's files and the
// bills' request counts derived from cost_lines, with the columns and
// types of the empty view, whether the history has request count files,
// cost lines or both; a history with neither still has the view.
func TestRequestCountsViewAddsBills(t *testing.T) {
	day := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	cw := model.RequestCount{Origin: "cloudwatch", Source: "s3", Env: "prod", Dataset: "payments", Resource: "acme", Operation: "GetRequests",
		PeriodStart: day, PeriodEnd: day.Add(24 * time.Hour), Count: 10000, Cost: 0.004, Currency: "USD", CostKnown: true, CostEstimated: true}
	line := model.CostLine{Source: "bills", Format: "cur", LineID: "l1", PeriodStart: day.Add(5 * time.Hour), PeriodEnd: day.Add(6 * time.Hour),
		Provider: "AWS", Service: "AmazonS3", Resource: "acme", Category: model.CostRequests, UsageType: "EUW2-Requests-Tier1",
		Quantity: 2000, Unit: "Requests", BilledCost: 0.01, Currency: "USD", Env: "prod", Dataset: "payments"}
	empty := openDB(t, t.TempDir())
	want := viewColumns(t, empty, TableRequestCounts)
	if len(want) != len(Columns(TableRequestCounts)) {
		t.Fatalf("empty view: %v", want)
	}
	for _, tc := range []struct {
		name    string
		cat     model.Catalog
		origins string
	}{
		{"files and bills", model.Catalog{Requests: []model.RequestCount{cw}, CostLines: []model.CostLine{line}}, "bill cloudwatch"},
		{"bills only", model.Catalog{CostLines: []model.CostLine{line}}, "bill"},
		{"files only", model.Catalog{Requests: []model.RequestCount{cw}}, "cloudwatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := history.Open(dir, history.Options{Now: func() time.Time { return day.Add(30 * time.Hour) }})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.AppendCatalog("src", &tc.cat); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			db := openDB(t, dir)
			if got := viewColumns(t, db, TableRequestCounts); strings.Join(got, ", ") != strings.Join(want, ", ") {
				t.Errorf("columns\n%v\nwant\n%v", got, want)
			}
			if !db.Has(TableRequestCounts) {
				t.Error("the view has rows but Has says it has none")
			}
			var origins, bill string
			if err := db.QueryRow(context.Background(), `SELECT string_agg(origin, ' ' ORDER BY origin),
				coalesce(string_agg(operation || ' ' || count || ' ' || cost || ' ' || env || ' ' || CAST(dt AS VARCHAR), '') FILTER (origin = 'bill'), '')
				FROM request_counts`).Scan(&origins, &bill); err != nil {
				t.Fatal(err)
			}
			if origins != tc.origins {
				t.Errorf("origins %q, want %q", origins, tc.origins)
			}
			if strings.Contains(tc.origins, "bill") && bill != "Requests-Tier1 2000.0 0.01 prod 2026-11-29" {
				t.Errorf("bill row %q", bill)
			}
		})
	}
}

// billRequestRows reads the bill rows of the request_counts view of a
// history, in the order RequestCounts gives (DuckDB orders text bytewise,
// as Go does).
func billRequestRows(t *testing.T, dir string) []model.RequestCount {
	t.Helper()
	db := openDB(t, dir)
	rows, err := db.Query(context.Background(), `SELECT source, coalesce(env, ''), coalesce(dataset, ''), coalesce(resource, ''), operation,
		period_start, period_end, count, cost, coalesce(currency, ''), cost_estimated, content_hash IS NULL, CAST(dt AS VARCHAR)
		FROM request_counts WHERE origin = 'bill'
		ORDER BY period_start, period_end, source, coalesce(env, ''), coalesce(dataset, ''), coalesce(resource, ''), operation`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // test
	var out []model.RequestCount
	for rows.Next() {
		r := model.RequestCount{Origin: billing.OriginBill}
		var cost sql.NullFloat64
		var noHash bool
		var dt string
		if err := rows.Scan(&r.Source, &r.Env, &r.Dataset, &r.Resource, &r.Operation, &r.PeriodStart, &r.PeriodEnd, &r.Count, &cost,
			&r.Currency, &r.CostEstimated, &noHash, &dt); err != nil {
			t.Fatal(err)
		}
		r.PeriodStart, r.PeriodEnd = r.PeriodStart.UTC(), r.PeriodEnd.UTC()
		r.Cost, r.CostKnown = cost.Float64, cost.Valid
		if !noHash || dt != r.PeriodStart.Format(time.DateOnly) {
			t.Errorf("bill row %+v: content_hash not NULL or dt %s", r, dt)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRequests reports how want and got differ: counts and costs within
// what summing in another order changes.
func sameRequests(t *testing.T, what string, got, want []model.RequestCount) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bill request counts, want %d", what, len(got), len(want))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	for i := range want {
		g, w := got[i], want[i]
		if g.Source != w.Source || g.Env != w.Env || g.Dataset != w.Dataset || g.Resource != w.Resource || g.Operation != w.Operation ||
			!g.PeriodStart.Equal(w.PeriodStart) || !g.PeriodEnd.Equal(w.PeriodEnd) || !near(g.Count, w.Count) ||
			g.CostKnown != w.CostKnown || !near(g.Cost, w.Cost) || g.Currency != w.Currency || g.CostEstimated {
			t.Errorf("%s: count %d is\n%+v, want\n%+v", what, i, g, w)
		}
	}
}

// The exporter and the analyzer count a bill's requests alike. The
// exporter's billing source collects each sample; its metrics derive the
// counts from the catalog's lines (billing.RequestCounts). The analyzer
// reads them from the request_counts view of two histories: the one the
// exporter's writer made of that catalog, and one analyze import billing
// made of the same file. All three agree count by count, and their sums
// per operation are those an independent reading of the CSV gives: the
// quantity and billed cost of the S3 lines in Requests, lifecycle
// transitions (Requests-Tier3) left out.
func TestBillRequestCountsAgree(t *testing.T) {
	for _, tc := range []struct {
		file, service, id, usage, unit, qty, cost string
	}{
		{curSample, "lineItem/ProductCode", "AmazonS3", "lineItem/UsageType", "pricing/unit", "lineItem/UsageAmount", "lineItem/UnblendedCost"},
		{focusSample, "ServiceName", "Amazon Simple Storage Service", "ChargeDescription", "ConsumedUnit", "ConsumedQuantity", "BilledCost"},
	} {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "bill.csv"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			attribution := &config.CostAttribution{Tags: config.AttributionTags{Env: "environment", Dataset: "application"}}
			src := &config.Source{Name: "bills", Type: config.TypeBilling, Billing: &config.BillingOptions{Path: dir, Attribution: attribution}}
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			c, err := billcollector.New(src, slog.New(slog.DiscardHandler), func() time.Time { return now })
			if err != nil {
				t.Fatal(err)
			}
			cat, err := c.Collect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			exporter := billing.RequestCounts(cat.CostLines)

			written := t.TempDir()
			w, err := history.Open(written, history.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.AppendCatalog("bills", cat); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			sameRequests(t, "exporter's history", billRequestRows(t, written), exporter)

			imported := t.TempDir()
			opts := billing.ImportOptions{Options: billing.Options{Source: "bills", Attribution: attribution}, Threads: 1, Now: func() time.Time { return now }}
			if _, err := billing.ImportBills(context.Background(), imported, []string{tc.file}, opts); err != nil {
				t.Fatal(err)
			}
			sameRequests(t, "imported history", billRequestRows(t, imported), exporter)

			rows := testutil.ReadCSV(t, tc.file)
			col := map[string]int{}
			for i, h := range rows[0] {
				col[h] = i
			}
			want := map[string][2]float64{}
			for _, r := range rows[1:] {
				usage := r[col[tc.usage]]
				if r[col[tc.service]] != tc.id || r[col[tc.unit]] != "Requests" || strings.HasSuffix(usage, "Requests-Tier3") {
					continue
				}
				if i := strings.Index(usage, "Requests-"); i > 0 {
					usage = usage[i:]
				}
				var q, c float64
				if _, err := fmt.Sscan(r[col[tc.qty]], &q); err != nil {
					t.Fatal(err)
				}
				if _, err := fmt.Sscan(r[col[tc.cost]], &c); err != nil {
					t.Fatal(err)
				}
				s := want[usage]
				want[usage] = [2]float64{s[0] + q, s[1] + c}
			}
			got := map[string][2]float64{}
			for _, r := range exporter {
				s := got[r.Operation]
				got[r.Operation] = [2]float64{s[0] + r.Count, s[1] + r.Cost}
			}
			if len(want) == 0 || len(got) != len(want) {
				t.Fatalf("operations %v, the file has %v", got, want)
			}
			for op, w := range want {
				if g := got[op]; math.Abs(g[0]-w[0]) > 1e-9 || math.Abs(g[1]-w[1]) > 1e-12 {
					t.Errorf("%s: %v requests costing %v, the file has %v costing %v", op, g[0], g[1], w[0], w[1])
				}
			}
		})
	}
}

// RequestCountsSQL reads a line as RequestsOf and RequestOperation do:
// every unit and usage type here, transitions and other categories, NULL
// units and usage types, and a count billed in two currencies, which has
// no cost.
func TestRequestCountsSQLAgreesWithGo(t *testing.T) {
	h := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var lines []model.CostLine
	units := []string{"Requests", "requests", "Request", " Requests ", "1000 Requests", "10000  requests", "Units", "10K", "1K Requests", "Requests-Tier1", "API Requests", "", "GB", "GB-Mo"}
	usages := []string{"USW2-Requests-Tier1", "EU-Requests-Tier2", "CAN1-Requests-SIA-Tier1", "Requests-Tier1", "usw2-Requests-Tier1", "USW2-TimedStorage-ByteHrs", "$0.004 per 10,000 GET and all other requests", ""}
	cats := []model.CostCategory{model.CostRequests, model.CostTransition, model.CostStorage}
	n := 0
	for ui, u := range units {
		for si, us := range usages {
			for _, c := range cats {
				n++
				// One unit of one operation is billed in euros: that
				// operation's counts of its period (" Requests " has the
				// same) mix currencies.
				currency := "USD"
				if us == "CAN1-Requests-SIA-Tier1" && u == "requests" {
					currency = "EUR"
				}
				lines = append(lines, model.CostLine{Source: "bills", Format: "cur", LineID: fmt.Sprint(n), PeriodStart: h.Add(time.Duration(ui%3) * time.Hour),
					PeriodEnd: h.Add(time.Duration(ui%3+1) * time.Hour), Provider: "AWS", Service: "AmazonS3", Resource: []string{"", "acme"}[si/2%2],
					Category: c, UsageType: us, Quantity: float64(n), Unit: u, BilledCost: float64(n) / 1000, Currency: currency,
					Env: []string{"", "prod"}[si%2]})
			}
		}
	}
	dir := t.TempDir()
	w, err := history.Open(dir, history.Options{Now: func() time.Time { return h }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendCatalog("bills", &model.Catalog{CostLines: lines}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := billing.RequestCounts(lines)
	mixed := 0
	for _, r := range want {
		if !r.CostKnown {
			mixed++
		}
	}
	if len(want) < 20 || mixed == 0 || mixed == len(want) {
		t.Fatalf("%d counts, %d without a cost: the cases do not cover what they should", len(want), mixed)
	}
	sameRequests(t, "SQL", billRequestRows(t, dir), want)
}
