package s3

import (
	"errors"
	"net/http"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/restorable/restorable/internal/model"
)

// The words Protection uses for what a bucket says.
const (
	versioningEnabled   = "enabled"
	versioningSuspended = "suspended"
	versioningDisabled  = "disabled"
	none                = "none"
)

// answer is how a bucket configuration call ended.
type answer int

const (
	// answered: the store returned a configuration.
	answered answer = iota
	// notConfigured: the store says the bucket has no such configuration
	// (ServerSideEncryptionConfigurationNotFoundError and its kin): the
	// feature is off.
	notConfigured
	// unknown: the store does not implement the call, or does not let us
	// read it; the fact is unknown, never "off".
	unknown
	// failed: any other error; the collection fails.
	failed
)

// notConfiguredCodes are the error codes with which S3 says that a bucket
// has no configuration of a kind.
var notConfiguredCodes = map[string]bool{
	"ServerSideEncryptionConfigurationNotFoundError": true,
	"NoSuchLifecycleConfiguration":                   true,
	"ObjectLockConfigurationNotFoundError":           true,
}

// unknownCodes are the error codes that leave a fact unknown: the store
// does not implement the call (S3-compatible stores), or the credentials
// may not read it.
var unknownCodes = map[string]bool{
	"NotImplemented":   true,
	"XNotImplemented":  true,
	"MethodNotAllowed": true,
	"AccessDenied":     true,
}

// classify tells how a configuration call ended from its error.
func classify(err error) answer {
	if err == nil {
		return answered
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if notConfiguredCodes[api.ErrorCode()] {
			return notConfigured
		}
		if unknownCodes[api.ErrorCode()] {
			return unknown
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusNotImplemented, http.StatusMethodNotAllowed:
			return unknown
		}
	}
	return failed
}

// regionOf maps GetBucketLocation's LocationConstraint to a region: an
// empty constraint is us-east-1 and the legacy "EU" eu-west-1, as the S3
// API reference documents.
func regionOf(out *s3.GetBucketLocationOutput) string {
	switch c := string(out.LocationConstraint); c {
	case "":
		return "us-east-1"
	case "EU":
		return "eu-west-1"
	default:
		return c
	}
}

// versioningOf maps GetBucketVersioning's answer: a bucket that never had
// versioning answers with no status.
func versioningOf(out *s3.GetBucketVersioningOutput) string {
	switch out.Status {
	case types.BucketVersioningStatusEnabled:
		return versioningEnabled
	case types.BucketVersioningStatusSuspended:
		return versioningSuspended
	default:
		return versioningDisabled
	}
}

// lockOf maps an Object Lock configuration to its mode and default
// retention. A configuration with Object Lock enabled and no default
// rule locks only objects written with a retention of their own: its mode
// is "none" as far as the bucket's default goes.
func lockOf(out *s3.GetObjectLockConfigurationOutput) (mode string, retention time.Duration) {
	c := out.ObjectLockConfiguration
	if c == nil || c.ObjectLockEnabled != types.ObjectLockEnabledEnabled || c.Rule == nil || c.Rule.DefaultRetention == nil {
		return none, 0
	}
	r := c.Rule.DefaultRetention
	mode = string(r.Mode)
	if mode == "" {
		return none, 0
	}
	switch {
	case r.Days != nil:
		retention = time.Duration(*r.Days) * 24 * time.Hour
	case r.Years != nil:
		retention = time.Duration(*r.Years) * 365 * 24 * time.Hour
	}
	return mode, retention
}

// encryptionOf maps a default encryption configuration to its algorithm
// and KMS key (the first rule's: S3 applies one).
func encryptionOf(out *s3.GetBucketEncryptionOutput) (algorithm, key string) {
	c := out.ServerSideEncryptionConfiguration
	if c == nil {
		return none, ""
	}
	for _, r := range c.Rules {
		if d := r.ApplyServerSideEncryptionByDefault; d != nil && d.SSEAlgorithm != "" {
			key := ""
			if d.KMSMasterKeyID != nil {
				key = *d.KMSMasterKeyID
			}
			return string(d.SSEAlgorithm), key
		}
	}
	return none, ""
}

// lifecycle is what the enabled lifecycle rules that reach the source's
// keys do to current versions: the earliest transition (age and class)
// and the earliest expiration.
type lifecycle struct {
	transitionAfter time.Duration
	transitionClass string
	expireAfter     time.Duration
}

// lifecycleOf reduces lifecycle rules to the earliest transition and
// expiration of current versions among the enabled rules whose prefix
// filter can reach a key under one of prefixes. Rules by date rather than
// age, and rules on noncurrent versions, do not set an age and are left
// out; a rule that also filters by tag or size counts, because some
// backups may carry the tag or have the size.
func lifecycleOf(rules []types.LifecycleRule, prefixes []string) lifecycle {
	var l lifecycle
	for _, r := range rules {
		if r.Status != types.ExpirationStatusEnabled || !reaches(rulePrefix(r), prefixes) {
			continue
		}
		for _, t := range r.Transitions {
			if t.Days == nil {
				continue
			}
			d := time.Duration(*t.Days) * 24 * time.Hour
			if l.transitionClass == "" || d < l.transitionAfter {
				l.transitionAfter, l.transitionClass = d, string(t.StorageClass)
			}
		}
		if e := r.Expiration; e != nil && e.Days != nil && *e.Days > 0 {
			d := time.Duration(*e.Days) * 24 * time.Hour
			if l.expireAfter == 0 || d < l.expireAfter {
				l.expireAfter = d
			}
		}
	}
	return l
}

// rulePrefix is the key prefix a lifecycle rule filters on ("" for all
// keys), wherever the rule puts it.
func rulePrefix(r types.LifecycleRule) string {
	if f := r.Filter; f != nil {
		if f.Prefix != nil {
			return *f.Prefix
		}
		if f.And != nil && f.And.Prefix != nil {
			return *f.And.Prefix
		}
		return ""
	}
	return legacyPrefix(r)
}

// legacyPrefix is the rule-level prefix of lifecycle configurations
// written before filters existed, which S3 still answers for them.
func legacyPrefix(r types.LifecycleRule) string {
	//lint:ignore SA1019 older rules carry their prefix here only
	if r.Prefix != nil {
		//lint:ignore SA1019 older rules carry their prefix here only
		return *r.Prefix
	}
	return ""
}

// reaches reports whether keys under one of prefixes can start with p.
func reaches(p string, prefixes []string) bool {
	for _, q := range prefixes {
		if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
			return true
		}
	}
	return false
}

// applyLifecycle records lifecycle facts on a protection record.
func (l lifecycle) apply(p *model.Protection) {
	p.LifecycleKnown = true
	p.TransitionAfter = l.transitionAfter
	p.TransitionClass = l.transitionClass
	p.ExpireAfter = l.expireAfter
}
