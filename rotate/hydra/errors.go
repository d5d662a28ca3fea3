package hydra

import (
	"errors"
	"net/url"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrInvalid: an argument to New, or a credential this target cannot
	// use (empty, not UTF-8, or for another client than the target's).
	ErrInvalid = errors.New("rotate/hydra: invalid")
	// ErrNotFound: Hydra has no client with the target's ID.
	ErrNotFound = errors.New("rotate/hydra: client not found")
	// ErrRejected: the token endpoint refused the credential in Test (an
	// OAuth 2.0 error such as invalid_client, or another HTTP failure).
	ErrRejected = errors.New("rotate/hydra: credential rejected")
)

// opError is an error of this package: the operation, the sentinel it
// matches (if any), a message, and the cause (if any).
type opError struct {
	op       string // "new", "set", "test"
	sentinel error
	msg      string
	cause    error
}

func (e *opError) Error() string {
	s := "rotate/hydra: " + e.op
	if e.msg != "" {
		s += ": " + e.msg
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap returns the sentinel and the cause, for errors.Is and errors.As.
func (e *opError) Unwrap() []error {
	var errs []error
	if e.sentinel != nil {
		errs = append(errs, e.sentinel)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func newError(op string, sentinel error, msg string, cause error) error {
	return &opError{op: op, sentinel: sentinel, msg: msg, cause: cause}
}

// transportError drops net/http's *url.Error, whose message carries the
// URL unredacted, keeping its cause.
func transportError(err error) error {
	var ue *url.Error
	for errors.As(err, &ue) {
		err = ue.Err
	}
	return err
}
