package duck

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
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
