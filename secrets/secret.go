package secrets

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/internal/guard"
)

// Secret is a handle to one version of a secret. It holds the value sealed
// (encrypted); the plaintext exists only inside [Secret.Use] and
// [Secret.Equal]. A handle is cheap: [Store.Get] returns the same handle to
// every caller until the version changes.
//
// A handle stays usable until its version is wiped: after a rotation, when
// the overlap window (Spec.Overlap) ends; at once on Revoke, Forget,
// Delete or Close. Then Use returns an error matching [ErrDestroyed] (and
// [ErrRevoked] after a revocation). Hold handles briefly; call Get again
// for the current version.
//
// Secret redacts itself in every output: fmt verbs, slog, JSON and text
// marshalling show its name and version, never the value.
//
// A store may hold a million of these: the name, kind, clock and guard are
// the entry's and the Store's, reached through entry, not copied.
type Secret struct {
	version   string
	expiresAt time.Time
	expiresNS int64 // expiresAt in Unix ns; 0: no expiry (checked on every read)
	createdAt time.Time
	loadedNS  int64        // when the version entered the store, Unix ns
	entry     *entry       // its name, kind and staleness budget, and the Store
	extra     *secretExtra // nil when there is none
	sealed    guard.Sealed // wiped (box set to nil) by the reader domain: read only as a reader
	size      uint32       // the value's length, kept after the wipe

	// Use calls under way are counted in the Store's reader domain, not
	// here: destroy marks the version gone and leaves its wipe to the
	// domain, which runs it once no Use can still be inside.
	gone     atomic.Pointer[Error] // why the version was wiped; nil while usable
	replaced atomic.Bool           // a newer version is current: uses are counted as reads of an old version
}

// secretExtra is what few versions have.
type secretExtra struct {
	details map[string]string // from Spec.Describe; never a value
	labels  map[string]string // the backend's (providers.Value.Labels); never a value
}

func (s *Secret) details() map[string]string {
	if s.extra == nil {
		return nil
	}
	return s.extra.details
}

func (s *Secret) labels() map[string]string {
	if s.extra == nil {
		return nil
	}
	return s.extra.labels
}

// Name returns the secret's name.
func (s *Secret) Name() string { return s.entry.name }

// Version returns the version identifier (the backend's, or a keyed hash of
// the value).
func (s *Secret) Version() string { return s.version }

// Kind returns the secret's kind.
func (s *Secret) Kind() Kind { return s.entry.spec.Kind }

// ExpiresAt returns when this version expires; zero if unknown.
func (s *Secret) ExpiresAt() time.Time { return s.expiresAt }

// Len returns the length of the value in bytes, without opening it.
func (s *Secret) Len() int { return int(s.size) }

// Details returns what Spec.Describe said of this version (a copy), or nil.
func (s *Secret) Details() map[string]string { return maps.Clone(s.details()) }

// LoadedAt returns when this version entered the store.
func (s *Secret) LoadedAt() time.Time { return time.Unix(0, s.loadedNS) }

// Use calls fn with the plaintext, in locked scratch memory that is wiped
// as soon as fn returns (or panics). fn must not keep the slice or copy the
// value anywhere that outlives the call; it should be short, since scratch
// memory is a bounded pool. fn may call the Store (Get, Refresh, Revoke, ...)
// but not Store.Close, which waits for Use calls under way. Use returns fn's
// error, or an error matching ErrDestroyed, ErrExpired, ErrStale or
// ErrLockedMemory without calling fn. A handle taken before the secret's
// staleness budget ran out (Spec.MaxStale) fails with ErrStale as Get
// does, until a refresh succeeds.
//
// Use does not allocate.
func (s *Secret) Use(fn func(value []byte) error) error {
	readers := s.entry.s.readers
	tok := readers.Enter()
	defer readers.Leave(tok)
	if g := s.gone.Load(); g != nil {
		return g // set before its wipe was retired
	}
	if s.replaced.Load() {
		s.entry.oldRead(s.entry.s.clock.Now())
	}
	if s.expiresNS != 0 || s.entry.staleAt.Load() != 0 {
		now := s.entry.s.clock.Now()
		if s.expiresNS != 0 && now.UnixNano() >= s.expiresNS {
			return newError("use", s.entry.name, ErrExpired, nil)
		}
		if err := s.entry.staleNow("use", now); err != nil {
			return err
		}
	}
	return s.open(fn)
}

// within runs fn as a reader of the version, unless it is gone: fn may
// open it.
func (s *Secret) within(fn func()) {
	readers := s.entry.s.readers
	tok := readers.Enter()
	defer readers.Leave(tok)
	if s.gone.Load() == nil {
		fn()
	}
}

// open decrypts for fn. The caller is a reader of the version (Use, within).
func (s *Secret) open(fn func(value []byte) error) error {
	if err := s.entry.s.guard.Open(&s.sealed, fn); err != nil {
		if _, mine := err.(*guard.LockError); mine || err == guard.ErrCorrupt || err == guard.ErrClosed {
			return classify("use", s.entry.name, err)
		}
		return err // fn's own error, untouched
	}
	return nil
}

// Equal reports, in constant time for values of equal length, whether the
// secret's value equals b. It returns false when the value cannot be
// opened.
func (s *Secret) Equal(b []byte) bool {
	eq := false
	s.Use(func(v []byte) error {
		eq = subtle.ConstantTimeCompare(v, b) == 1
		return nil
	})
	return eq
}

// destroy makes the version unusable at once; later Use calls return why.
// It wipes the ciphertext once no Use call can still be inside: at once
// when none is under way, else when the last of those under way has
// returned (Store.Close waits for that). It never waits.
func (s *Secret) destroy(why *Error) {
	if !s.gone.CompareAndSwap(nil, why) {
		return
	}
	st := s.entry.s
	st.pending.Add(1)
	st.readers.Retire(func() {
		s.sealed.Destroy()
		st.pending.Done()
	})
}

// isGone reports whether err is this version's own "destroyed" error, as
// opposed to an error of the function given to Use.
func (s *Secret) isGone(err error) bool {
	g := s.gone.Load()
	return g != nil && err == error(g)
}

const redacted = "[REDACTED]"

// String returns a redacted description: name and version, never the value.
func (s *Secret) String() string {
	if s == nil {
		return "<nil>"
	}
	return "secret " + s.entry.name + " version " + s.version + " " + redacted
}

// GoString is used by %#v; it is redacted like String.
func (s *Secret) GoString() string { return s.String() }

// Format redacts every fmt verb (%v, %+v, %#v, %s, %q, %x, %X, %d, ...).
func (s *Secret) Format(f fmt.State, verb rune) { io.WriteString(f, s.String()) }

// LogValue makes slog log the name and version only.
func (s *Secret) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("name", s.entry.name), slog.String("version", s.version), slog.String("value", redacted))
}

// MarshalText returns the redacted description.
func (s *Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns the name and version with the value redacted.
func (s *Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   string `json:"value"`
	}{s.entry.name, s.version, redacted})
}
