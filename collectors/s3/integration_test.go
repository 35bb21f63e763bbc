package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/restorable/restorable/internal/awsclient"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
	"github.com/restorable/restorable/internal/testutil"
)

// gateway starts versitygw and points the default credential chain at
// it; it returns the server and a client for setting buckets up.
func gateway(t testing.TB, root string) (*testutil.S3Server, *s3.Client) {
	t.Helper()
	srv := testutil.Versitygw(t, root)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := awsclient.Load(ctx, awsclient.Options{Endpoint: srv.Endpoint})
	if err != nil {
		t.Fatal(err)
	}
	return srv, s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func put(t testing.TB, c *s3.Client, bucket, key, body string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body))}); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func source(endpoint, bucket, template string, mut func(*config.Source)) *config.Source {
	src := &config.Source{Name: "objects", Type: config.TypeS3, Env: "prod", Timeout: config.Duration(time.Minute),
		S3: &config.S3Options{Bucket: bucket, KeyTemplate: template, Endpoint: endpoint, PathStyle: true,
			Mode: config.S3ModeList, BackupType: "full", Concurrency: config.DefaultS3Concurrency}}
	if mut != nil {
		mut(src)
	}
	return src
}

func collect(t testing.TB, src *config.Source, now time.Time) (*model.Catalog, map[string]int, error) {
	t.Helper()
	return collectLogged(t, src, now, io.Discard)
}

// collectLogged collects once with the log written to w, and checks that
// every request counted is one the collector declares (so its counter is
// exposed at 0 before the first request).
func collectLogged(t testing.TB, src *config.Source, now time.Time, w io.Writer) (*model.Catalog, map[string]int, error) {
	t.Helper()
	c, err := New(src, slog.New(slog.NewTextHandler(w, nil)), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return collectWith(t, c)
}

// collectWith runs one collection of c, as collectLogged.
func collectWith(t testing.TB, c *Collector) (*model.Catalog, map[string]int, error) {
	t.Helper()
	m := &runx.Meter{}
	// Long enough for the benchmark's million objects on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cat, err := c.Collect(runx.WithMeter(ctx, m))
	for op := range m.Calls() {
		if !slices.Contains(c.Operations(), op) {
			t.Errorf("request %q counted but not declared in %v", op, c.Operations())
		}
	}
	return cat, m.Calls(), err
}

// A bucket with Object Lock (COMPLIANCE, 30 days) and versioning on a real
// S3 server: its facts reach the repository and every backup; the
// encryption and lifecycle calls versitygw does not implement leave those
// facts unknown, never "disabled".
func TestObjectLockedBucket(t *testing.T) {
	_, admin := gateway(t, "")
	ctx := context.Background()
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("locked"), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("locked"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("locked"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(30)}}}}); err != nil {
		t.Fatal(err)
	}
	put(t, admin, "locked", "db/prod/payments/v1.4/2024-05-01T13-04-05Z.dump", "dump one")
	put(t, admin, "locked", "db/prod/payments/v1.5/20240502T130405Z.dump", "dump two!")
	put(t, admin, "locked", "db/README.txt", "not a backup")

	now := time.Now().UTC()
	src := source(testEndpoint(admin), "locked", "db/{env}/{dataset}/{release}/{time}.dump", func(s *config.Source) { s.Env = "" })
	cat, calls, err := collect(t, src, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 2 {
		t.Fatalf("backups = %+v, want the two dumps (README.txt does not match)", cat.Backups)
	}
	b := cat.Backups[0]
	if b.ID != "db/prod/payments/v1.4/2024-05-01T13-04-05Z.dump" || b.Env != "prod" || b.Dataset != "payments" || b.Release != "v1.4" ||
		!b.Start.Equal(time.Date(2024, 5, 1, 13, 4, 5, 0, time.UTC)) || b.StoredBytes != 8 || b.Type != model.BackupFull || !b.Good() {
		t.Errorf("backup = %+v", b)
	}
	if !b.Immutable || !b.RetainUntil.Equal(b.End.Add(30*24*time.Hour)) {
		t.Errorf("backup lock: immutable %v until %v, want until %v (end + 30 days)", b.Immutable, b.RetainUntil, b.End.Add(30*24*time.Hour))
	}
	if b.Encrypted {
		t.Errorf("backup marked encrypted while the bucket's encryption is unknown")
	}
	if b.End.Before(now.Add(-time.Minute)) || b.End.After(now.Add(time.Minute)) {
		t.Errorf("end = %v, want the object's LastModified (about %v)", b.End, now)
	}
	if len(cat.Repositories) != 1 {
		t.Fatalf("repositories = %+v", cat.Repositories)
	}
	r := cat.Repositories[0]
	p := r.Protection
	if r.Name != "locked" || r.Env != "prod" || p == nil || p.Versioning != "enabled" || p.LockMode != "COMPLIANCE" || p.LockRetention != 30*24*time.Hour {
		t.Fatalf("repository = %+v, protection %+v", r, p)
	}
	// versitygw answers 501 NotImplemented for encryption and lifecycle.
	if p.Encryption != "" || p.LifecycleKnown {
		t.Errorf("encryption %q, lifecycle known %v: a store that does not implement the calls must leave them unknown", p.Encryption, p.LifecycleKnown)
	}
	for _, op := range []string{"GetBucketLocation", "GetBucketVersioning", "GetObjectLockConfiguration", "GetBucketEncryption", "GetBucketLifecycleConfiguration", "ListObjectsV2"} {
		if calls["S3 "+op] < 1 {
			t.Errorf("S3 %s not counted: %v", op, calls)
		}
	}
}

