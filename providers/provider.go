// Package providers is the driver contract that strongroom backends
// implement. Users do not call it: they call [github.com/strongroom/strongroom/secrets.Store],
// which routes each secret's reference to the provider registered for its
// scheme.
//
// A backend implements [Provider], the one required interface, and any of
// the optional abilities [Watcher], [Writer], [Revoker] and [Deleter]; the
// store checks for them at run time, as net/http checks for http.Flusher.
// The package imports nothing else of strongroom, so a backend in its own
// module depends on this small package only.
//
// # Concurrency
//
// Every method of every interface here must be safe for concurrent use by
// multiple goroutines, including concurrently with Close.
//
// # Errors
//
// A provider wraps its errors once around the sentinels below
// ([ErrNotFound], [ErrInvalidRef], [ErrInvalid], [ErrPermission],
// [ErrClosed], [ErrUnsupported]) so that the store can classify them with
// errors.Is. Messages start with the provider's package path ("providers/file: ...").
//
// # Security
//
// No error, log line or panic message of a provider may contain secret
// material: a parser that fails reports a byte offset or a line number, never
// the text it failed on. [Value.Data] is handed over to the caller, who wipes
// it; the provider keeps no copy and wipes its own intermediate buffers.
package providers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Sentinel errors. A provider wraps one of them (with %w) so that callers
// can match with errors.Is; the message of the wrapping error says what and
// where, never the value.
var (
	// ErrNotFound: the reference names nothing that exists at the backend.
	ErrNotFound = errors.New("not found")
	// ErrInvalidRef: the reference is malformed, has the wrong scheme, or
	// is refused (for example a path that escapes the provider's root).
	ErrInvalidRef = errors.New("invalid reference")
	// ErrInvalid: the value exists but cannot be used: it does not parse,
	// or breaks a limit such as the maximum size.
	ErrInvalid = errors.New("invalid value")
	// ErrPermission: the backend refused access.
	ErrPermission = errors.New("permission denied")
	// ErrClosed: the provider has been closed.
	ErrClosed = errors.New("provider closed")
	// ErrUnsupported: the provider cannot do this for this reference.
	ErrUnsupported = errors.New("not supported")
	// ErrConflict: a conditional write found another version than the one
	// it was conditioned on (see [ConditionalWriter]); nothing was written.
	ErrConflict = errors.New("conflict")
)

// Provider fetches secret values from one backend. References are full
// strings of the form "scheme:..." (for example "file:///run/secrets/db" or
// "env://DB_PASSWORD"); a provider is registered for one or more schemes and
// rejects others with [ErrInvalidRef].
type Provider interface {
	// Fetch returns the current value of ref. The caller takes ownership
	// of the returned Value and of Value.Data, which it wipes when done;
	// the provider keeps no reference to Data.
	//
	// Fetch honours ctx: when ctx ends it returns promptly with an error
	// that wraps ctx.Err(). A missing value gives an error wrapping
	// [ErrNotFound]; after Close, [ErrClosed].
	Fetch(ctx context.Context, ref string) (*Value, error)

	// Close releases the provider's resources and stops every goroutine it
	// started, waiting for them. It is idempotent; later calls return nil.
	Close() error
}

// Value is one version of a secret as a backend returns it. It redacts
// Data in every fmt verb, in slog and in JSON and text marshalling.
type Value struct {
	// Data is the secret material. Ownership passes to the caller.
	Data []byte

	// Version identifies this version at the backend: the backend's own
	// version identifier, or a keyed hash of Data. Equal versions mean
	// equal data. It must not be derivable from Data by anyone outside the
	// process (an unkeyed hash of a short password can be brute-forced), so
	// providers that hash use a per-process random key.
	Version string

	// ExpiresAt is when the backend says this version stops being valid.
	// Zero: no expiry is known.
	ExpiresAt time.Time

	// CreatedAt is when the backend created this version. Zero: unknown.
	CreatedAt time.Time

	// Labels are metadata the backend holds for the secret (never values).
	// May be nil.
	Labels map[string]string
}

// Wipe overwrites v.Data with zeros and drops it. It is safe on a nil Value.
func (v *Value) Wipe() {
	if v == nil {
		return
	}
	clear(v.Data)
	v.Data = nil
}

