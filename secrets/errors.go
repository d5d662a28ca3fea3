package secrets

import (
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/providers"
)

// Sentinel errors, matched with errors.Is. Errors returned by this package
// are *[Error] values that match one (or more) of them.
var (
	// ErrNotFound: no secret of that name is declared, it was deleted, or
	// the backend has no value for its reference.
	ErrNotFound = errors.New("secrets: not found")
	// ErrExists: a secret of that name is already declared.
	ErrExists = errors.New("secrets: already declared")
	// ErrClosed: the Store has been closed.
	ErrClosed = errors.New("secrets: store closed")
	// ErrStale: refreshes have failed for longer than the secret's
	// staleness budget (Spec.MaxStale); the last good value is withheld.
	ErrStale = errors.New("secrets: stale")
	// ErrExpired: the value is past its expiry.
	ErrExpired = errors.New("secrets: expired")
	// ErrRevoked: the secret was revoked.
	ErrRevoked = errors.New("secrets: revoked")
	// ErrDestroyed: the version behind a handle has been wiped (it was
	// superseded and its overlap window ended, or the secret was revoked,
	// deleted or closed).
	ErrDestroyed = errors.New("secrets: version destroyed")
	// ErrPermission: the consumer's scope does not include the secret, or
	// the backend refused access.
	ErrPermission = errors.New("secrets: permission denied")
	// ErrInvalid: a spec, a reference or a value is not acceptable (it
	// fails to parse, or its validator rejected it).
	ErrInvalid = errors.New("secrets: invalid")
	// ErrUnsupported: the secret's provider cannot do what was asked (for
	// example revoke, delete or write).
	ErrUnsupported = errors.New("secrets: not supported")
	// ErrLockedMemory: memory could not be locked within the budget
	// (RLIMIT_MEMLOCK or Options.MaxLockedMemory).
	ErrLockedMemory = errors.New("secrets: locked memory unavailable")
)

// Error is the error type of this package. It names the secret and the
// operation, never the value.
type Error struct {
	Op     string // what was being done: "get", "fetch", "validate", "revoke", ...
	Secret string // the secret's name; may be empty
	Kind   error  // the sentinel this error matches
	Err    error  // the underlying cause (a provider's error, a validator's); may be nil
}

func (e *Error) Error() string {
	msg := "secrets: "
	if e.Secret != "" {
		msg += e.Secret + ": "
	}
	msg += e.Op + ": " + kindText(e.Kind)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sentinel and the cause, so that errors.Is matches both
// (for example ErrNotFound and providers.ErrNotFound).
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// kindText is a sentinel's message without the package prefix.
func kindText(kind error) string {
	s := kind.Error()
	const prefix = "secrets: "
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

func newError(op, name string, kind, cause error) *Error {
	return &Error{Op: op, Secret: name, Kind: kind, Err: cause}
}

// classify wraps a provider's or the guard's error once, picking the
// sentinel that matches its cause.
func classify(op, name string, err error) *Error {
	var kind error
	switch {
	case errors.Is(err, providers.ErrNotFound):
		kind = ErrNotFound
	case errors.Is(err, providers.ErrPermission):
		kind = ErrPermission
	case errors.Is(err, providers.ErrInvalid), errors.Is(err, providers.ErrInvalidRef):
		kind = ErrInvalid
	case errors.Is(err, providers.ErrUnsupported):
		kind = ErrUnsupported
	case errors.Is(err, providers.ErrClosed), errors.Is(err, guard.ErrClosed):
		kind = ErrClosed
	case errors.Is(err, guard.ErrLockedMemory):
		kind = ErrLockedMemory
	default:
		kind = errFetch
	}
	return newError(op, name, kind, err)
}

// errFetch is the kind of a failure that fits no sentinel (a timeout, a
// network error): Error.Err says what.
var errFetch = errors.New("secrets: failed")

// scrub withholds err's message when it contains value: validators and
// backends are not ours, and a message that quotes the value must not
// reach a log or an event. The error stays in the chain for errors.Is and
// errors.As.
func scrub(err error, value []byte) error {
	if err == nil || len(value) == 0 || !containsBytes(err.Error(), value) {
		return err
	}
	return &withheld{err: err, why: "it contained the value"}
}

func containsBytes(s string, b []byte) bool {
	if len(b) > len(s) {
		return false
	}
	for i := 0; i+len(b) <= len(s); i++ {
		if s[i] == b[0] && s[i:i+len(b)] == string(b) {
			return true
		}
	}
	return false
}

// withheld is an error whose message is not shown, because it may quote a
// secret value; Unwrap still returns it.
type withheld struct {
	err error
	why string
}

func (w *withheld) Error() string {
	return fmt.Sprintf("%T message withheld: %s", w.err, w.why)
}

func (w *withheld) Unwrap() error { return w.err }

// ValueError is a reason, given by a Spec.Validate function, for rejecting
// a value. Its text is shown in errors, events and logs; any other error a
// validator returns has its message withheld, since it might quote the
// value. Make one with [InvalidValue].
type ValueError struct {
	Reason string
}

func (e *ValueError) Error() string { return e.Reason }

// InvalidValue returns a *ValueError for a validator to reject a value with
// a reason that is safe to show. The reason should describe the value (its
// length, its format, what is missing), never quote it; a reason that does
// contain the whole value is withheld all the same.
func InvalidValue(format string, args ...any) error {
	return &ValueError{Reason: fmt.Sprintf(format, args...)}
}

// validatorError is what the Store reports of a validator's err.
func validatorError(err error, value []byte) error {
	var ve *ValueError
	if errors.As(err, &ve) {
		return scrub(err, value)
	}
	return &withheld{err: err, why: "return secrets.InvalidValue from a validator to give a reason"}
}
