// Package awsclient builds the AWS SDK configuration every AWS-facing
// source shares (S3, AWS Backup, Cost Explorer, CloudWatch): the default
// credential chain, an optional endpoint for S3-compatible stores, a
// timeout on every request, bounded retries with backoff, and a count of
// every request made, by service and operation, in the collection's
// runx.Meter.
package awsclient

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/middleware"

	"github.com/restorable/restorable/internal/runx"
)

// Options configure one source's AWS access.
type Options struct {
	// Region is the AWS region; empty takes the default chain's
	// (AWS_REGION, the shared config file).
	Region string
	// Profile is a shared-config profile; empty is the default.
	Profile string
	// Endpoint is a base URL that replaces the service's (an S3-compatible
	// store, a test server); empty uses AWS.
	Endpoint string
	// RequestTimeout bounds each HTTP request (default 30s).
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of one call, retries of throttling
	// (503 SlowDown, ThrottlingException) and transient errors included
	// (default 5).
	MaxAttempts int
	// MaxBackoff is the longest wait between two attempts (default 5s).
	MaxBackoff time.Duration
}

// Load returns the configuration of one source. Credentials come from the
// default chain (environment, shared files, web identity, instance role);
// nothing here logs or returns them. A custom CA bundle (AWS_CA_BUNDLE)
// keeps working because the HTTP client is the SDK's buildable one.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	timeout := o.RequestTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	attempts := o.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	backoff := o.MaxBackoff
	if backoff <= 0 {
		backoff = 5 * time.Second
	}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout).WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = timeout
		})),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) {
				so.MaxAttempts = attempts
				so.MaxBackoff = backoff
			})
		}),
		awsconfig.WithAPIOptions([]func(*middleware.Stack) error{CountRequests}),
	}
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	if o.Endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(o.Endpoint))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, runx.Errorf(runx.KindConfig, "aws configuration: %v", err)
	}
	if cfg.Region == "" {
		// S3-compatible stores accept any region; AWS itself needs one.
		if o.Endpoint == "" {
			return aws.Config{}, runx.Errorf(runx.KindConfig, "aws configuration: no region (set region: or AWS_REGION)")
		}
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// Operation is the label under which a request is counted: the service id
// and the API operation, such as "S3 ListObjectsV2" or
// "Backup ListRecoveryPointsByBackupVault". It is a bounded label value.
func Operation(service, op string) string { return service + " " + op }

// CountRequests is the middleware that counts every HTTP request an SDK
// client sends (each retry is a request, and is billed as one) in the
// runx.Meter of the call's context. It sits in the finalize step after the
// retry loop, so it sees each attempt.
func CountRequests(stack *middleware.Stack) error {
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("restorableCountRequests",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			runx.Count(ctx, Operation(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)), 0)
			return next.HandleFinalize(ctx, in)
		}), middleware.After)
}
