package billing

import (
	"context"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

const (
	focusSample = "testdata/focus-1.0-sample.csv"
	curSample   = "testdata/aws-cur-legacy-sample.csv"
)

func readSample(t *testing.T, path string, opts Options) *Bill {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := ReadCSV(context.Background(), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sumColumn sums a numeric column of the rows of a CSV file whose column
// key equals value, reading the file with encoding/csv alone.
func sumColumn(t *testing.T, path, key, value, col string) (float64, int) {
	t.Helper()
	rows := testutil.ReadCSV(t, path)
	ki, ci := -1, -1
	for i, h := range rows[0] {
		switch h {
		case key:
			ki = i
		case col:
			ci = i
		}
	}
	var sum float64
	n := 0
	for _, r := range rows[1:] {
		if r[ki] != value {
			continue
		}
		v, err := strconv.ParseFloat(r[ci], 64)
		if err != nil {
			t.Fatalf("%s: %v", col, err)
		}
		sum += v
		n++
	}
	return sum, n
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

// The public samples import with the totals an independent reading of
// the files gives: every S3 line is kept, with its billed cost.
func TestSamplesKeepEveryStorageLine(t *testing.T) {
	for _, tc := range []struct {
		file, format, key, value, cost string
	}{
		{focusSample, FormatFOCUS, "ServiceName", "Amazon Simple Storage Service", "BilledCost"},
		{focusSample, FormatFOCUS, "ServiceName", "Storage Accounts", "BilledCost"},
		{curSample, FormatCUR, "lineItem/ProductCode", "AmazonS3", "lineItem/UnblendedCost"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			b := readSample(t, tc.file, Options{Source: "bills"})
			if b.Format != tc.format {
				t.Fatalf("format %s, want %s", b.Format, tc.format)
			}
			if b.Stats.Kept+b.Stats.OutOfScope+b.Stats.RejectedTotal() != b.Stats.Rows {
				t.Errorf("stats do not add up: %+v", b.Stats)
			}
			want, n := sumColumn(t, tc.file, tc.key, tc.value, tc.cost)
			var got float64
			kept := 0
			for _, l := range b.Lines {
				if l.Service != tc.value {
					continue
				}
				if tc.value == "Storage Accounts" && !strings.Contains(l.UsageType, "Blob") {
					t.Errorf("kept a storage-account line that is not Blob storage: %s", l.UsageType)
				}
				got += l.BilledCost
				kept++
				if l.Source != "bills" || l.LineID == "" || l.Currency != "USD" || !l.Category.Valid() {
					t.Errorf("incomplete line %+v", l)
				}
			}
			if tc.value != "Storage Accounts" && (!near(got, want) || kept != n) {
				t.Errorf("%d lines billing %.12f kept, the file has %d billing %.12f", kept, got, n, want)
			}
			if kept == 0 {
				t.Error("no line kept")
			}
		})
	}
}

// What the rules make of usage types: region prefixes, SNS's own
// Requests-Tier1, Glacier Deep Archive's product code, Azure meters.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		k        Key
		category model.CostCategory
		class    string
	}{
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "USW2-TimedStorage-GlacierByteHrs", Unit: "GB-Mo"}, model.CostStorage, "GLACIER"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "TimedStorage-ByteHrs", Unit: "GB-Mo"}, model.CostStorage, "STANDARD"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "EUC1-TimedStorage-SIA-ByteHrs", Unit: "GB-Mo"}, model.CostStorage, "STANDARD_IA"},
		{Key{Provider: "AWS", Service: "AmazonS3GlacierDeepArchive", Usage: "USE2-TimedStorage-GDA-ByteHrs", Unit: "GB-Mo"}, model.CostStorage, "DEEP_ARCHIVE"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "USW2-EarlyDelete-ByteHrs", Unit: "GB-Mo"}, model.CostEarlyDelete, "GLACIER"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "EarlyDelete-SIA", Unit: "GB-Mo"}, model.CostEarlyDelete, "STANDARD_IA"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "USW2-Requests-Tier3", Unit: "Requests"}, model.CostTransition, "GLACIER"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "CAN1-Requests-Tier1", Unit: "Requests"}, model.CostRequests, "STANDARD"},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "USE1-USW2-AWS-Out-Bytes", Unit: "GB"}, model.CostTransfer, ""},
		{Key{Provider: "AWS", Service: "AmazonS3", Usage: "", Unit: ""}, model.CostOther, ""},
		{Key{Provider: "AWS", Service: "AWSBackup", Usage: "USE1-WarmStorage-ByteHrs-EFS", Unit: "GB-Mo"}, model.CostStorage, "WARM"},
		{Key{Provider: "AWS", Service: "AWSBackup", Usage: "USE1-ColdStorage-ByteHrs-EFS", Unit: "GB-Mo"}, model.CostStorage, "COLD"},
		{Key{Provider: "AWS", Service: "AWSBackup", Usage: "USE1-Restore-ByteHrs-EFS", Unit: "GB"}, model.CostRetrieval, ""},
		{Key{Provider: "AWS", Service: "Amazon Simple Storage Service", Usage: "$0.023 per GB - first 50 TB / month of storage used", Unit: "GB-Months"}, model.CostStorage, "STANDARD"},
		{Key{Provider: "AWS", Service: "Amazon Simple Storage Service", Usage: "$0.005 per 1,000 PUT, COPY, POST, or LIST requests", Unit: "Requests"}, model.CostRequests, ""},
		{Key{Provider: "Microsoft", Service: "Storage Accounts", Usage: "Tiered Block Blob - Hot LRS - Data Stored - US West", Unit: "GB/Month"}, model.CostStorage, "HOT"},
		{Key{Provider: "Microsoft", Service: "Storage", Usage: "Archive LRS - Blob - Archive Data Stored", Unit: "GB/Month"}, model.CostStorage, "ARCHIVE"},
		{Key{Provider: "Microsoft", Service: "Storage", Usage: "Cool LRS - Blob - Early Delete", Unit: "GB"}, model.CostEarlyDelete, ""},
		{Key{Provider: "Microsoft", Service: "Storage Accounts", Usage: "Tiered Block Blob - Hot LRS - Write Operations - US West", Unit: "Units"}, model.CostRequests, ""},
		{Key{Provider: "Google", Service: "Cloud Storage", Usage: "Coldline Storage Europe", Unit: "gibibyte month"}, model.CostStorage, "COLDLINE"},
		{Key{Provider: "Oracle", Service: "OBJECT_STORAGE", Subcategory: "Object Storage", Usage: "Object Storage - Storage", Unit: "GB Months"}, model.CostStorage, ""},
	} {
		i := Match(Rules, tc.k)
		if i < 0 {
			t.Errorf("%+v: out of scope", tc.k)
			continue
		}
		if r := Rules[i]; r.Category != tc.category || r.StorageClass != tc.class {
			t.Errorf("%+v: %s %q, want %s %q", tc.k, r.Category, r.StorageClass, tc.category, tc.class)
		}
	}
	for _, k := range []Key{
		{Provider: "AWS", Service: "AmazonSNS", Usage: "USW2-Requests-Tier1", Unit: "Requests"},
		{Provider: "AWS", Service: "AWSQueueService", Usage: "Requests-Tier1"},
		{Provider: "AWS", Service: "AmazonEC2", Usage: "EBS:SnapshotUsage", Unit: "GB-Mo"},
		{Provider: "Microsoft", Service: "Storage Accounts", Usage: "Tables - LRS Data Stored", Unit: "GB/Month"},
		{Provider: "AWS", Service: "AmazonCloudWatch", Usage: "USW2-TimedStorage-ByteHrs", Unit: "GB-Mo"},
	} {
		if i := Match(Rules, k); i >= 0 {
			t.Errorf("%+v: matched rule %d (%+v), want out of scope", k, i, Rules[i])
		}
	}
}

