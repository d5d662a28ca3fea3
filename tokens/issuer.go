package tokens

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/secrets"
)

// IssuerOptions configure an [Issuer]. A nil *IssuerOptions means the
// defaults; every field's zero value selects the default its comment
// states.
type IssuerOptions struct {
	// Subject is the "sub" of every token. Empty: the issuer.
	Subject string

	// Lifetime is how long each token is valid. Zero: 5 min.
	Lifetime time.Duration

	// Overlap is how long the previous signing key stays published (in
	// the JWKS and through Key) after the key rotates, so that tokens it
	// signed still verify. Zero: Lifetime plus 1 min.
	Overlap time.Duration

	// KeyID derives the "kid" from the key's version in the store and its
	// public key. Nil: the version itself. Use [Thumbprint] when several
	// processes sign with the same key but see different versions (the
	// file provider's versions are per-process hashes).
	KeyID func(version string, pub crypto.PublicKey) string

	// Clock gives "iat", "nbf" and "exp", and times the overlap window.
	// Nil: the wall clock.
	Clock secrets.Clock
}

// Issuer signs short-lived, scoped JWTs for service-to-service calls with
// a private key held in a store: "iss", "sub", "aud" (the Request's
// audience), "scope" (its scopes, space-separated), "iat", "nbf", "exp" and
// a random "jti". The header's "kid" follows the key's version, so a key
// rotated in the store is used from the next token on, and the previous
// key stays published for IssuerOptions.Overlap.
//
// Issuer is a [Fetcher] (wrap it in a [Cache]), a [KeySet] (verify in
// process) and an http.Handler serving its JWK Set. It is safe for
// concurrent use.
type Issuer struct {
	issuer  string
	s       Secrets
	keyName string
	opts    IssuerOptions
	clock   secrets.Clock

	mu        sync.Mutex
	cur       *publicKey
	prev      *publicKey
	prevUntil time.Time
}

// publicKey is the public half of one version of a signing key.
type publicKey struct {
	version string
	kid     string
	pub     crypto.PublicKey
	jwk     JWK
}

// NewIssuer returns an Issuer named issuer (the "iss" claim, usually a URL)
// that signs with the private key called keyName in s (PEM: PKCS #8, PKCS
// #1 or SEC 1; RSA of 2048 bits or more, ECDSA or Ed25519). It fails with
// ErrInvalid for an empty issuer or key name; the key itself is read on
// first use.
func NewIssuer(s Secrets, keyName, issuer string, opts *IssuerOptions) (*Issuer, error) {
	if s == nil || keyName == "" || issuer == "" {
		return nil, invalidf("new issuer", "Secrets, key name and issuer are required")
	}
	i := &Issuer{issuer: issuer, s: s, keyName: keyName}
	if opts != nil {
		i.opts = *opts
	}
	setDefault(&i.opts.Lifetime, 5*time.Minute)
	setDefault(&i.opts.Overlap, i.opts.Lifetime+time.Minute)
	if i.clock = i.opts.Clock; i.clock == nil {
		i.clock = wallClock{}
	}
	return i, nil
}

// Fetch signs a new token for req.
func (i *Issuer) Fetch(ctx context.Context, req Request) (*Grant, error) {
	var g *Grant
	err := useSecret(ctx, i.s, i.keyName, func(version string, pemKey []byte) error {
		key, err := parsePrivateKey(pemKey)
		if err != nil {
			return err
		}
		pk, err := i.observe(version, key.Public())
		if err != nil {
			return err
		}
		now := i.clock.Now()
		exp := now.Add(i.opts.Lifetime)
		sub := i.opts.Subject
		if sub == "" {
			sub = i.issuer
		}
		claims := tokenClaims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: i.issuer, Subject: sub, Audience: jwt.ClaimStrings(req.Audience),
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp), ID: randomID(),
		}, Scope: strings.Join(req.Scopes, " ")}
		t := jwt.NewWithClaims(signingMethod(pk.jwk.Alg), claims)
		t.Header["kid"] = pk.kid
		s, err := t.SignedString(key)
		if err != nil {
			return newError("sign", nil, err)
		}
		g = &Grant{Value: []byte(s), Type: "Bearer", Scopes: req.Scopes, Audience: req.Audience,
			ExpiresAt: claims.ExpiresAt.Time, ID: claims.ID}
		if g.Scopes == nil {
			g.Scopes = []string{}
		}
		return nil
	})
	if err != nil {
		return nil, newError("issue", nil, err)
	}
	return g, nil
}

// observe records the public key of the version in use, moving the one it
// replaces to the overlap window.
func (i *Issuer) observe(version string, pub crypto.PublicKey) (*publicKey, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.cur != nil && i.cur.version == version {
		return i.cur, nil
	}
	kid := keyID(i.opts.KeyID, version, pub)
	jwk, err := NewJWK(kid, pub)
	if err != nil {
		return nil, err
	}
	pk := &publicKey{version: version, kid: kid, pub: pub, jwk: jwk}
	if i.cur != nil {
		i.prev, i.prevUntil = i.cur, i.clock.Now().Add(i.opts.Overlap)
	}
	i.cur = pk
	return pk, nil
}

// refresh reads the key's current version from the store when it has
// changed, so that the JWKS follows a rotation even before the next token
// is signed.
func (i *Issuer) refresh(ctx context.Context) error {
	sec, err := i.s.Get(ctx, i.keyName)
	if err != nil {
		return err
	}
	i.mu.Lock()
	same := i.cur != nil && i.cur.version == sec.Version()
	i.mu.Unlock()
	if same {
		return nil
	}
	return sec.Use(func(v []byte) error {
		pub, err := parsePublicKey(v)
		if err != nil {
			return err
		}
		_, err = i.observe(sec.Version(), pub)
		return err
	})
}

// published returns the keys to publish: the current one and, within its
// overlap window, the previous one.
func (i *Issuer) published(ctx context.Context) ([]*publicKey, error) {
	if err := i.refresh(ctx); err != nil {
		return nil, newError("jwks", nil, err)
	}
	now := i.clock.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	keys := []*publicKey{i.cur}
	if i.prev != nil && now.Before(i.prevUntil) {
		keys = append(keys, i.prev)
	}
	return keys, nil
}

// JWKS returns the JWK Set to publish: the current key and, during its
// overlap window, the previous one.
func (i *Issuer) JWKS(ctx context.Context) (JWKSet, error) {
	keys, err := i.published(ctx)
	if err != nil {
		return JWKSet{}, err
	}
	set := JWKSet{Keys: make([]JWK, len(keys))}
	for n, k := range keys {
		set.Keys[n] = k.jwk
	}
	return set, nil
}

// Key returns the published public key with ID kid, or an error matching
// ErrUnknownKey. It makes the Issuer a [KeySet] for in-process verifiers.
func (i *Issuer) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	keys, err := i.published(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.kid == kid {
			return k.pub, nil
		}
	}
	return nil, newError("key", ErrUnknownKey, nil)
}

// ServeHTTP serves the JWK Set as application/jwk-set+json (at, say,
// /.well-known/jwks.json). It answers 503 when the key cannot be read.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	set, err := i.JWKS(r.Context())
	if err != nil {
		http.Error(w, "signing key unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "max-age=60")
	json.NewEncoder(w).Encode(set)
}

// tokenClaims are the claims this package writes and reads: the registered
// ones plus the scopes, as "scope" (RFC 8693, space-separated) or "scp" (an
// array, as Ory Hydra and others write).
type tokenClaims struct {
	jwt.RegisteredClaims
	Scope string   `json:"scope,omitempty"`
	Scp   []string `json:"scp,omitempty"`
}
