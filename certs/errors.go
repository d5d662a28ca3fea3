package certs

import (
	"errors"

	"github.com/strongroom/strongroom/secrets"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// are *[Error] values that match one of them. Every reason a certificate is
// refused ([ErrMalformed], [ErrMismatch], [ErrExpired], [ErrNotYetValid],
// [ErrUntrusted], [ErrMissingName], [ErrRejected]) also matches
// [secrets.ErrInvalid].
var (
	// ErrMalformed: a value does not parse: no certificate, a broken PEM
	// block, a certificate or private key that does not decode.
	ErrMalformed = errors.New("certs: malformed")
	// ErrMismatch: the private key does not belong to the certificate.
	ErrMismatch = errors.New("certs: key does not match certificate")
	// ErrExpired: the certificate is past its NotAfter.
	ErrExpired = errors.New("certs: expired")
	// ErrNotYetValid: the certificate is before its NotBefore.
	ErrNotYetValid = errors.New("certs: not yet valid")
	// ErrUntrusted: the chain does not verify to the configured roots.
	ErrUntrusted = errors.New("certs: untrusted chain")
	// ErrMissingName: a DNS name or IP address the configuration requires
	// is not among the certificate's subject alternative names.
	ErrMissingName = errors.New("certs: required name missing")
	// ErrRejected: the store refused a new value of the secret (the
	// Validate or Expiry hook of its spec, or an expired value); the
	// store's error is in the chain. When the refusal came from this
	// package's hooks, the error matches their sentinel instead.
	ErrRejected = errors.New("certs: refused by the store")
	// ErrNoCertificate: there is no certificate to serve (for the name a
	// client asked for, or at all).
	ErrNoCertificate = errors.New("certs: no certificate")
	// ErrUnavailable: a secret of the pair could not be read from the
	// store (not loaded, deleted, expired, ...); the store's error is in
	// the chain.
	ErrUnavailable = errors.New("certs: secret unavailable")
	// ErrStale: renewals have failed for longer than Renewal.MaxStale, so
	// the certificate is withdrawn.
	ErrStale = errors.New("certs: stale")
	// ErrIssue: an Issuer could not issue a certificate.
	ErrIssue = errors.New("certs: issuance failed")
	// ErrClosed: the Source, TrustBundle or DevCA has been closed.
	ErrClosed = errors.New("certs: closed")
	// ErrConfig: an option is missing or invalid.
	ErrConfig = errors.New("certs: invalid configuration")
)

// Error is the error type of this package. It names the certificate (or
// trust bundle) and, where one is at fault, the secret and its version;
// never a value.
type Error struct {
	Op          string // "load", "validate", "renew", "issue", "serve", ...
	Certificate string // the Pair's or TrustBundle's name; may be empty
	Secret      string // the secret at fault; may be empty
	Version     string // that secret's version; may be empty
	Kind        error  // the sentinel this error matches
	Err         error  // the cause; may be nil
}

// Error formats the error: "certs: NAME: OP: secret S version V: KIND: CAUSE",
// leaving out what is empty.
func (e *Error) Error() string {
	msg := "certs: "
	if e.Certificate != "" {
		msg += e.Certificate + ": "
	}
	msg += e.Op + ": "
	if e.Secret != "" {
		msg += "secret " + e.Secret
		if e.Version != "" {
			msg += " version " + e.Version
		}
		msg += ": "
	}
	msg += kindText(e.Kind)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Is matches [secrets.ErrInvalid] for every reason a certificate is refused.
func (e *Error) Is(target error) bool {
	return target == secrets.ErrInvalid && refusal(e.Kind)
}

func refusal(kind error) bool {
	switch kind {
	case ErrMalformed, ErrMismatch, ErrExpired, ErrNotYetValid, ErrUntrusted, ErrMissingName, ErrRejected:
		return true
	}
	return false
}

func kindText(kind error) string {
	s := kind.Error()
	const prefix = "certs: "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// reason is a cause whose text is safe to show: it describes a value
// (public certificate facts, block numbers), never quotes a private key.
// It is a *secrets.ValueError underneath, so that a store validator
// returning an *Error keeps its message.
func reason(format string, args ...any) error {
	return secrets.InvalidValue(format, args...)
}

// storeRefusal is the *Error for a value the store refused: it keeps the
// kind of this package's hook that refused it, if one did.
func storeRefusal(certificate, secret string, err error) *Error {
	kind := ErrRejected
	var ce *Error
	if errors.As(err, &ce) {
		kind = ce.Kind
	}
	return &Error{Op: "validate", Certificate: certificate, Secret: secret, Kind: kind, Err: err}
}
