package prices

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultTable(t *testing.T) {
	p, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if p.Date == "" || p.Source == "" || p.Classes["DEEP_ARCHIVE"].MinStorageDays != 180 || p.Classes["GLACIER"].OverheadBytes != 32768 {
		t.Errorf("default prices %+v", p)
	}
	// The source cites the providers' published pages and their date, not
	// a file that only some machines have.
	for _, page := range []string{
		"Amazon S3 pricing page (https://aws.amazon.com/s3/pricing/)",
		"https://aws.amazon.com/aws-cost-management/aws-cost-explorer/pricing/",
		"https://aws.amazon.com/cloudwatch/pricing/",
	} {
		if !strings.Contains(p.Source, page) {
			t.Errorf("default prices do not cite %s", page)
		}
	}
	if !strings.Contains(p.Source, "as published on "+p.Date) || strings.Contains(p.Source, ".md") {
		t.Errorf("default prices cite %q", p.Source)
	}
	// Every class of the table prices both request tiers, so that request
	// metrics of a bucket in any class get a cost.
	for name, c := range p.Classes {
		if c.Tier1Per1000 == nil || c.Tier2Per1000 == nil {
			t.Errorf("class %s has no request prices", name)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ doc, err string }{
		{`{"date": "2026-01-01", "source": "x", "classes": {"STANDARD": {"storage_gb_month": 0.02}}}`, ""},
		{`date: 2026-01-01
classes: {STANDARD: {storage_gb_month: 1}}`, "source: required"},
		{`date: x
source: y
classes: {STANDARD: {storage_gb_moth: 1}}`, "field storage_gb_moth not found"},
		{`date: x
source: y
classes: {STANDARD: {storage_gb_month: -1}}`, "classes.STANDARD.storage_gb_month: must be a number that is not negative"},
		{`date: x
source: y
classes: {STANDARD: {tier1_per_1000: -1}}`, "classes.STANDARD.tier1_per_1000: must be a number that is not negative"},
		{`date: x
source: y
classes: {GLACIER: {storage_gb_month: 1}}`, `standard_class: "STANDARD" is not in classes`},
		{`date: x
source: y
classes: {STANDARD: {}}
api: {S3 GetObject: {per_1000: 1, unit: byte}}`, `api.S3 GetObject.unit: "byte" is not request or metric`},
		{`date: x
source: y
classes: {STANDARD: {}}
api: {S3 GetObject: {per_1000: -0.1}}`, `api.S3 GetObject.per_1000: must be a number that is not negative`},
	} {
		_, err := Parse([]byte(tc.doc))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Parse(%q) = %v, want %q", tc.doc, err, tc.err)
		}
	}
}

// A file replaces the built-in table as a whole.
func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.yml")
	doc := "date: 2026-12-01\nsource: our EDP contract\ncurrency: EUR\nclasses: {STANDARD: {tier1_per_1000: 0.004, tier2_per_1000: 0.0003}}\napi: {Cost Explorer GetCostAndUsage: {per_1000: 9}}\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := p.CallCost("Cost Explorer GetCostAndUsage", 2, 0); !ok || math.Abs(c-0.018) > 1e-12 || p.Currency != "EUR" {
		t.Errorf("CallCost = %v %v %s, want 0.018 EUR", c, ok, p.Currency)
	}
	if _, ok := p.CallCost("CloudWatch GetMetricData", 1, 10); ok {
		t.Error("an operation the file does not price has a cost")
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yml")); err == nil {
		t.Error("no error for a missing file")
	}
}

// S3 bills PUT, COPY, POST and LIST at tier 1, GET, SELECT and HEAD at
// tier 2, and DELETE not at all; AllRequests mixes tiers and has no price.
func TestRequestCost(t *testing.T) {
	p := Default()
	for _, tc := range []struct {
		class, op string
		count     float64
		want      float64
		known     bool
	}{
		{"", OpPutRequests, 2000, 0.01, true},
		{"STANDARD", OpListRequests, 1000, 0.005, true},
		{"STANDARD", OpPostRequests, 1000, 0.005, true},
		{"standard", OpGetRequests, 10000, 0.004, true},
		{"STANDARD", OpHeadRequests, 1000, 0.0004, true},
		{"STANDARD_IA", OpGetRequests, 1000, 0.001, true},
		{"GLACIER_IR", OpPutRequests, 1000, 0.02, true},
		{"STANDARD", OpDeleteRequests, 5000, 0, true},
		{"STANDARD", OpAllRequests, 1000, 0, false},
		{"NO_SUCH_CLASS", OpGetRequests, 1000, 0, false},
	} {
		got, known := p.RequestCost(tc.class, tc.op, tc.count)
		if known != tc.known || math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("RequestCost(%q, %s, %v) = %v %v, want %v %v", tc.class, tc.op, tc.count, got, known, tc.want, tc.known)
		}
	}
}

