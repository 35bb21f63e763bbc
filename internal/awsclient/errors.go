package awsclient

import (
	"errors"
	"fmt"
	"slices"

	"github.com/aws/smithy-go"

	"github.com/restorable/restorable/internal/runx"
)

// credentialCodes are the error codes with which AWS rejects the
// credentials of a request rather than the request itself.
var credentialCodes = []string{
	"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
	"SignatureDoesNotMatch", "InvalidSignatureException", "AccessDenied", "AccessDeniedException",
	"AuthFailure", "MissingAuthenticationToken",
}

// Error describes a failed AWS call of a source with a runx kind: rejected
// credentials (expired, unknown, not allowed) are KindConfig, with a
// message that names the source and says what to do, throttling that
// outlasted the retries and other API errors are KindIO, and a context's
// end keeps its own kind. It never includes credentials: the SDK's error
// messages do not carry them.
func Error(source, what string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) && slices.Contains(credentialCodes, api.ErrorCode()) {
		return runx.Errorf(runx.KindConfig, "source %s: %s: AWS rejected the credentials (%s: %s); renew them or check the source's profile and permissions", source, what, api.ErrorCode(), api.ErrorMessage())
	}
	if k := runx.KindOf(err); k == runx.KindTimeout || k == runx.KindCanceled {
		return fmt.Errorf("source %s: %s: %w", source, what, err)
	}
	return runx.Errorf(runx.KindIO, "source %s: %s: %w", source, what, err)
}
