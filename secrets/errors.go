package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/internal/leak"
	"github.com/strongroom/strongroom/internal/redact"
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
	// ErrConflict: a conditional write (Store.WriteIf) found another
	// version at the backend than the one it was conditioned on; nothing
	// was written.
	ErrConflict = errors.New("secrets: conflict")
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
	case errors.Is(err, providers.ErrConflict):
		kind = ErrConflict
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

// scrub withholds err's message when it may quote one of values (see
// internal/leak: any run of 8 bytes, case-insensitive): validators and
// backends are not ours, and a message that quotes a value must not reach
// a log, an event or an error chain.
func scrub(err error, values ...[]byte) error {
	if err == nil || !leak.Quotes(err.Error(), values...) {
		return err
	}
	return withhold(err, "it may quote a secret value")
}

// withhold replaces err by a *WithheldError that keeps its type and the
// sentinels it matches, and drops the error itself.
func withhold(err error, reason string) *WithheldError {
	w := &WithheldError{Type: fmt.Sprintf("%T", err), Reason: reason}
	chainTypes(err, func(t string) { w.Chain = append(w.Chain, t) })
	for _, k := range classes {
		if errors.Is(err, k) {
			w.kinds = append(w.kinds, k)
		}
	}
	return w
}

// classes are the sentinels a withheld error keeps, so that errors.Is
// still classifies it.
var classes = []error{
	ErrNotFound, ErrExists, ErrClosed, ErrStale, ErrExpired, ErrRevoked, ErrDestroyed,
	ErrPermission, ErrInvalid, ErrUnsupported, ErrLockedMemory, ErrConflict,
	providers.ErrNotFound, providers.ErrInvalidRef, providers.ErrInvalid,
	providers.ErrPermission, providers.ErrClosed, providers.ErrUnsupported, providers.ErrConflict,
	context.Canceled, context.DeadlineExceeded,
	fs.ErrNotExist, fs.ErrPermission, fs.ErrExist, fs.ErrClosed,
	guard.ErrLockedMemory, guard.ErrClosed, guard.ErrCorrupt,
}

// WithheldError stands in an error chain for an error whose message was
// not shown because it may quote a secret value (a backend's error that
// echoes what it was given, a validator's error not made with
// [InvalidValue]). It keeps the original's type name and classification:
// errors.Is matches the sentinels of this package, of package providers,
// of package context and of io/fs that the original matched. The original
// error itself is dropped, so errors.As cannot reach it nor anything it
// held.
type WithheldError struct {
	Type   string   // the withheld error's dynamic type, as %T prints it
	Chain  []string // the types of the errors it wrapped, depth first
	Reason string   // why it was withheld
	kinds  []error
}

// Error returns the types and the reason, never the original message.
func (w *WithheldError) Error() string {
	msg := w.Type
	if len(w.Chain) > 0 {
		msg += " (wrapping " + strings.Join(w.Chain, ", ") + ")"
	}
	return msg + " message withheld: " + w.Reason
}

// chainTypes calls fn with the type of every error err wraps, depth first.
func chainTypes(err error, fn func(string)) {
	var inner []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		inner = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		inner = u.Unwrap()
	}
	for _, e := range inner {
		if e != nil {
			fn(fmt.Sprintf("%T", e))
			chainTypes(e, fn)
		}
	}
}

// Unwrap returns the sentinels the withheld error matched.
func (w *WithheldError) Unwrap() []error { return w.kinds }

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

// validatorError is what the Store reports of a validator's err about
// value: a *ValueError as it is (unless it quotes a value), any other error
// withheld.
func (e *entry) validatorError(err error, value []byte) error {
	var ve *ValueError
	if errors.As(err, &ve) {
		return e.scrub(err, value)
	}
	return withhold(err, "return secrets.InvalidValue from a validator to give a reason")
}

// scrub withholds err when it may quote value or a version e holds (the
// current one, and the previous one in its overlap). Every error from
// outside the store that concerns a secret (a provider's, a validator's, a
// generator's) passes through here.
func (e *entry) scrub(err error, value []byte) error {
	if err == nil {
		return nil
	}
	if err = scrub(err, value); err != nil {
		if _, done := err.(*WithheldError); done {
			return err
		}
	}
	err = scrubRef(err, e.ref)
	e.mu.Lock()
	held := []*Secret{e.cur.Load(), e.prev}
	e.mu.Unlock()
	for _, sec := range held {
		if sec != nil {
			sec.within(func() { sec.open(func(v []byte) error { err = scrub(err, v); return nil }) })
		}
	}
	return err
}

// scrubRef returns err with every copy of ref in its text shown redacted
// (redact.Ref), and every other copy of a credential the reference holds
// (its user information, a credential-named parameter's value, raw or
// decoded: redact.RefParts) replaced: a provider that quotes the reference
// it was given, or a part of it, would otherwise show the credential. The
// error returned keeps err's sentinels (as WithheldError does) but not err
// itself, whose own text still holds the credential.
func scrubRef(err error, ref string) error {
	if err == nil {
		return nil
	}
	parts := redact.RefParts(ref)
	msg := err.Error()
	if !redact.Quotes(msg, parts) {
		return err
	}
	msg = strings.ReplaceAll(msg, ref, redact.Ref(ref))
	for _, p := range parts { // longest first
		if len(p) >= redact.MinPart {
			msg = strings.ReplaceAll(msg, p, redact.Hidden)
		}
	}
	return &refError{msg: msg, kinds: withhold(err, "").kinds}
}

// refError is an error whose text had a reference redacted in it.
type refError struct {
	msg   string
	kinds []error
}

func (r *refError) Error() string   { return r.msg }
func (r *refError) Unwrap() []error { return r.kinds }

// wrap is classify for a provider's error about e, scrubbed against value
// and the versions e holds.
func (e *entry) wrap(op string, err error, value []byte) *Error {
	return classify(op, e.name, e.scrub(err, value))
}