func testEndpoint(c *s3.Client) string { return *c.Options().BaseEndpoint }

// A bucket without Object Lock or versioning says so: "none" and
// "disabled", which the policy judges, unlike unknown.
func TestPlainBucket(t *testing.T) {
	_, admin := gateway(t, "")
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	put(t, admin, "plain", "2024-05-01.tar", "x")
	cat, _, err := collect(t, source(testEndpoint(admin), "plain", "{time}.tar", func(s *config.Source) { s.Dataset = "files" }), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := cat.Repositories[0].Protection
	if p.LockMode != "none" || p.Versioning != "disabled" {
		t.Errorf("protection = %+v, want lock none and versioning disabled", p)
	}
	if b := cat.Backups[0]; b.Immutable || b.Dataset != "files" || b.Env != "prod" {
		t.Errorf("backup = %+v", b)
	}
}

// ListObjectsV2 pages hold 1,000 keys: 2,500 objects take 3 requests, each
// counted, and prefixes are listed each on its own.
func TestListingPages(t *testing.T) {
	srv, admin := gateway(t, "")
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("many")}); err != nil {
		t.Fatal(err)
	}
	// The posix backend serves files written into the bucket's directory.
	for i := range 2500 {
		dir := filepath.Join(srv.Root, "many", "prod", fmt.Sprintf("ds%d", i%2))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		name := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format("20060102T150405Z") + ".dump"
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cat, calls, err := collect(t, source(testEndpoint(admin), "many", "prod/{dataset}/{time}.dump", nil), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 2500 {
		t.Fatalf("backups = %d, want 2500", len(cat.Backups))
	}
	if calls["S3 ListObjectsV2"] != 3 {
		t.Errorf("ListObjectsV2 requests = %d, want ceil(2500/1000) = 3", calls["S3 ListObjectsV2"])
	}
	cat, calls, err = collect(t, source(testEndpoint(admin), "many", "prod/{dataset}/{time}.dump", func(s *config.Source) {
		s.S3.Prefixes = []string{"prod/ds0/", "prod/ds1/"}
	}), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 2500 || calls["S3 ListObjectsV2"] != 4 {
		t.Errorf("two prefixes of 1,250 keys: %d backups in %d requests, want 2500 in 4", len(cat.Backups), calls["S3 ListObjectsV2"])
	}
	for i := 1; i < len(cat.Backups); i++ {
		if cat.Backups[i-1].ID >= cat.Backups[i].ID {
			t.Fatalf("backups not in key order at %d", i)
		}
	}
}

// Keys that do not fit the template are counted and left out; when none
// fits, the collection fails naming a key and the template.
func TestMalformedKeys(t *testing.T) {
	_, admin := gateway(t, "")
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("mixed")}); err != nil {
		t.Fatal(err)
	}
	put(t, admin, "mixed", "prod/app/not-a-time.dump", "x")
	tpl := "prod/{dataset}/{time}.dump"
	_, _, err := collect(t, source(testEndpoint(admin), "mixed", tpl, nil), time.Now())
	if err == nil || !strings.Contains(err.Error(), `"prod/app/not-a-time.dump"`) || !strings.Contains(err.Error(), tpl) || runx.KindOf(err) != runx.KindParse {
		t.Fatalf("error = %v (kind %s), want a parse error naming the key and the template", err, runx.KindOf(err))
	}
	put(t, admin, "mixed", "prod/app/2024-05-01.dump", "x")
	var log bytes.Buffer
	cat, _, err := collectLogged(t, source(testEndpoint(admin), "mixed", tpl, nil), time.Now(), &log)
	if err != nil || len(cat.Backups) != 1 {
		t.Fatalf("one good key among bad ones: %v, %+v", err, cat)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "keys=1") || !strings.Contains(log.String(), `prod/app/not-a-time.dump`) {
		t.Errorf("log %q: want a warning counting the key that does not match, with it as the example", log.String())
	}
}

// Rejected credentials fail the source with a message naming it.
func TestRejectedCredentials(t *testing.T) {
	_, admin := gateway(t, "")
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("creds")}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong")
	_, _, err := collect(t, source(testEndpoint(admin), "creds", "{dataset}/{time}", nil), time.Now())
	if err == nil || !strings.Contains(err.Error(), "source objects") || !strings.Contains(err.Error(), "credentials were rejected") || runx.KindOf(err) != runx.KindConfig {
		t.Fatalf("error = %v (kind %s)", err, runx.KindOf(err))
	}
}
