package tokens

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/internal/refcount"
	"github.com/strongroom/strongroom/secrets"
)

// Token is one access token. It carries its type, the scopes and audience
// it was granted for and its expiry; its value is sealed (encrypted) in
// memory, like every secret in strongroom, and the plaintext exists only
// inside [Token.Use] and, as an HTTP header, after [Token.SetAuthHeader].
//
// A Token redacts itself in every output: fmt verbs, slog, JSON and text
// marshalling show its type, scopes, audience and expiry, never the value.
// Tokens are immutable and safe for concurrent use. A Token is made by a
// [Cache]; it can be opened until it expires, until it is dropped (or
// evicted unused), or until its Cache is closed.
type Token struct {
	typ       string
	scopes    []string
	audience  []string
	expiresAt time.Time
	expNS     int64
	serveNS   int64 // the Cache hands the token out until then: expNS less the margin
	issuedAt  time.Time
	id        string
	size      int

	k      *keeper
	sealed *guard.Sealed
	// refs counts Use calls under way; the last Use out of a destroyed
	// token wipes it, so destroy never waits (as secrets.Secret does).
	refs refcount.Count
	gone atomic.Pointer[Error] // why the token was wiped; nil while usable
	// handed is set once the Cache has returned the token to a caller:
	// an idle eviction revokes only a token nobody was given.
	handed atomic.Bool
}

// keeper is what the tokens of one Cache share: the guard that seals
// them, the clock that expires them, and the count of Use calls under way
// that the Cache's Close waits for before it closes the guard.
type keeper struct {
	guard   *guard.Guard
	clock   secrets.Clock
	refs    refcount.Count // Use calls under way; ended by close
	drained chan struct{}  // closed once closing and no Use is under way
}

func newKeeper(g *guard.Guard, clock secrets.Clock) *keeper {
	return &keeper{guard: g, clock: clock, drained: make(chan struct{})}
}

// enter counts a Use in, unless the Cache is closing.
func (k *keeper) enter() bool { return k.refs.Enter() }

// leave counts a Use out; the last one out of a closing Cache lets Close
// go on.
func (k *keeper) leave() {
	if k.refs.Leave() {
		close(k.drained)
	}
}

// close refuses new Use calls at once and waits for those under way. A
// Use nested in another fails with ErrClosed instead of waiting, so this
// never deadlocks against a reader. Called once.
func (k *keeper) close() {
	if k.refs.End() {
		close(k.drained)
	}
	<-k.drained
}

// Type returns the token type, such as "Bearer" (as the server spelled it;
// "Bearer" when it gave none).
func (t *Token) Type() string { return t.typ }

// Scopes returns the scopes the token was granted (a copy), sorted.
func (t *Token) Scopes() []string { return slices.Clone(t.scopes) }

// Audience returns the audience the token was issued for (a copy), sorted;
// nil if none was asked for.
func (t *Token) Audience() []string { return slices.Clone(t.audience) }

// ExpiresAt returns when the token expires.
func (t *Token) ExpiresAt() time.Time { return t.expiresAt }

// IssuedAt returns when the token was obtained, by the Cache's clock.
func (t *Token) IssuedAt() time.Time { return t.issuedAt }

// ID returns the token's public identifier when the issuer gave one (a
// JWT's "jti"), else "". It is not the value.
func (t *Token) ID() string { return t.id }

// Len returns the length of the value in bytes, without opening it.
func (t *Token) Len() int { return t.size }

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool { return now.UnixNano() >= t.expNS }

// Use calls fn with the token's value, in locked scratch memory that is
// wiped as soon as fn returns (or panics). fn must not keep the slice. Use
// fails, without calling fn, with an error matching [ErrExpired] once the
// token has expired, and [ErrClosed] once it was dropped or evicted or its
// Cache is closing. Use never waits for a lock: a Use nested in another,
// or one that starts while the Cache closes, fails with ErrClosed rather
// than wait. fn must not call the Cache's Close, which waits for the Use
// calls under way.
func (t *Token) Use(fn func(value []byte) error) error {
	if !t.k.enter() {
		return newError("use", ErrClosed, nil)
	}
	defer t.k.leave()
	if err := t.acquire(); err != nil {
		return err
	}
	defer t.release()
	if t.Expired(t.k.clock.Now()) {
		return newError("use", ErrExpired, fmt.Errorf("token expired at %s", t.expiresAt.UTC().Format(time.RFC3339)))
	}
	if err := t.k.guard.Open(t.sealed, fn); err != nil {
		if err == guard.ErrCorrupt || err == guard.ErrClosed || isLockErr(err) {
			return newError("use", nil, err)
		}
		return err
	}
	return nil
}

func isLockErr(err error) bool {
	_, ok := err.(*guard.LockError)
	return ok
}

// SetAuthHeader sets r's Authorization header to the token ("Bearer
// VALUE", with the token's type). The header is an ordinary Go string: it
// lives on the heap, outside guarded memory, until the garbage collector
// reclaims it. It fails as Use does.
func (t *Token) SetAuthHeader(r *http.Request) error {
	return t.Use(func(v []byte) error {
		r.Header.Set("Authorization", authScheme(t.typ)+" "+string(v))
		return nil
	})
}

// authScheme is the scheme word for the Authorization header: RFC 6750
// says "Bearer", and servers answer "bearer" as often as not.
func authScheme(typ string) string {
	if typ == "" || strings.EqualFold(typ, "bearer") {
		return "Bearer"
	}
	return typ
}

// acquire counts a reader in, unless the token is gone.
func (t *Token) acquire() error {
	if !t.refs.Enter() {
		return t.gone.Load() // set before refs was ended
	}
	return nil
}

// release counts a reader out; the last one out of a destroyed token
// wipes it.
func (t *Token) release() {
	if t.refs.Leave() {
		t.sealed.Destroy()
	}
}

// destroy makes the token unusable at once; later Use calls fail with
// why. It wipes the value now or, when Use calls of it are under way,
// leaves the wipe to the last of them (the Cache's Close waits for those).
// It never waits.
func (t *Token) destroy(why *Error) {
	if !t.gone.CompareAndSwap(nil, why) {
		return
	}
	if t.refs.End() {
		t.sealed.Destroy()
	}
}

// String returns a redacted description: type, scopes, audience, expiry
// and ID, never the value.
func (t *Token) String() string {
	if t == nil {
		return "<nil>"
	}
	return describe("token", t.typ, t.scopes, t.audience, t.expiresAt, t.id)
}

// GoString is used by %#v; it is redacted like String.
func (t *Token) GoString() string { return t.String() }

// Format redacts every fmt verb (%v, %+v, %#v, %s, %q, %x, %d, ...).
func (t *Token) Format(f fmt.State, verb rune) { io.WriteString(f, t.String()) }

// LogValue makes slog log the metadata only.
func (t *Token) LogValue() slog.Value {
	if t == nil {
		return slog.StringValue("<nil>")
	}
	return metaValue(t.typ, t.scopes, t.audience, t.expiresAt, t.id)
}

// MarshalText returns the redacted description.
func (t *Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalJSON returns the metadata with the value redacted.
func (t *Token) MarshalJSON() ([]byte, error) {
	if t == nil {
		return []byte("null"), nil
	}
	return metaJSON(t.typ, t.scopes, t.audience, t.expiresAt, t.id)
}
