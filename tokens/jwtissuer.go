package tokens

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/secrets"
)

// JWTIssuerOptions configure an [JWTIssuer]. A nil *JWTIssuerOptions means the
// defaults; every field's zero value selects the default its comment
// states.
type JWTIssuerOptions struct {
	// Subject is the "sub" of every token. Empty: the issuer.
	Subject string

	// Lifetime is how long each token is valid. Zero: 5 min.
	Lifetime time.Duration

	// Overlap is how long each previous signing key stays published (in
	// the JWKS and through Key) after the JWTIssuer stops signing with it,
	// so that tokens it signed still verify; every previous key has its
	// own window, however many rotations follow. Zero: Lifetime plus
	// 1 min.
	Overlap time.Duration

	// PublishAhead is how long a new key version is published before the
	// Issuer signs with it. The JWTIssuer publishes a version as soon as the
	// store has it (when its Secrets can Subscribe, as a *secrets.Store
	// and a *secrets.View can), and meanwhile goes on signing with the
	// previous version, which it reads with Previous (a *secrets.Store
	// has it): so remote verifiers can fetch the new key before any token
	// needs it (a key a [SigningKeyTarget] published before it was
	// promoted counts as published since then). Set it to at least the
	// verifiers' RemoteKeysOptions.MaxAge for them to pick the key up on
	// their routine refresh, and no longer than the key's Spec.Overlap in
	// the store, past which the previous version is wiped and the
	// JWTIssuer signs with the new one at once. The first
	// key a JWTIssuer sees is used at once. Zero: none (right for verifiers
	// in this process, which see a new key at once, and for remote ones
	// that refetch on an unknown kid).
	PublishAhead time.Duration

	// KeyID derives the "kid" from the key's version in the store and its
	// public key. Nil: the version itself. Use [Thumbprint] (as
	// [ThumbprintKeyID] does) when several processes sign with the same
	// key but see different versions (the file provider's versions are
	// per-process hashes), and to rotate the key with a
	// [SigningKeyTarget], which needs a kid known before the key has a
	// version.
	KeyID func(version string, pub crypto.PublicKey) string

	// Clock gives "iat", "nbf" and "exp", and times the windows above.
	// Nil: the wall clock.
	Clock secrets.Clock
}

// JWTIssuer signs short-lived, scoped JWTs for service-to-service calls with
// a private key held in a store: "iss", "sub", "aud" (the Request's
// audience), "scope" (its scopes, space-separated), "iat", "nbf", "exp" and
// a random "jti". The header's "kid" follows the key's version, so a key
// rotated in the store is used from the next token on (or after
// JWTIssuerOptions.PublishAhead), and each previous key stays published for
// JWTIssuerOptions.Overlap.
//
// The public keys it publishes are kept in memory, and refreshed when the
// key's version changes in the store (the JWTIssuer subscribes to the
// store's events for the key, when its Secrets can), not on each lookup:
// verifying reads nothing from the store, and goes on working while the
// store cannot serve the private key. A key revoked or deleted in the
// store is withdrawn at once. A [SigningKeyTarget] rotates the key through
// package rotate: it publishes the new key before the store holds it, and
// withdraws the old one after the rotation's overlap.
//
// JWTIssuer is a [Fetcher] (wrap it in a [Cache]), a [KeySet] (verify in
// process) and an http.Handler serving its JWK Set. It is safe for
// concurrent use. Close ends its subscription.
type JWTIssuer struct {
	issuer      string
	s           Secrets
	keyName     string
	opts        JWTIssuerOptions
	clock       secrets.Clock
	unsubscribe func() // nil without a subscription

	mu        sync.Mutex
	keys      []*publicKey // published, newest first; keys[0] is the latest version seen
	staged    []*publicKey // published ahead of the store by a SigningKeyTarget (version ""), oldest first
	dirty     bool         // the store announced a change not read yet
	checkedAt time.Time    // without a subscription: when the store was last read for the set
	closed    bool
}

// publicKey is the public half of one version of a signing key.
type publicKey struct {
	version string
	kid     string
	pub     crypto.PublicKey
	jwk     JWK
	since   time.Time // published since (zero: the first key seen, usable at once)
	until   time.Time // published until (zero: the latest version)
}

// recheckEvery bounds, without a subscription, how often the published set
// is read again from the store.
const recheckEvery = time.Second