// Watcher is implemented by providers that can signal that a reference may
// have changed, so that the store refreshes it at once instead of waiting for
// its next poll.
type Watcher interface {
	// Watch starts watching ref and calls changed whenever ref may have a
	// new value (a spurious call is harmless: the store fetches and
	// compares versions). The reference need not exist yet: its creation
	// is a change. changed must not block and is never called
	// concurrently with itself for the same watch. The returned stop ends
	// the watch and waits for a call of changed under way, so it must not
	// be called from inside changed; once stop returns, changed is never
	// called again. stop is idempotent. Close of the provider ends every
	// watch.
	//
	// ctx bounds the setup only; Watch keeps no reference to it.
	Watch(ctx context.Context, ref string, changed func()) (stop func(), err error)
}

// Writer is implemented by providers that can store a new version of a
// secret, for rotation and for secrets the program creates.
type Writer interface {
	// Write stores data as the new current value of ref, creating ref if
	// it does not exist, and returns its version. Watchers of ref see the
	// change. Write does not retain data; the caller still owns it.
	Write(ctx context.Context, ref string, data []byte) (version string, err error)
}

// ConditionalWriter is implemented by providers that can write a new
// version only if the current one is still the one the caller last saw: a
// compare-and-swap, which lets several processes sharing one backend agree
// on who does something (package rotate records its state this way, so
// that each due rotation happens once across a fleet).
type ConditionalWriter interface {
	Writer
	// WriteIf stores data as the new current value of ref, as Write does,
	// only if ref's current version is ifVersion, as this provider's Fetch
	// reports versions in this process; ifVersion "" means that ref must
	// not exist. Otherwise it writes nothing and returns an error wrapping
	// [ErrConflict]. The check and the write are atomic with respect to
	// every other WriteIf and Write on ref through any provider of the
	// same backend, in this process or another, as the provider documents.
	WriteIf(ctx context.Context, ref string, data []byte, ifVersion string) (version string, err error)
}

// Revoker is implemented by providers that can revoke a version (or the
// lease behind it) at the backend, so that it stops being accepted anywhere.
type Revoker interface {
	// Revoke revokes version of ref. Revoking a version already revoked
	// succeeds; revoking a version that the backend does not know returns
	// an error wrapping [ErrNotFound]. Once the current version is
	// revoked, Fetch does not return it again.
	Revoke(ctx context.Context, ref, version string) error
}

// Deleter is implemented by providers that can delete a secret at the
// backend.
type Deleter interface {
	// Delete removes ref and every version of it at the backend. Deleting
	// a reference that does not exist returns an error wrapping
	// [ErrNotFound].
	Delete(ctx context.Context, ref string) error
}

// Scheme returns the scheme of ref: the part before the first ':', in lower
// case, or "" when ref has no valid scheme (RFC 3986: a letter, then
// letters, digits, '+', '-' or '.').
func Scheme(ref string) string {
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			b := []byte(ref[:i])
			for j, c := range b {
				if 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		default:
			return ""
		}
	}
	return ""
}

const redacted = "[REDACTED]"

// String describes v without its data.
func (v Value) String() string {
	return fmt.Sprintf("providers.Value{Version: %q, ExpiresAt: %s, Data: %s (%d bytes)}",
		v.Version, v.ExpiresAt.Format(time.RFC3339), redacted, len(v.Data))
}

// GoString is used by %#v; it is redacted like String.
func (v Value) GoString() string { return v.String() }

// Format redacts every fmt verb.
func (v Value) Format(f fmt.State, _ rune) { fmt.Fprint(f, v.String()) }

// LogValue makes slog log the version and size only.
func (v Value) LogValue() slog.Value {
	return slog.GroupValue(slog.String("version", v.Version), slog.String("data", redacted), slog.Int("size", len(v.Data)))
}

// MarshalJSON encodes the metadata with the data redacted.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Data      string
		Version   string
		ExpiresAt time.Time
		CreatedAt time.Time
		Labels    map[string]string
	}{redacted, v.Version, v.ExpiresAt, v.CreatedAt, v.Labels})
}

// MarshalText returns String.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }
