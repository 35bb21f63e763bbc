package s3

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
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
