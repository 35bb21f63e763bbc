package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/config"
)

// inventoryRecord is one line of a generated inventory report.
type inventoryRecord struct {
	Key          string
	Size         int64
	LastModified time.Time
	StorageClass string
	IsLatest     bool
	DeleteMarker bool
	Encryption   string
	LockMode     string
	RetainUntil  time.Time
}

// csvReport writes records as S3 Inventory writes a CSV data file:
// gzip-compressed, no header, keys URL-encoded, fields in the order of
// schema.
func csvReport(t *testing.T, schema []string, recs []inventoryRecord) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, r := range recs {
		var fields []string
		for _, f := range schema {
			v := ""
			switch f {
			case "Bucket":
				v = "acme-backups"
			case "Key":
				v = url.QueryEscape(r.Key)
			case "Size":
				v = fmt.Sprint(r.Size)
			case "LastModifiedDate":
				v = r.LastModified.Format("2006-01-02T15:04:05.000Z")
			case "StorageClass":
				v = r.StorageClass
			case "IsLatest":
				v = fmt.Sprint(r.IsLatest)
			case "IsDeleteMarker":
				v = fmt.Sprint(r.DeleteMarker)
			case "EncryptionStatus":
				v = r.Encryption
			case "ObjectLockMode":
				v = r.LockMode
			case "ObjectLockRetainUntilDate":
				if !r.RetainUntil.IsZero() {
					v = r.RetainUntil.Format("2006-01-02T15:04:05.000Z")
				}
			}
			fields = append(fields, `"`+v+`"`)
		}
		fmt.Fprintln(zw, strings.Join(fields, ","))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// parquetInventoryRow has the column names and types of the S3
// Inventory Parquet schema.
type parquetInventoryRow struct {
	Bucket           string    `parquet:"bucket"`
	Key              string    `parquet:"key"`
	Size             int64     `parquet:"size,optional"`
	LastModifiedDate time.Time `parquet:"last_modified_date,optional,timestamp(millisecond)"`
	StorageClass     string    `parquet:"storage_class,optional"`
	IsLatest         bool      `parquet:"is_latest"`
	IsDeleteMarker   bool      `parquet:"is_delete_marker"`
	EncryptionStatus string    `parquet:"encryption_status,optional"`
}

func parquetReport(t *testing.T, recs []inventoryRecord) []byte {
	t.Helper()
	var rows []parquetInventoryRow
	for _, r := range recs {
		rows = append(rows, parquetInventoryRow{Bucket: "acme-backups", Key: r.Key, Size: r.Size, LastModifiedDate: r.LastModified,
			StorageClass: r.StorageClass, IsLatest: r.IsLatest, IsDeleteMarker: r.DeleteMarker, EncryptionStatus: r.Encryption})
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, rows); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func manifestJSON(t *testing.T, format, schema string, files map[string]int) []byte {
	t.Helper()
	type file struct {
		Key         string `json:"key"`
		Size        int    `json:"size"`
		MD5Checksum string `json:"MD5checksum"`
	}
	m := map[string]any{
		"sourceBucket": "acme-backups", "destinationBucket": "arn:aws:s3:::acme-inventory", "version": "2016-11-30",
		"creationTimestamp": "1714608000000", "fileFormat": format, "fileSchema": schema,
	}
	var fs []file
	for k, n := range files {
		fs = append(fs, file{Key: k, Size: n, MD5Checksum: "f11166069f1990abeb9c97ace9cdfabc"})
	}
	m["files"] = fs
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// The newest S3 Inventory report, CSV or Parquet, in the documented
// layout in a real S3 server: its current objects under the source's
// prefixes are the catalog, with their own encryption and lock facts, and
// no ListObjectsV2 request lists the backups (one lists the dated report
// folders).
func TestInventory(t *testing.T) {
	_, admin := gateway(t, "")
	ctx := context.Background()
	for _, b := range []string{"acme-backups", "acme-inventory"} {
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	// The backup bucket itself holds an object the inventory does not
	// list: a listing would find it, the inventory must not.
	put(t, admin, "acme-backups", "dumps/orders/2024-05-03T00-00-00Z.dump", "not in the report")
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	lock := day.Add(400 * 24 * time.Hour)
	recs := []inventoryRecord{
		{Key: "dumps/orders/2024-05-01T00-00-00Z.dump", Size: 100, LastModified: day.Add(time.Hour), StorageClass: "STANDARD", IsLatest: true, Encryption: "SSE-KMS", LockMode: "COMPLIANCE", RetainUntil: lock},
		{Key: "dumps/orders/2024-05-02T00-00-00Z.dump", Size: 200, LastModified: day.Add(25 * time.Hour), StorageClass: "GLACIER", IsLatest: true, Encryption: "NOT-SSE"},
		{Key: "dumps/orders/2024-04-30T00-00-00Z.dump", Size: 50, LastModified: day.Add(-23 * time.Hour), StorageClass: "STANDARD", IsLatest: false, Encryption: "SSE-S3"},
		{Key: "dumps/orders/2024-04-29T00-00-00Z.dump", LastModified: day.Add(-47 * time.Hour), IsLatest: true, DeleteMarker: true},
		{Key: "dumps/orders/with space 2024.txt", Size: 1, LastModified: day, StorageClass: "STANDARD", IsLatest: true},
		{Key: "other/2024-05-01T00-00-00Z.dump", Size: 7, LastModified: day, StorageClass: "STANDARD", IsLatest: true},
	}
	schema := []string{"Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "LastModifiedDate", "ETag", "StorageClass", "EncryptionStatus", "ObjectLockRetainUntilDate", "ObjectLockMode"}
	base := "reports/acme-backups/daily/"
	// An older report that would give another answer.
	put(t, admin, "acme-inventory", base+"2024-04-30T01-00Z/manifest.json", string(manifestJSON(t, "CSV", strings.Join(schema, ", "), map[string]int{"missing.csv.gz": 1})))

	cases := []struct {
		format string
		data   func() map[string][]byte
	}{
		{"CSV", func() map[string][]byte {
			return map[string][]byte{
				"reports/acme-backups/daily/data/a.csv.gz": csvReport(t, schema, recs[:3]),
				"reports/acme-backups/daily/data/b.csv.gz": csvReport(t, schema, recs[3:]),
			}
		}},
		{"Parquet", func() map[string][]byte {
			return map[string][]byte{"reports/acme-backups/daily/data/a.parquet": parquetReport(t, recs)}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.format, func(t *testing.T) {
			files := map[string]int{}
			for k, v := range tc.data() {
				put(t, admin, "acme-inventory", k, string(v))
				files[k] = len(v)
			}
			folder := fmt.Sprintf("2024-05-0%dT01-00Z", i+1)
			put(t, admin, "acme-inventory", base+folder+"/manifest.json", string(manifestJSON(t, tc.format, strings.Join(schema, ", "), files)))
			src := source(testEndpoint(admin), "acme-backups", "dumps/{dataset}/{time}.dump", func(s *config.Source) {
				s.S3.Mode = config.S3ModeInventory
				s.S3.Inventory = &config.S3Inventory{Bucket: "acme-inventory", Prefix: "reports", Config: "daily"}
			})
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			cat, calls, err := collect(t, src, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
			if len(cat.Backups) != 2 {
				t.Fatalf("backups = %+v, want the two current dumps", cat.Backups)
			}
			a, b := cat.Backups[0], cat.Backups[1]
			if a.ID != recs[0].Key || a.StoredBytes != 100 || !a.End.Equal(recs[0].LastModified) || !a.Encrypted {
				t.Errorf("first backup = %+v", a)
			}
			if tc.format == "CSV" && (!a.Immutable || !a.RetainUntil.Equal(lock)) {
				t.Errorf("first backup lock: %v until %v, want the report's retain-until %v", a.Immutable, a.RetainUntil, lock)
			}
			if b.ID != recs[1].Key || b.StorageClass != "GLACIER" || b.Encrypted || b.Dataset != "orders" {
				t.Errorf("second backup = %+v", b)
			}
			if calls["S3 ListObjectsV2"] != 1 || calls["S3 GetObject"] != 1+len(files) {
				t.Errorf("requests %v: want one ListObjectsV2 of the report folders and a GetObject of the manifest and each data file", calls)
			}
		})
	}
}

// Reports the collector cannot read are refused with a message that says
// why.
func TestParseManifest(t *testing.T) {
	for _, tc := range []struct{ json, want string }{
		{`{"sourceBucket":"other","fileFormat":"CSV","fileSchema":"Bucket, Key"}`, `describes bucket "other"`},
		{`{"sourceBucket":"acme-backups","fileFormat":"ORC"}`, "ORC inventory reports are not read"},
		{`{"sourceBucket":"acme-backups","fileFormat":"CSV"}`, "no fileSchema"},
		{`{`, "decode manifest.json"},
	} {
		_, err := parseManifest([]byte(tc.json), "acme-backups")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.json, err, tc.want)
		}
	}
}

// An inventory source remembers the newest report it found: within the
// discovery interval its collections make no ListObjectsV2 request at
// all, only GetObject of the manifest and data files (on a real S3
// server, counted per operation); a report that appears is read once the
// interval has passed; a report that is gone is looked for again at once;
// a pinned manifest is read without ever listing.
func TestInventoryDiscovery(t *testing.T) {
	srv, admin := gateway(t, "")
	ctx := context.Background()
	for _, b := range []string{"acme-backups", "acme-inventory"} {
		if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	schema := []string{"Bucket", "Key", "Size", "LastModifiedDate", "StorageClass", "IsLatest"}
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	base := "reports/acme-backups/daily/"
	// report writes a report dated folder listing the first n dumps.
	report := func(folder string, n int) {
		var recs []inventoryRecord
		for i := range n {
			at := day.Add(time.Duration(i) * 24 * time.Hour)
			recs = append(recs, inventoryRecord{Key: "dumps/orders/" + at.Format("2006-01-02T15-04-05Z") + ".dump", Size: 10, LastModified: at.Add(time.Hour), StorageClass: "STANDARD", IsLatest: true})
		}
		data := base + "data/" + folder + ".csv.gz"
		body := csvReport(t, schema, recs)
		put(t, admin, "acme-inventory", data, string(body))
		put(t, admin, "acme-inventory", base+folder+"/manifest.json", string(manifestJSON(t, "CSV", strings.Join(schema, ", "), map[string]int{data: len(body)})))
	}
	report("2024-05-01T01-00Z", 1)

	now := day.Add(2 * time.Hour)
	src := source(testEndpoint(admin), "acme-backups", "dumps/{dataset}/{time}.dump", func(s *config.Source) {
		s.S3.Mode = config.S3ModeInventory
		s.S3.Inventory = &config.S3Inventory{Bucket: "acme-inventory", Prefix: "reports", Config: "daily", DiscoveryInterval: config.Duration(time.Hour)}
	})
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	step := func(name string, after time.Duration, backups, lists int) {
		t.Helper()
		now = now.Add(after)
		cat, calls, err := collectWith(t, c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(cat.Backups) != backups || calls["S3 ListObjectsV2"] != lists || calls["S3 GetObject"] != 2 {
			t.Errorf("%s: %d backups, requests %v; want %d backups, %d ListObjectsV2 and 2 GetObject (manifest, data file)", name, len(cat.Backups), calls, backups, lists)
		}
	}
	step("first collection finds the report", 0, 1, 1)
	step("the next reads it again", 30*time.Minute, 1, 0)
	report("2024-05-02T01-00Z", 2)
	step("a new report waits for the interval", 29*time.Minute, 1, 0)
	step("once the interval has passed it is found", 2*time.Minute, 2, 1)
	step("and read without listing", 10*time.Minute, 2, 0)
	// Reports expire; the remembered one is gone, the older one is not.
	if err := os.Remove(filepath.Join(srv.Root, "acme-inventory", base, "2024-05-02T01-00Z", "manifest.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(srv.Root, "acme-inventory", base, "2024-05-02T01-00Z")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	cat, calls, err := collectWith(t, c)
	if err != nil || len(cat.Backups) != 1 || calls["S3 ListObjectsV2"] != 1 || calls["S3 GetObject"] != 3 {
		t.Errorf("the remembered report is gone: %v, requests %v; want the older report's backup after one ListObjectsV2 and GetObject of the missing manifest, the found one and its data file", err, calls)
	}

	t.Run("pinned", func(t *testing.T) {
		src := source(testEndpoint(admin), "acme-backups", "dumps/{dataset}/{time}.dump", func(s *config.Source) {
			s.S3.Mode = config.S3ModeInventory
			s.S3.Inventory = &config.S3Inventory{Bucket: "acme-inventory", Manifest: base + "2024-05-01T01-00Z/manifest.json"}
		})
		c, err := New(src, slog.New(slog.DiscardHandler), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			cat, calls, err := collectWith(t, c)
			if err != nil || len(cat.Backups) != 1 || calls["S3 ListObjectsV2"] != 0 || calls["S3 GetObject"] != 2 {
				t.Errorf("collection %d of a pinned manifest: %v, requests %v; want 1 backup, no ListObjectsV2", i+1, err, calls)
			}
		}
	})
}
