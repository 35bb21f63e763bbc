package s3

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/awsclient"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// replay is an S3 endpoint answering each bucket call with a response
// body from testdata/replay, shaped as the S3 API reference documents
// them. answers maps a call (location, versioning, object-lock,
// encryption, lifecycle, list) to a file; a file named error-CODE.xml is
// sent with the status S3 uses for that code. Calls without an answer get
// NotImplemented, as S3-compatible stores answer.
type replay struct {
	t       *testing.T
	mu      sync.Mutex
	answers map[string][]string
}

func (r *replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	call := "list"
	for _, q := range []string{"location", "versioning", "object-lock", "encryption", "lifecycle"} {
		if req.URL.Query().Has(q) {
			call = q
		}
	}
	r.mu.Lock()
	files := r.answers[call]
	file := "error-NotImplemented.xml"
	if len(files) > 0 {
		file = files[0]
		if len(files) > 1 {
			r.answers[call] = files[1:]
		}
	}
	r.mu.Unlock()
	status := http.StatusOK
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NotImplemented</Code><Message>A header you provided implies functionality that is not implemented.</Message></Error>`)
	if file != "error-NotImplemented.xml" {
		var err error
		body, err = os.ReadFile(filepath.Join("testdata", "replay", file))
		if err != nil {
			r.t.Errorf("replay: %v", err)
		}
	}
	switch file {
	case "error-NotImplemented.xml":
		status = http.StatusNotImplemented
	case "error-AccessDenied.xml", "error-ExpiredToken.xml":
		status = http.StatusForbidden
	case "error-SlowDown.xml":
		status = http.StatusServiceUnavailable
	default:
		if strings.HasPrefix(file, "error-") {
			status = http.StatusNotFound
		}
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func replayCollect(t *testing.T, answers map[string][]string, mut func(*config.Source)) (*model.Catalog, map[string]int, error) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "replay")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "replay")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	srv := httptest.NewServer(&replay{t: t, answers: answers})
	defer srv.Close()
	src := source(srv.URL, "acme-db-backups", "dumps/{env}/{dataset}/{release}/{time}.dump", func(s *config.Source) { s.Env = "" })
	if mut != nil {
		mut(src)
	}
	c, err := newCollector(src, slog.New(slog.DiscardHandler), time.Now, awsclient.Options{MaxBackoff: 10 * time.Millisecond, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	m := &runx.Meter{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat, err := c.Collect(runx.WithMeter(ctx, m))
	return cat, m.Calls(), err
}

// Bucket facts from the documented response shapes: KMS default
// encryption, GOVERNANCE lock for a year, lifecycle rules reduced to the
// earliest transition and expiration of the rules that reach the source's
// prefix, the region from GetBucketLocation.
func TestReplayedBucketFacts(t *testing.T) {
	const key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	cat, _, err := replayCollect(t, map[string][]string{
		"location": {"location-eu-west-1.xml"}, "versioning": {"versioning-enabled.xml"},
		"object-lock": {"object-lock-governance-1y.xml"}, "encryption": {"encryption-kms.xml"},
		"lifecycle": {"lifecycle.xml"}, "list": {"list.xml"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cat.Repositories[0].Protection
	want := model.Protection{Versioning: "enabled", LockMode: "GOVERNANCE", LockRetention: 365 * 24 * time.Hour,
		Encryption: "aws:kms", KMSKey: key, LifecycleKnown: true,
		TransitionAfter: 30 * 24 * time.Hour, TransitionClass: "STANDARD_IA", ExpireAfter: 7 * 24 * time.Hour}
	if *p != want {
		t.Errorf("protection\n got %+v\nwant %+v", *p, want)
	}
	if r := cat.Repositories[0]; r.Region != "eu-west-1" || r.Name != "acme-db-backups" || r.StoredBytes != 434234+438111 {
		t.Errorf("repository = %+v", r)
	}
	if len(cat.Backups) != 2 {
		t.Fatalf("backups = %+v", cat.Backups)
	}
	b := cat.Backups[1]
	end := time.Date(2024, 5, 2, 13, 10, 0, 0, time.UTC)
	if !b.Encrypted || b.KeyID != key || !b.Immutable || !b.RetainUntil.Equal(end.Add(365*24*time.Hour)) ||
		b.Region != "eu-west-1" || b.StorageClass != "STANDARD_IA" || !b.End.Equal(end) || b.Release != "v2.2" || b.Dataset != "orders" {
		t.Errorf("backup = %+v", b)
	}
}

// S3's own "no such configuration" answers mean off; NotImplemented and
// AccessDenied leave the fact unknown.
func TestReplayedAbsentAndUnknownFacts(t *testing.T) {
	cat, _, err := replayCollect(t, map[string][]string{
		"location": {"error-AccessDenied.xml"}, "versioning": {"versioning-never.xml"},
		"object-lock": {"error-ObjectLockConfigurationNotFoundError.xml"},
		"encryption":  {"error-ServerSideEncryptionConfigurationNotFoundError.xml"},
		"lifecycle":   {"error-NoSuchLifecycleConfiguration.xml"}, "list": {"list.xml"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cat.Repositories[0].Protection
	if *p != (model.Protection{Versioning: "disabled", LockMode: "none", Encryption: "none", LifecycleKnown: true}) {
		t.Errorf("protection = %+v, want everything off and the lifecycle known to be empty", *p)
	}
	if cat.Repositories[0].Region != "" || cat.Backups[0].Region != "" {
		t.Errorf("region %q: AccessDenied on GetBucketLocation must leave it unknown", cat.Repositories[0].Region)
	}
	cat, _, err = replayCollect(t, map[string][]string{"list": {"list.xml"}, "object-lock": {"error-AccessDenied.xml"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := cat.Repositories[0].Protection; *p != (model.Protection{}) {
		t.Errorf("protection = %+v, want every fact unknown", *p)
	}
	if b := cat.Backups[0]; b.Encrypted || b.Immutable {
		t.Errorf("backup = %+v, want no protection claimed", b)
	}
}

// A throttled listing (503 SlowDown) is retried with backoff and each
// attempt counted; a store that keeps throttling fails the source after a
// bounded number of attempts.
func TestThrottledListing(t *testing.T) {
	cat, calls, err := replayCollect(t, map[string][]string{"list": {"error-SlowDown.xml", "error-SlowDown.xml", "list.xml"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 2 || calls["S3 ListObjectsV2"] != 3 {
		t.Errorf("%d backups in %d ListObjectsV2 requests, want 2 in 3 (two throttled)", len(cat.Backups), calls["S3 ListObjectsV2"])
	}
	_, calls, err = replayCollect(t, map[string][]string{"list": {"error-SlowDown.xml"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "SlowDown") || runx.KindOf(err) != runx.KindIO {
		t.Fatalf("error = %v (kind %s), want an I/O error that says SlowDown", err, runx.KindOf(err))
	}
	if calls["S3 ListObjectsV2"] != 3 {
		t.Errorf("%d attempts, want MaxAttempts = 3", calls["S3 ListObjectsV2"])
	}
}

// Expired credentials fail the source with a message naming it and the
// cause.
func TestExpiredToken(t *testing.T) {
	_, _, err := replayCollect(t, map[string][]string{"location": {"error-ExpiredToken.xml"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "source objects") || !strings.Contains(err.Error(), "ExpiredToken") || runx.KindOf(err) != runx.KindConfig {
		t.Fatalf("error = %v (kind %s)", err, runx.KindOf(err))
	}
}
