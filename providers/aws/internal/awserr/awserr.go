// Package awserr turns the errors of the AWS SDK into the errors of the
// module's providers: a message of the provider's prefix, the operation,
// the resource and the AWS error code, wrapping a sentinel of package
// providers where one applies.
//
// # Security
//
// The SDK's own error text is never passed on: an operation error quotes
// the request (endpoint, and in some failures headers), and a service's
// message may quote what it was sent. Only the error code, cut to the
// characters codes use, reaches a message, and for a failure with no code
// the Go type of the innermost error. So no credential, session token or
// signed header can reach an error made here.
package awserr

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/aws/smithy-go"
	"github.com/strongroom/strongroom/providers"
)

// Error returns err, an error of an SDK call op on resource id, as an
// error of the provider whose messages start with prefix:
//
//   - when ctx has ended, one that wraps ctx.Err();
//   - for an AWS error, one naming its code, wrapping the sentinel that
//     classify gives for the code and message (nil classify, or a nil
//     result: the sentinel of [Permission], if any);
//   - otherwise (no response: a closed port, a DNS failure), one naming
//     the Go type of the transport error (see [Kind]).
//
// The message is never used, only handed to classify.
func Error(ctx context.Context, prefix, op, id string, err error, classify func(code, msg string) error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s%s %q: %w", prefix, op, id, ctx.Err())
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		var ce interface{ CanceledError() bool }
		if errors.As(err, &ce) && ce.CanceledError() {
			return fmt.Errorf("%s%s %q: %w", prefix, op, id, context.Canceled)
		}
		return fmt.Errorf("%s%s %q: request failed (%s)", prefix, op, id, Kind(err))
	}
	code := ae.ErrorCode()
	var sentinel error
	if classify != nil {
		sentinel = classify(code, ae.ErrorMessage())
	}
	if sentinel == nil {
		sentinel = Permission(code)
	}
	if sentinel == nil {
		return fmt.Errorf("%s%s %q: %s", prefix, op, id, sanitize(code))
	}
	return fmt.Errorf("%s%s %q: %s: %w", prefix, op, id, sanitize(code), sentinel)
}

// Permission returns [providers.ErrPermission] for the error codes every
// AWS service answers a refused caller with (access denied, a bad
// signature, an unknown or expired key or token), and nil for any other.
func Permission(code string) error {
	switch code {
	case "AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
		"InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature",
		"ExpiredTokenException", "ExpiredToken", "InvalidClientTokenId",
		"MissingAuthenticationToken", "MissingAuthenticationTokenException":
		return providers.ErrPermission
	}
	return nil
}

// Code returns the AWS error code of err, or "".
func Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Kind names the Go type of the innermost error of err's chain, without
// its text (which, for a request, may quote the endpoint and headers):
// "*net.OpError", say; a system call's error number, which quotes nothing,
// with its text ("syscall.Errno: connection refused").
func Kind(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			if errno, ok := err.(syscall.Errno); ok {
				return "syscall.Errno: " + errno.Error()
			}
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}

// sanitize keeps an error code to the characters codes use, and to 64 of
// them: a code comes from the response, which an endpoint in the middle
// could fill with anything.
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