// NewJWTIssuer returns a JWTIssuer named issuer (the "iss" claim, usually a URL)
// that signs with the private key called keyName in s (PEM: PKCS #8, PKCS
// #1 or SEC 1; RSA of 2048 bits or more, ECDSA or Ed25519). It fails with
// ErrInvalid for an empty issuer or key name; the key itself is read on
// first use. When s can Subscribe, it subscribes to keyName's events
// (Close ends that).
func NewJWTIssuer(s Secrets, keyName, issuer string, opts *JWTIssuerOptions) (*JWTIssuer, error) {
	if s == nil || keyName == "" || issuer == "" {
		return nil, invalidf("new issuer", "Secrets, key name and issuer are required")
	}
	i := &JWTIssuer{issuer: issuer, s: s, keyName: keyName}
	if opts != nil {
		i.opts = *opts
	}
	setDefault(&i.opts.Lifetime, 5*time.Minute)
	setDefault(&i.opts.Overlap, i.opts.Lifetime+time.Minute)
	i.opts.PublishAhead = max(i.opts.PublishAhead, 0)
	if i.clock = i.opts.Clock; i.clock == nil {
		i.clock = secrets.WallClock{}
	}
	if sub, ok := s.(interface {
		Subscribe(pattern string, fn func(secrets.Event)) (func(), error)
	}); ok {
		if cancel, err := sub.Subscribe(keyName, i.onEvent); err == nil {
			i.unsubscribe = cancel
		}
	}
	return i, nil
}

// onEvent follows the key in the store: a new version is published at
// once; a revoked or deleted one is withdrawn.
func (i *JWTIssuer) onEvent(e secrets.Event) {
	if e.Secret != i.keyName {
		return
	}
	switch e.Kind {
	case secrets.EventLoaded, secrets.EventRotated:
		i.mu.Lock()
		i.dirty = true
		i.mu.Unlock()
		i.load(context.Background())
	case secrets.EventRevoked, secrets.EventDeleted:
		i.mu.Lock()
		i.keys = slices.DeleteFunc(i.keys, func(k *publicKey) bool { return e.Version == "" || k.version == e.Version })
		i.mu.Unlock()
	}
}

// Close ends the JWTIssuer's subscription to the store. It is idempotent;
// Fetch, JWKSet and Key fail with ErrClosed afterwards, and ServeHTTP
// answers 503.
func (i *JWTIssuer) Close() error {
	i.mu.Lock()
	closed := i.closed
	i.closed = true
	i.mu.Unlock()
	if !closed && i.unsubscribe != nil {
		i.unsubscribe()
	}
	return nil
}

func (i *JWTIssuer) isClosed() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.closed
}

// Fetch signs a new token for req, with the store's current key, or the
// previous one while the current is younger than PublishAhead.
func (i *JWTIssuer) Fetch(ctx context.Context, req Request) (*Grant, error) {
	if i.isClosed() {
		return nil, newError("issue", ErrClosed, nil)
	}
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
		if now := i.clock.Now(); now.Before(pk.since.Add(i.opts.PublishAhead)) {
			if g, err = i.signPrevious(req, now); g != nil || err != nil {
				return err
			}
		}
		g, err = i.sign(key, pk, req)
		return err
	})
	if err != nil {
		return nil, newError("issue", nil, err)
	}
	return g, nil
}

// signPrevious signs with the store's previous version, if the JWTIssuer has
// published it for PublishAhead and the store still has it; (nil, nil)
// when it cannot.
func (i *JWTIssuer) signPrevious(req Request, now time.Time) (*Grant, error) {
	ps, ok := i.s.(interface {
		Previous(name string) (*secrets.Secret, error)
	})
	if !ok {
		return nil, nil
	}
	sec, err := ps.Previous(i.keyName)
	if err != nil {
		return nil, nil
	}
	i.mu.Lock()
	var pk *publicKey
	for _, k := range i.keys {
		if k.version == sec.Version() && !now.Before(k.since.Add(i.opts.PublishAhead)) {
			pk = k
		}
	}
	i.mu.Unlock()
	if pk == nil {
		return nil, nil
	}
	var g *Grant
	err = sec.Use(func(pemKey []byte) error {
		key, err := parsePrivateKey(pemKey)
		if err != nil {
			return err
		}
		g, err = i.sign(key, pk, req)
		return err
	})
	if err != nil {
		return nil, nil // wiped meanwhile: sign with the current one
	}
	return g, nil
}

// sign makes the token for req with key, whose public half is pk.
func (i *JWTIssuer) sign(key crypto.Signer, pk *publicKey, req Request) (*Grant, error) {
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
		return nil, newError("sign", nil, err)
	}
	g := &Grant{Value: []byte(s), Type: "Bearer", Scopes: req.Scopes, Audience: req.Audience,
		ExpiresAt: claims.ExpiresAt.Time, ID: claims.ID}
	if g.Scopes == nil {
		g.Scopes = []string{}
	}
	return g, nil
}

