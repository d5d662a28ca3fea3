package secretsmanager

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
	"github.com/strongroom/strongroom/providers"
)

const prefix = "providers/aws/secretsmanager: "

// apiError turns an error of the SDK into one of ours. The message is
// built from the operation, the secret id and the AWS error code only: the
// SDK's own text (which may carry request details) is not passed on, so no
// credential, session token or signed header can reach it. A ctx error is
// wrapped as such.
func apiError(ctx context.Context, op, id string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s%s %q: %w", prefix, op, id, ctx.Err())
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		var ce interface{ CanceledError() bool }
		if errors.As(err, &ce) && ce.CanceledError() {
			return fmt.Errorf("%s%s %q: %w", prefix, op, id, context.Canceled)
		}
		return fmt.Errorf("%s%s %q: request failed (%s)", prefix, op, id, errorKind(err))
	}
	code := ae.ErrorCode()
	sentinel := classify(code, ae.ErrorMessage())
	if sentinel == nil {
		return fmt.Errorf("%s%s %q: %s", prefix, op, id, sanitize(code))
	}
	return fmt.Errorf("%s%s %q: %s: %w", prefix, op, id, sanitize(code), sentinel)
}

// classify maps an AWS error code to a sentinel of package providers, or
// nil.
func classify(code, msg string) error {
	switch code {
	case "ResourceNotFoundException":
		return providers.ErrNotFound
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
		"InvalidSignatureException", "ExpiredTokenException", "IncompleteSignature":
		return providers.ErrPermission
	case "InvalidRequestException":
		if strings.Contains(msg, "deletion") {
			// The secret is scheduled for deletion: to a reader it is gone.
			return providers.ErrNotFound
		}
	case "DecryptionFailure":
		return providers.ErrInvalid
	}
	return nil
}

// errorKind names the Go type of a transport error without its text
// (which for a request may quote the endpoint and headers).
func errorKind(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}

// sanitize keeps an error code to the characters codes use.
func sanitize(code string) string {
	b := []byte(code)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_') {
			b[i] = '?'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// codeOf returns the AWS error code of err, or "".
func codeOf(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}
