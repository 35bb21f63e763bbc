package history

import (
	"fmt"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func costLine(id string, start time.Time, billed float64) model.CostLine {
	return model.CostLine{
		Source: "bills", Format: "cur", LineID: id, PeriodStart: start, PeriodEnd: start.Add(time.Hour),
		Provider: "AWS", Service: "AmazonS3", Category: model.CostStorage, StorageClass: "GLACIER",
		Quantity: 2, Unit: "GB-Mo", BilledCost: billed, Currency: "USD", Tags: map[string]string{"user:env": "prod"},
	}
}

// Cost lines are written once per line id, into the partition of their
// period's month: a re-collected bill adds nothing, also after a restart,
// and a zero cost stays a zero.
func TestCostLinesAreDeduplicatedByLineID(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 0)
	day1, day2 := time.Date(2023, 11, 1, 5, 0, 0, 0, time.UTC), time.Date(2023, 12, 2, 5, 0, 0, 0, time.UTC)
	cat := &model.Catalog{CostLines: []model.CostLine{costLine("a", day1, 0.5), costLine("b", day2, 0), costLine("a", day1, 0.5)}}
	if st := mustAppend(t, w, "bills", cat); st.CostLines != 2 {
		t.Fatalf("first collection appended %d cost lines, want 2", st.CostLines)
	}
	if st := mustAppend(t, w, "bills", cat); st.CostLines != 0 {
		t.Fatalf("re-collection appended %d cost lines", st.CostLines)
	}
	if got := files(t, root, TableCostLines); len(got) != 2 || len(got["dt=2023-11-01"]) != 1 || len(got["dt=2023-12-01"]) != 1 {
		t.Errorf("files %v, want one in the partition of each period's month", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, root, c, 0)
	cat.CostLines = append(cat.CostLines, costLine("c", day2, 1))
	if st := mustAppend(t, w, "bills", cat); st.CostLines != 1 {
		t.Fatalf("after a restart, appended %d cost lines, want only the new one", st.CostLines)
	}
	rows := readRows[CostLineRow](t, root, TableCostLines)
	byID := map[string]CostLineRow{}
	for _, r := range rows {
		byID[r.LineID] = r
	}
	if len(rows) != 3 || byID["b"].BilledCost != 0 || byID["a"].BilledCost != 0.5 || byID["a"].Tags != `{"user:env":"prod"}` || !byID["c"].PeriodStart.Equal(day2) {
		t.Errorf("rows %+v", rows)
	}
}

// A cost line without its identity or period cannot be deduplicated or
// placed, and fails the append rather than being written.
func TestCostLineWithoutIDFails(t *testing.T) {
	w := openTest(t, t.TempDir(), newClock(day0()), 0)
	for _, l := range []model.CostLine{costLine("", day0(), 1), costLine("x", time.Time{}, 1)} {
		if _, err := w.AppendCatalog("bills", &model.Catalog{CostLines: []model.CostLine{l}}); err == nil {
			t.Errorf("line %s appended", fmt.Sprint(l.LineID))
		}
	}
}
