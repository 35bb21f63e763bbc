package billing

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

// Only lines of category requests whose unit counts requests count, each
// unit by the requests it stands for; transitions (Requests-Tier3) and
// units that are not a count (Azure's "Units", gigabytes) do not.
func TestRequestsOf(t *testing.T) {
	for _, tc := range []struct {
		cat  model.CostCategory
		unit string
		qty  float64
		want float64
		ok   bool
	}{
		{model.CostRequests, "Requests", 162, 162, true},
		{model.CostRequests, "requests", 3, 3, true},
		{model.CostRequests, "Request", 1, 1, true},
		{model.CostRequests, " Requests ", 2, 2, true},
		{model.CostRequests, "1000 Requests", 2.5, 2500, true},
		{model.CostRequests, "10000  requests", 1, 10000, true},
		{model.CostRequests, "Units", 0.0003, 0, false},
		{model.CostRequests, "10K", 1, 0, false},
		{model.CostRequests, "1K Requests", 1, 0, false},
		{model.CostRequests, "Requests-Tier1", 1, 0, false},
		{model.CostRequests, "API Requests", 1, 0, false},
		{model.CostRequests, "", 5, 0, false},
		{model.CostRequests, "GB", 5, 0, false},
		{model.CostTransition, "Requests", 10, 0, false},
		{model.CostStorage, "Requests", 10, 0, false},
	} {
		l := model.CostLine{Category: tc.cat, Unit: tc.unit, Quantity: tc.qty}
		got, ok := RequestsOf(&l)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s line in %q of %v: %v, %v; want %v, %v", tc.cat, tc.unit, tc.qty, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRequestOperation(t *testing.T) {
	for in, want := range map[string]string{
		"USW2-Requests-Tier1":                          "Requests-Tier1",
		"EU-Requests-Tier2":                            "Requests-Tier2",
		"CAN1-Requests-SIA-Tier1":                      "Requests-SIA-Tier1",
		"Requests-Tier1":                               "Requests-Tier1",
		"usw2-Requests-Tier1":                          "usw2-Requests-Tier1",
		"USW2-TimedStorage-ByteHrs":                    "USW2-TimedStorage-ByteHrs",
		"$0.004 per 10,000 GET and all other requests": "$0.004 per 10,000 GET and all other requests",
		"": "",
	} {
		if got := RequestOperation(in); got != want {
			t.Errorf("RequestOperation(%q) = %q, want %q", in, got, want)
		}
	}
}

// Lines of the same source, attribution, resource, operation and period
// add up into one count; a repeated line id counts once; a count billed
// in two currencies has no cost; other lines count nothing.
func TestRequestCounts(t *testing.T) {
	h := time.Date(2023, 11, 1, 5, 0, 0, 0, time.UTC)
	line := func(id, usage, env string, cat model.CostCategory, unit string, qty, cost float64, currency string, at time.Time) model.CostLine {
		return model.CostLine{Source: "bills", LineID: id, PeriodStart: at, PeriodEnd: at.Add(time.Hour), Service: "AmazonS3",
			Resource: "acme", Category: cat, UsageType: usage, Unit: unit, Quantity: qty, BilledCost: cost, Currency: currency, Env: env}
	}
	got := RequestCounts([]model.CostLine{
		line("a", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", 100, 0.0005, "USD", h),
		line("b", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", 50, 0.00025, "USD", h),
		line("b", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", 50, 0.00025, "USD", h),
		line("c", "EU-Requests-Tier1", "prod", model.CostRequests, "Requests", 10, 0.00005, "USD", h),
		line("d", "USW2-Requests-Tier2", "", model.CostRequests, "Requests", 1000, 0.0004, "USD", h),
		line("e", "USW2-Requests-Tier2", "", model.CostRequests, "Requests", 1000, 0.0004, "EUR", h),
		line("f", "USW2-Requests-Tier1", "prod", model.CostRequests, "Requests", 7, 0.000035, "USD", h.Add(-time.Hour)),
		line("g", "USW2-Requests-Tier3", "prod", model.CostTransition, "Requests", 10, 0.0005, "USD", h),
		line("h", "Blob Write Operations", "prod", model.CostRequests, "Units", 0.0004, 0.00002, "USD", h),
		line("i", "USW2-TimedStorage-ByteHrs", "prod", model.CostStorage, "GB-Mo", 10, 0.23, "USD", h),
	})
	type want struct {
		env   string
		start time.Time
		count float64
		cost  float64
		cur   string
	}
	wants := []want{
		{"prod", h.Add(-time.Hour), 7, 0.000035, "USD"},
		{"", h, 2000, 0, ""},
		{"prod", h, 160, 0.0008, "USD"},
	}
	if len(got) != len(wants) {
		t.Fatalf("%d counts, want %d: %+v", len(got), len(wants), got)
	}
	for i, w := range wants {
		g := got[i]
		if g.Origin != OriginBill || g.Source != "bills" || g.Resource != "acme" || g.Operation != map[bool]string{true: "Requests-Tier2", false: "Requests-Tier1"}[w.env == ""] ||
			g.Env != w.env || !g.PeriodStart.Equal(w.start) || !g.PeriodEnd.Equal(w.start.Add(time.Hour)) ||
			g.Count != w.count || math.Abs(g.Cost-w.cost) > 1e-15 || g.Currency != w.cur || g.CostKnown != (w.cur != "") || g.CostEstimated {
			t.Errorf("count %d: %+v, want %+v", i, g, w)
		}
	}
}

// The samples' S3 request lines become request counts whose sums are the
// sums an independent reading of the CSV gives: the quantity and billed
// cost of the S3 lines in Requests, but the lifecycle transitions
// (Requests-Tier3), per operation.
func TestSampleRequestCounts(t *testing.T) {
	for _, tc := range []struct {
		file                                string
		service, usage, unit, qty, cost, id string
	}{
		{curSample, "lineItem/ProductCode", "lineItem/UsageType", "pricing/unit", "lineItem/UsageAmount", "lineItem/UnblendedCost", "AmazonS3"},
		{focusSample, "ServiceName", "ChargeDescription", "ConsumedUnit", "ConsumedQuantity", "BilledCost", "Amazon Simple Storage Service"},
	} {
		rows := testutil.ReadCSV(t, tc.file)
		col := map[string]int{}
		for i, h := range rows[0] {
			col[h] = i
		}
		wantCount, wantCost := map[string]float64{}, map[string]float64{}
		for _, r := range rows[1:] {
			usage := r[col[tc.usage]]
			if r[col[tc.service]] != tc.id || r[col[tc.unit]] != "Requests" || strings.HasSuffix(usage, "Requests-Tier3") {
				continue
			}
			if i := strings.Index(usage, "Requests-"); i > 0 {
				usage = usage[i:]
			}
			q, err1 := strconv.ParseFloat(r[col[tc.qty]], 64)
			c, err2 := strconv.ParseFloat(r[col[tc.cost]], 64)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			wantCount[usage] += q
			wantCost[usage] += c
		}
		if len(wantCount) == 0 {
			t.Fatalf("%s: no S3 request lines", tc.file)
		}
		gotCount, gotCost := map[string]float64{}, map[string]float64{}
		for _, r := range RequestCounts(readSample(t, tc.file, Options{Source: "bills"}).Lines) {
			gotCount[r.Operation] += r.Count
			gotCost[r.Operation] += r.Cost
			if !r.CostKnown || r.Currency != "USD" {
				t.Errorf("%s: %+v has no cost in USD", tc.file, r)
			}
		}
		if len(gotCount) != len(wantCount) {
			t.Errorf("%s: operations %v, want %v", tc.file, gotCount, wantCount)
		}
		for op, n := range wantCount {
			if math.Abs(gotCount[op]-n) > 1e-9 || math.Abs(gotCost[op]-wantCost[op]) > 1e-12 {
				t.Errorf("%s %s: %v requests costing %v, the file has %v costing %v", tc.file, op, gotCount[op], gotCost[op], n, wantCost[op])
			}
		}
	}
}