// Cost Explorer bills USD 0.01 per request; CloudWatch GetMetricData USD
// 0.01 per 1,000 metrics requested, whatever the number of requests.
func TestCallCost(t *testing.T) {
	p := Default()
	if c, ok := p.CallCost("Cost Explorer GetCostAndUsage", 3, 0); !ok || math.Abs(c-0.03) > 1e-12 {
		t.Errorf("3 GetCostAndUsage requests cost %v %v, want 0.03", c, ok)
	}
	if c, ok := p.CallCost("CloudWatch GetMetricData", 2, 500); !ok || math.Abs(c-0.01) > 1e-12 {
		t.Errorf("2 GetMetricData requests of 500 metrics cost %v %v, want 0.01", c, ok)
	}
	if c, ok := p.CallCost("Backup ListRecoveryPointsByBackupVault", 100, 0); !ok || c != 0 {
		t.Errorf("AWS Backup requests cost %v %v, want a known 0", c, ok)
	}
	if _, ok := p.CallCost("restic snapshots", 1, 0); ok {
		t.Error("a program run has an API price")
	}
}

// The price table example of docs/analyze.md is a valid table.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/analyze.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "### Price table")
	if !ok {
		t.Fatal("docs/analyze.md has no price table section")
	}
	_, rest, _ = strings.Cut(rest, "```yaml\n")
	example, _, _ := strings.Cut(rest, "```")
	p, err := Parse([]byte(example))
	if err != nil {
		t.Fatalf("the documented price table: %v", err)
	}
	if c, ok := p.CallCost("CloudWatch GetMetricData", 1, 1000); !ok || math.Abs(c-0.01) > 1e-12 {
		t.Errorf("documented GetMetricData price gives %v %v", c, ok)
	}
}

// The worked example of docs/collectors.md (API budget): a Cost Explorer
// source whose collection takes 3 requests (two pages for S3 and AWS
// Backup, one retried after throttling) costs USD 0.03 a run; every 6h
// that is 121.67 runs, USD 3.65 a month; a budget of USD 5.00 allows one
// every 730 h × 0.03 / 5 = 4.38 h = 15768 s.
func TestBudgetWorkedExample(t *testing.T) {
	p := Default()
	cost, ok := p.RunCost(map[string]int{"Cost Explorer GetCostAndUsage": 3}, nil)
	if !ok || math.Abs(cost-0.03) > 1e-12 {
		t.Fatalf("run cost %v %v", cost, ok)
	}
	if m := MonthlyCost(cost, 6*time.Hour); math.Abs(m-3.65) > 1e-9 {
		t.Errorf("monthly cost at 6h = %v, want 3.65", m)
	}
	if d, ok := RecommendedInterval(cost, 5); !ok || d != 15768*time.Second {
		t.Errorf("recommended interval %v %v, want 15768s", d, ok)
	}
	// CloudWatch: 2 buckets × 7 metrics per request, one request a run:
	// 14 metrics = USD 0.00014 a run; USD 1 a month allows one every
	// 730 h × 0.00014 = 367.92 s, rounded up to 368 s.
	cost, ok = p.RunCost(map[string]int{"CloudWatch GetMetricData": 1}, map[string]float64{"CloudWatch GetMetricData": 14})
	if d, ok2 := RecommendedInterval(cost, 1); !ok || !ok2 || d != 368*time.Second {
		t.Errorf("CloudWatch: cost %v %v, interval %v %v", cost, ok, d, ok2)
	}
	// Unknown or free costs recommend nothing.
	if _, ok := p.RunCost(map[string]int{"restic snapshots": 1}, nil); ok {
		t.Error("a program run has a known API cost")
	}
	if _, ok := p.RunCost(nil, nil); ok {
		t.Error("a collection without calls has a known API cost")
	}
	if _, ok := RecommendedInterval(0, 5); ok {
		t.Error("free calls get a recommended interval")
	}
	if d, _ := RecommendedInterval(1e-9, 1000); d != time.Second {
		t.Errorf("the shortest recommendation is %v, want 1s", d)
	}
}

// The worked example printed in docs/collectors.md states the figures the
// formula gives.
func TestDocumentedWorkedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/collectors.md")
	if err != nil {
		t.Fatal(err)
	}
	_, example, ok := strings.Cut(string(doc), "Worked example")
	if !ok {
		t.Fatal("docs/collectors.md has no worked example")
	}
	example, _, _ = strings.Cut(example, "\n## ")
	example = strings.Join(strings.Fields(example), " ")
	p := Default()
	ce, _ := p.RunCost(map[string]int{"Cost Explorer GetCostAndUsage": 3}, nil)
	ceInterval, _ := RecommendedInterval(ce, 5)
	cw, _ := p.RunCost(map[string]int{"CloudWatch GetMetricData": 1}, map[string]float64{"CloudWatch GetMetricData": 14})
	cwInterval, _ := RecommendedInterval(cw, 1)
	for _, want := range []string{
		fmt.Sprintf("3 × USD 0.01 = USD %.2f", ce),
		fmt.Sprintf("730 / 6 = %.2f collections, USD %.2f a month", float64(Month)/float64(6*time.Hour), MonthlyCost(ce, 6*time.Hour)),
		fmt.Sprintf("730 h × 0.03 / 5 = %.2f h", ceInterval.Hours()),
		fmt.Sprintf("`restorable_collector_recommended_interval_seconds` is %d", int(ceInterval.Seconds())),
		fmt.Sprintf("costs USD %.5f", cw),
		fmt.Sprintf("730 h × 0.00014 / 1 = %.2f s, rounded up to %d", Month.Seconds()*cw/1, int(cwInterval.Seconds())),
	} {
		if !strings.Contains(example, want) {
			t.Errorf("the worked example does not say %q:\n%s", want, example)
		}
	}
}