func TestLike(t *testing.T) {
	for _, tc := range []struct {
		s, p string
		want bool
	}{
		{"USW2-Requests-Tier1", "%Requests-Tier1", true},
		{"USW2-Requests-Tier1x", "%Requests-Tier1", false},
		{"abc", "a_c", true},
		{"abc", "a%%c", true},
		{"ac", "a_c", false},
		{"", "%", true},
		{"", "_", false},
		{"aXbXc", "%b%c", true},
		{"TIMEDstorage", "%timedStorage", true},
	} {
		if got := ilike(tc.s, tc.p); got != tc.want {
			t.Errorf("ilike(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
}

// messySample is a FOCUS bill with every quirk the samples and real
// exports have, one line each; MessyRejected are the reasons of its
// rejected lines.
const messySample = "testdata/messy-focus.csv"

// MessyRejected are the reasons messySample's rejected lines get.
var MessyRejected = map[string]int{
	RejectNoStart: 1, RejectBadStart: 1, RejectEndsEarly: 1, RejectNoBilled: 1, RejectBadBilled: 1,
	RejectBadQuantity: 1, RejectNoCurrency: 1, RejectBadTags: 2, RejectColumns: 1, RejectBadEffective: 1,
}

// Messy input is read, and every line that cannot be is counted by
// reason: NULL literals, timestamps without T or Z, EffectiveCost 0
// beside a billed cost, JSON tags, a zone number where a zone name
// belongs, bad numbers and times, a short row.
func TestMessyInput(t *testing.T) {
	att := &config.CostAttribution{Tags: config.AttributionTags{Env: "user:env", Dataset: "app"}}
	b := readSample(t, messySample, Options{Source: "s", Attribution: att})
	want := Stats{Rows: 14, Kept: 2, OutOfScope: 1, Rejected: MessyRejected}
	if b.Stats.Rows != want.Rows || b.Stats.Kept != want.Kept || b.Stats.OutOfScope != want.OutOfScope || !equalCounts(b.Stats.Rejected, want.Rejected) {
		t.Fatalf("stats %+v, want %+v", b.Stats, want)
	}
	s3, blob := b.Lines[0], b.Lines[1]
	wantStart := time.Date(2024, 9, 18, 22, 0, 0, 0, time.UTC)
	if !s3.PeriodStart.Equal(wantStart) || !blob.PeriodStart.Equal(wantStart) || !s3.PeriodEnd.Equal(wantStart.Add(time.Hour)) {
		t.Errorf("periods %v-%v and %v", s3.PeriodStart, s3.PeriodEnd, blob.PeriodStart)
	}
	// Spend is the billed cost, even where the effective cost says 0.
	if s3.BilledCost != 0.5 || s3.EffectiveCost != 0 || s3.ListCost != 0.5 {
		t.Errorf("costs %+v", s3)
	}
	if s3.Resource != "acme-prod-backups" || s3.Region != "us-east-1" || s3.Unit != UnitGBMonth || s3.StorageClass != "STANDARD" {
		t.Errorf("s3 line %+v", s3)
	}
	if s3.Env != "staging" || s3.Dataset != "payments" || s3.Tags["app"] != "payments" {
		t.Errorf("attribution by tags: env %q dataset %q tags %v", s3.Env, s3.Dataset, s3.Tags)
	}
	// A zone number names no region; NULL tags are no tags.
	if blob.Region != "" || blob.Tags != nil || blob.StorageClass != "COOL" || blob.ListCost != 0 || blob.EffectiveCost != 0.2 {
		t.Errorf("blob line %+v", blob)
	}
}

func equalCounts(a, b map[string]int) bool {
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

// Bucket mappings win over tags; tags fill what a mapping leaves empty.
func TestAttribute(t *testing.T) {
	a := &config.CostAttribution{
		Buckets: map[string]config.AttributionTarget{"acme-prod-backups": {Env: "prod", Dataset: "payments"}, "acme-logs": {Env: "prod"}},
		Tags:    config.AttributionTags{Env: "user:env", Dataset: "user:app"},
	}
	for _, tc := range []struct {
		l            model.CostLine
		env, dataset string
	}{
		{model.CostLine{Resource: "acme-prod-backups", Tags: map[string]string{"user:env": "dev", "user:app": "x"}}, "prod", "payments"},
		{model.CostLine{Resource: "acme-logs", Tags: map[string]string{"user:env": "dev", "user:app": "logs"}}, "prod", "logs"},
		{model.CostLine{Resource: "other", Tags: map[string]string{"user:env": "dev"}}, "dev", ""},
		{model.CostLine{}, "", ""},
	} {
		Attribute(&tc.l, a)
		if tc.l.Env != tc.env || tc.l.Dataset != tc.dataset {
			t.Errorf("%+v: env %q dataset %q, want %q %q", tc.l, tc.l.Env, tc.l.Dataset, tc.env, tc.dataset)
		}
	}
}

// The legacy CUR's lines keep their identity: LineItemId@TimeInterval.
func TestCURLineIDsAreUnique(t *testing.T) {
	b := readSample(t, curSample, Options{})
	seen := map[string]bool{}
	for _, l := range b.Lines {
		if seen[l.LineID] || !strings.Contains(l.LineID, "@2023-11-") {
			t.Fatalf("line id %q repeated or without its interval", l.LineID)
		}
		seen[l.LineID] = true
	}
}

// A bill read as another format than its columns say is refused.
func TestFormatMismatch(t *testing.T) {
	f, err := os.Open(curSample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ReadCSV(context.Background(), f, Options{Format: FormatFOCUS}); err == nil || !strings.Contains(err.Error(), "cur bill, not focus") {
		t.Errorf("err = %v", err)
	}
	if _, err := ReadCSV(context.Background(), strings.NewReader("a,b\n1,2\n"), Options{}); err == nil || !strings.Contains(err.Error(), "not a FOCUS, CUR or CUR 2.0 bill") {
		t.Errorf("err = %v", err)
	}
}