// observe publishes the public key of version, the store's latest, unless
// it already is; the key it replaces stays published for PublishAhead
// (it may go on signing that long) plus Overlap.
func (i *JWTIssuer) observe(version string, pub crypto.PublicKey) (*publicKey, error) {
	now := i.clock.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.prune(now)
	if len(i.keys) > 0 && i.keys[0].version == version {
		return i.keys[0], nil
	}
	var pk *publicKey
	if n := slices.IndexFunc(i.keys, func(k *publicKey) bool { return k.version == version }); n >= 0 {
		pk = i.keys[n] // back to a version still published
		i.keys = slices.Delete(i.keys, n, n+1)
	} else {
		kid := keyID(i.opts.KeyID, version, pub)
		jwk, err := NewJWK(kid, pub)
		if err != nil {
			return nil, err
		}
		pk = &publicKey{version: version, kid: kid, pub: pub, jwk: jwk}
		if len(i.keys) > 0 {
			pk.since = now
			if s := i.stagedKey(kid, pub); s != nil {
				pk.since = s.since // published ahead since then
			}
		}
	}
	pk.until = time.Time{}
	if len(i.keys) > 0 && i.keys[0].until.IsZero() {
		i.keys[0].until = now.Add(i.opts.PublishAhead + i.opts.Overlap)
	}
	i.keys = slices.Insert(i.keys, 0, pk)
	return pk, nil
}

// prune forgets the keys whose window has ended. i.mu is held.
func (i *JWTIssuer) prune(now time.Time) {
	i.keys = slices.DeleteFunc(i.keys, func(k *publicKey) bool { return !k.until.IsZero() && !now.Before(k.until) })
}

// load reads the key's current version from the store and publishes its
// public half (parsing it only for a version not seen yet).
func (i *JWTIssuer) load(ctx context.Context) error {
	sec, err := i.s.Get(ctx, i.keyName)
	if err != nil {
		return err
	}
	i.mu.Lock()
	same := len(i.keys) > 0 && i.keys[0].version == sec.Version()
	i.checkedAt = i.clock.Now()
	if same {
		i.dirty = false
	}
	i.mu.Unlock()
	if same {
		return nil
	}
	err = sec.Use(func(v []byte) error {
		pub, err := parsePublicKey(v)
		if err != nil {
			return err
		}
		_, err = i.observe(sec.Version(), pub)
		return err
	})
	if err == nil {
		i.mu.Lock()
		i.dirty = false
		i.mu.Unlock()
	}
	return err
}

// published returns the keys to publish, newest first, then the staged
// ones, the first of each kid only. It reads the store
// only when it must: nothing is published yet, the store announced a
// change not read yet, or (without a subscription) the last read is
// older than recheckEvery. When that read fails, the keys already
// published are served.
func (i *JWTIssuer) published(ctx context.Context) ([]*publicKey, error) {
	now := i.clock.Now()
	i.mu.Lock()
	if i.closed {
		i.mu.Unlock()
		return nil, newError("jwks", ErrClosed, nil)
	}
	i.prune(now)
	stale := len(i.keys) == 0 || i.dirty || (i.unsubscribe == nil && now.Sub(i.checkedAt) >= recheckEvery)
	i.mu.Unlock()
	if stale {
		if err := i.load(ctx); err != nil {
			i.mu.Lock()
			empty := len(i.keys) == 0
			i.mu.Unlock()
			if empty {
				return nil, newError("jwks", nil, err)
			}
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	keys := make([]*publicKey, 0, len(i.keys)+len(i.staged))
	for _, k := range slices.Concat(i.keys, i.staged) {
		if !slices.ContainsFunc(keys, func(p *publicKey) bool { return p.kid == k.kid }) {
			keys = append(keys, k) // one per kid: a key written again keeps its kid
		}
	}
	return keys, nil
}

// JWKSet returns the JWK Set to publish: the latest key first, then the
// previous ones still within their windows, then the keys a
// [SigningKeyTarget] published ahead of their promotion.
func (i *JWTIssuer) JWKSet(ctx context.Context) (JWKSet, error) {
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
// ErrUnknownKey. It makes the JWTIssuer a [KeySet] for in-process verifiers.
// It reads the store only as published does.
func (i *JWTIssuer) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	pub, _, err := i.keyAlg(ctx, kid)
	return pub, err
}

// keyAlg is Key with the one algorithm the JWTIssuer signs with that key.
func (i *JWTIssuer) keyAlg(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
	keys, err := i.published(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, k := range keys {
		if k.kid == kid {
			return k.pub, k.jwk.Alg, nil
		}
	}
	return nil, "", newError("key", ErrUnknownKey, nil)
}

// ServeHTTP serves the JWK Set as application/jwk-set+json (at, say,
// /.well-known/jwks.json). It answers 503 when the key cannot be read.
func (i *JWTIssuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	set, err := i.JWKSet(r.Context())
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
