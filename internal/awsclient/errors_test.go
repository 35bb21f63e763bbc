package awsclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/restorable/restorable/internal/runx"
)

// Rejected credentials are a configuration problem of the source, named
// in the message; throttling that outlasted the retries and other API
// errors are I/O; a deadline stays a timeout.
func TestErrorKinds(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind runx.Kind
		msg  string
	}{
		{&smithy.GenericAPIError{Code: "ExpiredToken", Message: "The security token included in the request is expired"}, runx.KindConfig, "source s: GetMetricData: AWS rejected the credentials (ExpiredToken: The security token included in the request is expired); renew them"},
		{&smithy.GenericAPIError{Code: "ExpiredTokenException", Message: "expired"}, runx.KindConfig, "ExpiredTokenException"},
		{&smithy.GenericAPIError{Code: "UnrecognizedClientException", Message: "invalid"}, runx.KindConfig, "UnrecognizedClientException"},
		{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized to perform ce:GetCostAndUsage"}, runx.KindConfig, "not authorized to perform ce:GetCostAndUsage"},
		{&smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, runx.KindIO, "source s: GetMetricData: api error Throttling: Rate exceeded"},
		{fmt.Errorf("operation error: %w", context.DeadlineExceeded), runx.KindTimeout, "source s: GetMetricData:"},
	} {
		err := Error("s", "GetMetricData", tc.err)
		if runx.KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Error(%v) = %v (kind %s), want kind %s with %q", tc.err, err, runx.KindOf(err), tc.kind, tc.msg)
		}
		if !errors.Is(err, tc.err) && tc.kind != runx.KindConfig {
			t.Errorf("Error(%v) does not wrap it", tc.err)
		}
	}
}
