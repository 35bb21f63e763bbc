package collectors

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

// brokenSources returns, for every collector type, a source whose catalog
// cannot be read, and the failure kind a user should see for it.
type brokenSource struct {
	src  *config.Source
	kind runx.Kind
}

func brokenSources(t *testing.T) map[string]brokenSource {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := func(typ string) *config.Source {
		return &config.Source{Name: "broken-" + typ, Type: typ, Env: "prod", Timeout: config.Duration(10 * time.Second)}
	}
	m := map[string]brokenSource{}
	s := src(config.TypeManifest)
	s.Manifest = &config.ManifestOptions{Dir: filepath.Join(dir, "no-such-dir")}
	m[config.TypeManifest] = brokenSource{s, runx.KindIO}
	s = src(config.TypeRestic)
	s.Restic = &config.ResticOptions{Repository: filepath.Join(dir, "repo"), PasswordFile: pw, Binary: "/nonexistent/restic", CacheDir: filepath.Join(dir, "cache")}
	m[config.TypeRestic] = brokenSource{s, runx.KindNotFound}
	s = src(config.TypePgBackRest)
	s.PgBackRest = &config.PgBackRestOptions{Binary: "/nonexistent/pgbackrest"}
	m[config.TypePgBackRest] = brokenSource{s, runx.KindNotFound}
	s = src(config.TypeWALG)
	s.WALG = &config.WALGOptions{Binary: "/nonexistent/wal-g", WALVerify: true}
	m[config.TypeWALG] = brokenSource{s, runx.KindNotFound}
	s = src(config.TypeVelero)
	s.Velero = &config.VeleroOptions{File: filepath.Join(dir, "no-such-file.json"), Namespace: "velero", PageSize: 500}
	m[config.TypeVelero] = brokenSource{s, runx.KindIO}
	s = src(config.TypeAWSBackup)
	s.AWSBackup = &config.AWSBackupOptions{Region: "eu-west-1", Profile: "restorable-no-such-profile", Endpoint: "http://127.0.0.1:1", MaxAttempts: 1}
	m[config.TypeAWSBackup] = brokenSource{s, runx.KindConfig}

	// The AWS API sources get an endpoint that rejects their credentials
	// as AWS does, in each service's protocol.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret-test")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	aws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Smithy-Protocol") == "rpc-v2-cbor" {
			w.Header().Set("X-Amzn-Query-Error", "ExpiredToken;Sender")
			w.Header().Set("Content-Type", "application/cbor")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write(cbor.Encode(cbor.Map{"__type": cbor.String("ExpiredTokenException"), "message": cbor.String("The security token included in the request is expired")}))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}`))
	}))
	t.Cleanup(aws.Close)
	s = src(config.TypeCostExplorer)
	s.CostExplorer = &config.CostExplorerOptions{Region: "us-east-1", Endpoint: aws.URL, Granularity: config.GranularityDaily,
		Lookback: config.DefaultCELookback, Services: config.DefaultCostExplorerServices(), Metrics: config.CostExplorerMetrics}
	m[config.TypeCostExplorer] = brokenSource{s, runx.KindConfig}
	s = src(config.TypeS3Requests)
	s.S3Requests = &config.S3RequestsOptions{Region: "eu-west-1", Endpoint: aws.URL, Buckets: []config.S3RequestBucket{{Name: "b", FilterID: "EntireBucket"}},
		Metrics: config.DefaultS3RequestMetrics(), Period: config.DefaultS3RequestsPeriod, Lookback: config.DefaultS3RequestsLookback}
	m[config.TypeS3Requests] = brokenSource{s, runx.KindConfig}

	// An S3 endpoint where nothing listens.
	s = src(config.TypeS3)
	s.Dataset = "dumps"
	s.S3 = &config.S3Options{Bucket: "backups", KeyTemplate: "{time}.dump", Endpoint: "http://127.0.0.1:1", PathStyle: true,
		Mode: config.S3ModeList, BackupType: "full", Concurrency: 1}
	m[config.TypeS3] = brokenSource{s, runx.KindIO}
	s = src(config.TypeBilling)
	s.Billing = &config.BillingOptions{Path: filepath.Join(dir, "no-such-bills")}
	m[config.TypeBilling] = brokenSource{s, runx.KindIO}
	return m
}

// Every collector passes the same checks: it is listed for a configurable
// type, a source it cannot read fails with a kind that says why (never a
// panic, never an empty catalog that would read as "no backups"), and it
// returns at once when its context is already done.
func TestCollectorConformance(t *testing.T) {
	factories := Factories()
	var listed []string
	for typ := range factories {
		listed = append(listed, typ)
	}
	slices.Sort(listed)
	want := slices.Clone(config.SourceTypes)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("collectors listed for %v, the configuration accepts %v", listed, want)
	}
	broken := brokenSources(t)
	for _, typ := range listed {
		t.Run(typ, func(t *testing.T) {
			b, ok := broken[typ]
			if !ok {
				t.Fatalf("no broken source for %s: add one to brokenSources", typ)
			}
			c, err := factories[typ](b.src, Deps{Logger: slog.New(slog.DiscardHandler), Now: time.Now})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			r := Collect(context.Background(), b.src, c, time.Now, slog.New(slog.DiscardHandler))
			if r.Err == nil || r.Catalog != nil {
				t.Fatalf("unreadable source gave catalog %v, error %v", r.Catalog, r.Err)
			}
			if r.Kind != b.kind {
				t.Errorf("kind %q (%v), want %q", r.Kind, r.Err, b.kind)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			done := make(chan Run, 1)
			go func() { done <- Collect(ctx, b.src, c, time.Now, slog.New(slog.DiscardHandler)) }()
			select {
			case r = <-done:
				if r.Err == nil {
					t.Error("a collection with a cancelled context succeeded")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("a collection with a cancelled context hangs")
			}
		})
	}
}
