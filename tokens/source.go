package tokens

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/internal/redact"
	"github.com/strongroom/strongroom/secrets"
)

// Source supplies tokens. Token returns a token that has not expired, or
// an error; ctx bounds any wait or I/O the call makes and is never kept.
// Implementations must be safe for concurrent use.
type Source interface {
	Token(ctx context.Context) (*Token, error)
}

// Request says which token is wanted: the scopes and the audience it must
// be good for. The order of either list does not matter; a [Cache] keeps one
// token per distinct (scopes, audience) pair.
//
// Every value must be an RFC 6749 scope-token: one or more printable ASCII
// characters other than space, '"' and '\' (a value with a space would be
// sent as two). A [Cache] refuses any other with an error matching
// [ErrInvalid].
type Request struct {
	// Scopes are the OAuth 2.0 scopes asked for. Nil: none (the server's
	// default).
	Scopes []string
	// Audience names the resource servers the token is for (the
	// "audience" or "resource" parameter, a JWT's "aud"). Nil: none.
	Audience []string
}

// normal checks r and returns it with both lists sorted and de-duplicated
// (copies). It fails with ErrInvalid for a value that is not a scope-token.
func (r Request) normal() (Request, error) {
	for _, list := range [][]string{r.Scopes, r.Audience} {
		for _, v := range list {
			if !isScopeToken(v) {
				return Request{}, invalidf("request", "%q is not an RFC 6749 scope-token (printable ASCII without space, '\"' or '\\')", redact.Printable(v, 100))
			}
		}
	}
	return Request{Scopes: sortedSet(r.Scopes), Audience: sortedSet(r.Audience)}, nil
}

// sortedSet returns a sorted, de-duplicated copy of s; nil when s is empty.
func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// isScopeToken reports whether s matches RFC 6749 section 3.3:
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// key identifies a normalised request in a Cache.
func (r Request) key() string {
	return strings.Join(r.Scopes, " ") + "\x00" + strings.Join(r.Audience, " ")
}

// String describes the request for logs and errors.
func (r Request) String() string {
	s := "scopes=[" + strings.Join(r.Scopes, " ") + "]"
	if len(r.Audience) > 0 {
		s += " audience=[" + strings.Join(r.Audience, " ") + "]"
	}
	return s
}

// Grant is a token fresh from its issuer, on its way to being sealed: what
// a [Fetcher] returns. The Cache seals Value and wipes it.
type Grant struct {
	// Value is the token itself. The Cache takes ownership: it seals the
	// bytes and wipes the slice.
	Value []byte
	// Type is the token type ("Bearer", "DPoP", ...). Empty: "Bearer".
	Type string
	// Scopes are the scopes granted. Nil: those asked for.
	Scopes []string
	// Audience is the audience granted. Nil: the one asked for.
	Audience []string
	// ExpiresAt is when the token expires. Zero: unknown, in which case
	// the Cache assumes CacheOptions.AssumedLifetime.
	ExpiresAt time.Time
	// ID is a public identifier of the token (a JWT's "jti"), for logs
	// and revocation; never the value. May be empty.
	ID string
}

// wipe clears the value.
func (g *Grant) wipe() {
	if g != nil {
		clear(g.Value)
		g.Value = nil
	}
}

// Fetcher obtains new tokens from an issuer: an OAuth 2.0 server
// ([Client]), or this process ([JWTIssuer]). A [Cache] calls it, one call at a
// time per Request. Fetch must be safe for concurrent use (for different
// requests), honour ctx, and return errors that never contain the token or
// a credential.
type Fetcher interface {
	Fetch(ctx context.Context, req Request) (*Grant, error)
}

// FetcherFunc adapts a function to [Fetcher].
type FetcherFunc func(ctx context.Context, req Request) (*Grant, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, req Request) (*Grant, error) { return f(ctx, req) }

// Revoker is implemented by a Fetcher that can revoke the tokens it
// issued (RFC 7009). A Cache revokes a token when it is dropped
// ([Cache.Drop]) and the tokens it holds when it is closed, unless
// CacheOptions.KeepOnClose is set.
type Revoker interface {
	Revoke(ctx context.Context, t *Token) error
}

// Secrets is where credentials are read from: a [*secrets.Store] or a
// [*secrets.View] (for least privilege). Each use reads the current
// version, so a rotated client secret or signing key is picked up without a
// restart.
//
// An [JWTIssuer] also uses two optional methods when its Secrets has them
// (a *secrets.Store has both, a *secrets.View the first):
// Subscribe(pattern string, fn func(secrets.Event)) (cancel func(), err error),
// to publish a rotated key as soon as the store has it, and
// Previous(name string) (*secrets.Secret, error), to go on signing with
// the previous key during JWTIssuerOptions.PublishAhead.
//
// A [Client] uses one optional method when its Secrets has it (a
// *secrets.Store does, a *secrets.View does not):
// Refresh(ctx context.Context, name string) error, which fetches the
// secret from its backend now and returns once the store serves what the
// backend holds (or the fetch failed). The Client calls it when the token
// endpoint refuses the client with invalid_client, to pick up a client
// secret or key rotated at the backend before the store's own refresh
// (see [Client]). It must be safe for concurrent use. It is optional so
// that a *secrets.View, and every other implementation of Get alone, stays
// a Secrets; without it the Client compares versions with what the store
// already holds.
type Secrets interface {
	Get(ctx context.Context, name string) (*secrets.Secret, error)
}

// refresher is the optional method of [Secrets] that a [Client] calls
// after invalid_client.
type refresher interface {
	Refresh(ctx context.Context, name string) error
}

// useSecret opens the current version of name for fn, which also gets the
// version. It tries once more, with a fresh handle, only when the handle's
// own version was wiped between Get and Use (a rotation with a negative
// overlap): that is the one case in which Use fails without calling fn.
// An error of fn's own is returned as it is, whatever it wraps.
// (secrets.Store.Use does the same but does not tell fn the version, which
// every caller here needs: the kid, or which credential was sent.)
func useSecret(ctx context.Context, s Secrets, name string, fn func(version string, value []byte) error) error {
	return useHandle(ctx, s, name, nil, fn)
}

// useHandle is useSecret starting from a handle already got (nil: get one).
func useHandle(ctx context.Context, s Secrets, name string, sec *secrets.Secret, fn func(version string, value []byte) error) error {
	for try := 0; ; try++ {
		if sec == nil {
			var err error
			if sec, err = s.Get(ctx, name); err != nil {
				return err
			}
		}
		called := false
		err := sec.Use(func(v []byte) error {
			called = true
			return fn(sec.Version(), v)
		})
		if try == 0 && !called && errors.Is(err, secrets.ErrDestroyed) && !errors.Is(err, secrets.ErrRevoked) && ctx.Err() == nil {
			sec = nil
			continue
		}
		return err
	}
}
