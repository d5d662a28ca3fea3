package tokens

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/internal/redact"
	"github.com/strongroom/strongroom/secrets"
)

// KeySet finds the public key that verifies a token. Key returns the key
// with ID kid, or an error matching [ErrUnknownKey] when there is none.
// [*JWTIssuer], [*RemoteKeys] and [*StoreKeys] are KeySets. Implementations must be
// safe for concurrent use.
//
// A [*RemoteKeys] and an [*JWTIssuer] also tell a [Verifier] the algorithm each key
// was declared for (a JWK's "alg"): the Verifier then accepts that
// algorithm alone with the key. A KeySet of another type (including one
// that wraps these) gives keys only, which verify any algorithm of their
// type.
type KeySet interface {
	Key(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// algKeySet is a KeySet that knows the algorithm each key was declared
// for ("" when none was).
type algKeySet interface {
	keyAlg(ctx context.Context, kid string) (crypto.PublicKey, string, error)
}

// DefaultAlgorithms returns the algorithms a [Verifier] accepts when
// VerifierOptions.Algorithms is nil: RS256, PS256, ES256, ES384, ES512 and
// EdDSA (asymmetric ones only).
func DefaultAlgorithms() []string {
	return []string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"}
}

// MaxTokenSize bounds the tokens a Verifier parses.
const MaxTokenSize = 16 << 10

// VerifierOptions configure a [Verifier]. A nil *VerifierOptions means the
// defaults; every field's zero value selects the default its comment
// states.
type VerifierOptions struct {
	// Algorithms is the allow-list of JWS algorithms. "none" and the HMAC
	// algorithms (HS256, HS384, HS512) are refused whatever it says: a
	// Verifier checks signatures with public keys only, so a token "signed"
	// with a public key as an HMAC secret never passes. Nil:
	// DefaultAlgorithms().
	Algorithms []string

	// Leeway is the clock skew allowed when checking "exp", "nbf" and
	// "iat". Zero: 30 s. Negative: none.
	Leeway time.Duration

	// Clock gives the time the token is checked at. Nil: the wall clock.
	Clock secrets.Clock
}

// Verifier checks JWT access tokens: the signature, with a key from a
// [KeySet] chosen by "kid" and of a type that fits the algorithm; the
// algorithm, against an allow-list; the issuer; the audience; "exp"
// (required), "nbf" and "iat", with a stated leeway; and the scopes a
// caller requires. It is safe for concurrent use.
type Verifier struct {
	keys     KeySet
	issuer   string
	audience string
	parser   *jwt.Parser
	leeway   time.Duration
}

// Claims are what a verified token says.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Scopes    []string // from "scope" (space-separated) and "scp" (array), sorted
	ExpiresAt time.Time
	NotBefore time.Time // zero if absent
	IssuedAt  time.Time // zero if absent
	ID        string    // "jti"
	KeyID     string    // the header's "kid"
	Algorithm string    // the header's "alg"
}

// HasScope reports whether the claims grant scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// NewVerifier returns a Verifier of tokens from issuer for audience, with
// keys from keys. It fails with ErrInvalid when any argument is empty or
// the allow-list names "none", an HMAC algorithm or an unknown one.
func NewVerifier(keys KeySet, issuer, audience string, opts *VerifierOptions) (*Verifier, error) {
	if keys == nil || issuer == "" || audience == "" {
		return nil, invalidf("new verifier", "keys, issuer and audience are required")
	}
	var o VerifierOptions
	if opts != nil {
		o = *opts
	}
	algs := o.Algorithms
	if algs == nil {
		algs = DefaultAlgorithms()
	}
	for _, a := range algs {
		if !slices.Contains([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}, a) {
			return nil, invalidf("new verifier", "algorithm %q is not allowed (asymmetric algorithms only)", redact.Printable(a, 16))
		}
	}
	switch {
	case o.Leeway == 0:
		o.Leeway = 30 * time.Second
	case o.Leeway < 0:
		o.Leeway = 0
	}
	clock := o.Clock
	if clock == nil {
		clock = secrets.WallClock{}
	}
	v := &Verifier{keys: keys, issuer: issuer, audience: audience, leeway: o.Leeway}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(slices.Clone(algs)),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithLeeway(o.Leeway),
		jwt.WithTimeFunc(clock.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	)
	return v, nil
}

// Verify checks token and that it grants every scope in scopes, and
// returns its claims. Errors match [ErrRejected], and also the precise
// reason: jwt.ErrTokenExpired, jwt.ErrTokenNotValidYet,
// jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidAudience,
// jwt.ErrTokenSignatureInvalid (a bad signature, or an algorithm not in the
// allow-list, "none" and HMAC included), jwt.ErrTokenUnverifiable (no key:
// [ErrUnknownKey] too; or a key that does not fit the algorithm: of another
// type, or declared for another algorithm), jwt.ErrTokenMalformed or
// [ErrMissingScope]. They never quote the token.
func (v *Verifier) Verify(ctx context.Context, token string, scopes ...string) (*Claims, error) {
	if len(token) > MaxTokenSize {
		return nil, newError("verify", ErrRejected, jwt.ErrTokenMalformed)
	}
	var tc tokenClaims
	var kid string
	t, err := v.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		k, ok := t.Header["kid"].(string)
		if !ok || k == "" {
			return nil, newError("key", ErrUnknownKey, errors.New("token has no kid"))
		}
		kid = k
		var pub crypto.PublicKey
		var declared string
		var err error
		if ks, ok := v.keys.(algKeySet); ok {
			pub, declared, err = ks.keyAlg(ctx, k)
		} else {
			pub, err = v.keys.Key(ctx, k)
		}
		if err != nil {
			return nil, err
		}
		alg := t.Method.Alg()
		if !keyFits(alg, pub) {
			return nil, newError("key", nil, errors.New("algorithm "+redact.Printable(alg, 16)+" does not fit the key's type"))
		}
		if declared != "" && declared != alg {
			return nil, newError("key", nil, errors.New("algorithm "+redact.Printable(alg, 16)+" is not the key's declared "+redact.Printable(declared, 16)))
		}
		return pub, nil
	})
	if err != nil {
		return nil, newError("verify", ErrRejected, err)
	}
	c := &Claims{
		Issuer: tc.Issuer, Subject: tc.Subject, Audience: []string(tc.Audience),
		ID: tc.ID, KeyID: kid, Algorithm: t.Method.Alg(),
	}
	c.ExpiresAt = tc.ExpiresAt.Time
	if tc.NotBefore != nil {
		c.NotBefore = tc.NotBefore.Time
	}
	if tc.IssuedAt != nil {
		c.IssuedAt = tc.IssuedAt.Time
	}
	c.Scopes = append(strings.Fields(tc.Scope), tc.Scp...)
	slices.Sort(c.Scopes)
	c.Scopes = slices.Compact(c.Scopes)
	for _, s := range scopes {
		if !c.HasScope(s) {
			return nil, newError("verify", ErrRejected, newError("scope", ErrMissingScope, errors.New(redact.Printable(s, 100))))
		}
	}
	return c, nil
}

// claimsKey is the context key of the claims Require stores.
type claimsKey struct{}

// ClaimsFrom returns the claims that [Verifier.Require] verified for the
// request whose context is ctx, or nil.
func ClaimsFrom(ctx context.Context) *Claims {
	c, _ := ctx.Value(claimsKey{}).(*Claims)
	return c
}

// Require returns middleware that verifies the request's bearer token and
// requires scopes: 401 with a WWW-Authenticate header when the token is
// missing or invalid, 403 when a scope is missing (RFC 6750 section 3).
// The handler finds the claims with [ClaimsFrom].
func (v *Verifier) Require(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			scheme, raw, ok := strings.Cut(auth, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				w.Header().Set("WWW-Authenticate", `Bearer`)
				http.Error(w, "bearer token required", http.StatusUnauthorized)
				return
			}
			c, err := v.Verify(r.Context(), strings.TrimSpace(raw), scopes...)
			switch {
			case errors.Is(err, ErrMissingScope):
				w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(scopes, " ")+`"`)
				http.Error(w, "insufficient scope", http.StatusForbidden)
				return
			case err != nil:
				w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				http.Error(w, "invalid token", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), claimsKey{}, c)))
		})
	}
}
