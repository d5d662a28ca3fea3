package tokens

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrExpired: the token held has expired and no fresh one could be
	// obtained (refreshes are failing or backing off). The Cache fails
	// closed with it rather than hand out an expired token.
	ErrExpired = errors.New("tokens: expired")
	// ErrClosed: the Cache, Client or key set has been closed.
	ErrClosed = errors.New("tokens: closed")
	// ErrInvalid: an argument, an option, a key or a server's response
	// is not acceptable.
	ErrInvalid = errors.New("tokens: invalid")
	// ErrRejected: a token failed verification (signature, algorithm,
	// issuer, audience, time, scope). The error also matches the more
	// precise reason: golang-jwt's sentinels (jwt.ErrTokenExpired,
	// jwt.ErrTokenInvalidAudience, ...), [ErrUnknownKey] or
	// [ErrMissingScope].
	ErrRejected = errors.New("tokens: token rejected")
	// ErrUnknownKey: no key is known for the token's key ID.
	ErrUnknownKey = errors.New("tokens: unknown key")
	// ErrMissingScope: the token does not grant a scope that was required.
	ErrMissingScope = errors.New("tokens: missing scope")
)

// OAuthError is an error response from an OAuth 2.0 endpoint (RFC 6749
// section 5.2, RFC 7009 section 2.2.1), or an HTTP failure without one.
// Its fields never quote a credential: the server's text is untrusted, and
// a code, description or URI that shares a run of 8 bytes (or a quarter of
// a shorter credential) with a credential the request carried, in any form
// it carried it (as it is, form-encoded, as the base64 of a
// client_secret_basic header, as a private_key_jwt assertion, as a refresh
// token or a token being revoked), is withheld; letters are compared
// without regard to case and invalid UTF-8 is read as U+FFFD, so that a
// cut, case-changed or re-encoded echo is caught as well. The check runs
// on the server's full text and again on each field once cut to printable
// ASCII of bounded length.
type OAuthError struct {
	// Endpoint is "token" or "revocation".
	Endpoint string
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the "error" field ("invalid_client", "invalid_scope", ...);
	// empty when the body had none.
	Code string
	// Description is the "error_description" field; may be empty.
	Description string
	// URI is the "error_uri" field; may be empty.
	URI string
	// RetryAfter is the server's Retry-After, when it gave one; zero
	// otherwise. The Cache waits at least this long before trying again.
	RetryAfter time.Duration
}

// Error describes the failure: endpoint, error code, description, URI,
// HTTP status and Retry-After.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("tokens: ")
	b.WriteString(e.Endpoint)
	b.WriteString(" endpoint: ")
	if e.Code != "" {
		b.WriteString(e.Code)
	} else {
		b.WriteString("HTTP " + strconv.Itoa(e.StatusCode))
	}
	if e.Description != "" {
		b.WriteString(": " + e.Description)
	}
	if e.URI != "" {
		b.WriteString(" (see " + e.URI + ")")
	}
	if e.Code != "" {
		b.WriteString(" (HTTP " + strconv.Itoa(e.StatusCode) + ")")
	}
	if e.RetryAfter > 0 {
		b.WriteString("; retry after " + e.RetryAfter.String())
	}
	return b.String()
}

// retryAfter returns the Retry-After carried anywhere in err's chain.
func retryAfter(err error) time.Duration {
	var oe *OAuthError
	if errors.As(err, &oe) {
		return oe.RetryAfter
	}
	return 0
}

// Error is an error of this package that is not an [OAuthError]: it names
// what was being done and the sentinel it matches.
type Error struct {
	Op   string // "fetch", "token", "sign", "verify", "revoke", ...
	Kind error  // the sentinel matched (ErrExpired, ErrInvalid, ...); may be nil
	Err  error  // the cause; may be nil
}

// Error returns "tokens: OP: KIND: CAUSE".
func (e *Error) Error() string {
	msg := "tokens: " + e.Op
	if e.Kind != nil {
		msg += ": " + strings.TrimPrefix(e.Kind.Error(), "tokens: ")
	}
	if e.Err != nil {
		msg += ": " + strings.TrimPrefix(e.Err.Error(), "tokens: ")
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func newError(op string, kind, cause error) *Error { return &Error{Op: op, Kind: kind, Err: cause} }

func invalidf(op, format string, args ...any) *Error {
	return &Error{Op: op, Kind: ErrInvalid, Err: fmt.Errorf(format, args...)}
}
