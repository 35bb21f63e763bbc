package s3

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/restorable/restorable/internal/runx"
)

// GetBucketLocation answers an empty constraint for us-east-1 and the
// legacy "EU" for eu-west-1, as the S3 API reference documents.
func TestRegionOf(t *testing.T) {
	for in, want := range map[string]string{"": "us-east-1", "EU": "eu-west-1", "eu-central-1": "eu-central-1"} {
		if got := regionOf(&s3.GetBucketLocationOutput{LocationConstraint: types.BucketLocationConstraint(in)}); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// Object Lock enabled without a default rule locks nothing by default.
func TestLockWithoutDefaultRule(t *testing.T) {
	mode, ret := lockOf(&s3.GetObjectLockConfigurationOutput{ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	if mode != "none" || ret != 0 {
		t.Errorf("mode %q retention %v", mode, ret)
	}
}

// A source on AWS (no endpoint) without a region anywhere fails to start,
// saying what to set.
func TestNoRegion(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	_, err := New(source("", "b", "{time}", nil), slog.New(slog.DiscardHandler), time.Now)
	if err == nil || !strings.Contains(err.Error(), "source objects") || !strings.Contains(err.Error(), "no region") || runx.KindOf(err) != runx.KindConfig {
		t.Fatalf("error = %v", err)
	}
}
