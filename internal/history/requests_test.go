package history

import (
	"sort"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func requestCount(op string, start time.Time, n float64, cost *float64) model.RequestCount {
	r := model.RequestCount{Origin: "cloudwatch", Source: "s3", Env: "prod", Dataset: "payments", Resource: "acme-restic", Operation: op,
		PeriodStart: start, PeriodEnd: start.Add(24 * time.Hour), Count: n}
	if cost != nil {
		r.Cost, r.Currency, r.CostKnown, r.CostEstimated = *cost, "USD", true, true
	}
	return r
}

func f64(v float64) *float64 { return &v }

// Request counts are recorded once per period: re-collecting the same
// counts adds nothing, also after a restart; a revised count adds one row;
// a known zero cost stays apart from an unknown one.
func TestRequestCountsAreRecordedOnce(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	d1 := time.Date(2025, 3, 8, 0, 0, 0, 0, time.UTC)
	d2 := d1.Add(24 * time.Hour)
	cat := &model.Catalog{Requests: []model.RequestCount{
		requestCount("GetRequests", d1, 10000, f64(0.004)),
		requestCount("GetRequests", d2, 12000, f64(0.0048)),
		requestCount("DeleteRequests", d2, 300, f64(0)),
		requestCount("AllRequests", d2, 16000, nil),
	}}
	if st := mustAppend(t, w, "s3", cat); st.Requests != 4 {
		t.Fatalf("first collection appended %d request rows, want 4", st.Requests)
	}
	c.Advance(6 * time.Hour)
	if st := mustAppend(t, w, "s3", cat); st.Requests != 0 {
		t.Errorf("an unchanged re-collection appended %d rows", st.Requests)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	if st := mustAppend(t, w, "s3", cat); st.Requests != 0 {
		t.Errorf("after a restart, an unchanged re-collection appended %d rows", st.Requests)
	}
	// CloudWatch revised the second day.
	c.Advance(6 * time.Hour)
	revised := &model.Catalog{Requests: append([]model.RequestCount(nil), cat.Requests...)}
	revised.Requests[1] = requestCount("GetRequests", d2, 12500, f64(0.005))
	if st := mustAppend(t, w, "s3", revised); st.Requests != 1 {
		t.Errorf("a revised count appended %d rows, want 1", st.Requests)
	}
	rows := readRows[RequestCountRow](t, root, TableRequestCounts)
	if len(rows) != 5 {
		t.Fatalf("request_counts has %d rows, want 5", len(rows))
	}
	sort.Slice(rows, func(i, j int) bool {
		if !rows[i].PeriodStart.Equal(rows[j].PeriodStart) {
			return rows[i].PeriodStart.Before(rows[j].PeriodStart)
		}
		if rows[i].Operation != rows[j].Operation {
			return rows[i].Operation < rows[j].Operation
		}
		return rows[i].CollectedAt.Before(rows[j].CollectedAt)
	})
	all, del := rows[1], rows[2]
	if all.Operation != "AllRequests" || all.Cost != nil || all.Currency != "" {
		t.Errorf("unknown cost row %+v", all)
	}
	if del.Operation != "DeleteRequests" || del.Cost == nil || *del.Cost != 0 || del.Currency != "USD" {
		t.Errorf("free requests row %+v", del)
	}
	if last := rows[4]; last.Count != 12500 || !last.CollectedAt.After(rows[3].CollectedAt) {
		t.Errorf("revised row %+v after %+v", last, rows[3])
	}
	// Rows map back to the counts they came from.
	if got := rows[0].RequestCount(); got != cat.Requests[0] {
		t.Errorf("round trip %+v, want %+v", got, cat.Requests[0])
	}
	// Each period's day is its partition.
	parts := files(t, root, TableRequestCounts)
	if len(parts["dt=2025-03-08"]) != 1 || len(parts["dt=2025-03-09"]) != 2 {
		t.Errorf("partitions %v", parts)
	}
}

// The exporter's own calls of a collection are recorded outside its
// catalog, once.
func TestAppendOwnRequests(t *testing.T) {
	root := t.TempDir()
	w := openTest(t, root, newClock(day0()), 0)
	own := []model.RequestCount{{Origin: "exporter", Source: "aws-costs", Operation: "Cost Explorer GetCostAndUsage",
		PeriodStart: day0(), PeriodEnd: day0().Add(time.Second), Count: 3, Cost: 0.03, Currency: "USD", CostKnown: true, CostEstimated: true}}
	for i, want := range []int{1, 0} {
		n, err := w.AppendRequests("aws-costs", own)
		if err != nil || n != want {
			t.Errorf("append %d: %d rows, %v; want %d", i, n, err, want)
		}
	}
	rows := readRows[RequestCountRow](t, root, TableRequestCounts)
	if len(rows) != 1 || rows[0].Origin != "exporter" || rows[0].Resource != "" || *rows[0].Cost != 0.03 {
		t.Errorf("rows %+v", rows)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AppendRequests("aws-costs", own); err == nil {
		t.Error("a closed writer appended")
	}
}
