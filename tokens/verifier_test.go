package tokens

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "billing"
)

// verifyEnv is a JWTIssuer signing with a key in a store, on a virtual
// clock, and a Verifier trusting it.
type verifyEnv struct {
	clock  *memory.Clock
	issuer *JWTIssuer
	v      *Verifier
	sign   func(req Request) string
	kid    string
	store  *secrets.Store
	mem    *memory.Provider
}

func newVerifyEnv(t *testing.T, keyPEM []byte) *verifyEnv {
	t.Helper()
	clock := memory.NewClock(epoch)
	store, mem := newStore(t, clock)
	addSecret(t, store, mem, "signing-key", keyPEM)
	iss, err := NewJWTIssuer(store, "signing-key", testIssuer, &JWTIssuerOptions{Clock: clock, Lifetime: 5 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(iss, testIssuer, testAudience, &VerifierOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	env := &verifyEnv{clock: clock, issuer: iss, v: v, store: store, mem: mem}
	env.sign = func(req Request) string {
		g, err := iss.Fetch(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		return string(g.Value)
	}
	env.kid = "1"
	return env
}

var billingRead = Request{Scopes: []string{"invoices:read"}, Audience: []string{testAudience}}

func rsaKeyPEM(t *testing.T) ([]byte, *rsa.PrivateKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), k
}

func TestVerifyGood(t *testing.T) {
	env := newVerifyEnv(t, ecKeyPEM(t))
	c, err := env.v.Verify(context.Background(), env.sign(billingRead), "invoices:read")
	if err != nil {
		t.Fatal(err)
	}
	if c.Issuer != testIssuer || c.Subject != testIssuer || len(c.Audience) != 1 || c.Audience[0] != testAudience ||
		!c.HasScope("invoices:read") || c.KeyID != "1" || c.Algorithm != "ES256" || !c.ExpiresAt.Equal(epoch.Add(5*time.Minute)) {
		t.Fatalf("claims %+v", c)
	}
}

func TestVerifyRejects(t *testing.T) {
	rsaPEM, rsaKey := rsaKeyPEM(t)
	env := newVerifyEnv(t, rsaPEM)
	ctx := context.Background()
	good := env.sign(billingRead)
	if _, err := env.v.Verify(ctx, good); err != nil {
		t.Fatal(err)
	}
	now := env.clock.Now()
	claims := func(mod func(*jwt.RegisteredClaims)) tokenClaims {
		c := tokenClaims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: testIssuer, Audience: jwt.ClaimStrings{testAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
		}, Scope: "invoices:read"}
		if mod != nil {
			mod(&c.RegisteredClaims)
		}
		return c
	}
	signRSA := func(c tokenClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = env.kid
		s, err := tok.SignedString(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	none := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil))
		tok.Header["kid"] = env.kid
		s, _ := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}()
	hmacConfusion := func() string {
		// The classic attack: sign with HS256 using the public key, which
		// the attacker knows, as the HMAC secret.
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil))
		tok.Header["kid"] = env.kid
		s, _ := tok.SignedString(pubPEM)
		return s
	}()
	psWithRSA := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodPS256, claims(nil))
		tok.Header["kid"] = env.kid
		s, _ := tok.SignedString(rsaKey)
		return s
	}()

	for _, tc := range []struct {
		name   string
		token  string
		scopes []string
		want   error
	}{
		{"alg none", none, nil, jwt.ErrTokenSignatureInvalid},
		{"HMAC with the public key", hmacConfusion, nil, jwt.ErrTokenSignatureInvalid},
		{"wrong issuer", signRSA(claims(func(c *jwt.RegisteredClaims) { c.Issuer = "https://evil.test" })), nil, jwt.ErrTokenInvalidIssuer},
		{"wrong audience", signRSA(claims(func(c *jwt.RegisteredClaims) { c.Audience = jwt.ClaimStrings{"reports"} })), nil, jwt.ErrTokenInvalidAudience},
		{"no expiry", signRSA(claims(func(c *jwt.RegisteredClaims) { c.ExpiresAt = nil })), nil, jwt.ErrTokenRequiredClaimMissing},
		{"expired beyond the leeway", signRSA(claims(func(c *jwt.RegisteredClaims) {
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-31 * time.Second))
		})), nil, jwt.ErrTokenExpired},
		{"not yet valid beyond the leeway", signRSA(claims(func(c *jwt.RegisteredClaims) {
			c.NotBefore = jwt.NewNumericDate(now.Add(31 * time.Second))
		})), nil, jwt.ErrTokenNotValidYet},
		{"issued in the future", signRSA(claims(func(c *jwt.RegisteredClaims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute))
		})), nil, jwt.ErrTokenUsedBeforeIssued},
		{"missing scope", good, []string{"invoices:write"}, ErrMissingScope},
		{"tampered payload", good[:len(good)-4] + "AAAA", nil, jwt.ErrTokenSignatureInvalid},
		{"not a JWT", "not.a.jwt", nil, jwt.ErrTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := env.v.Verify(ctx, tc.token, tc.scopes...)
			if !errors.Is(err, ErrRejected) {
				t.Fatalf("%v, want ErrRejected", err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("%v, want it to match %v", err, tc.want)
			}
			if len(tc.token) > 20 && contains(err.Error(), tc.token) {
				t.Fatalf("the error quotes the token: %v", err)
			}
		})
	}
	// PS256 is in the default allow-list and fits an RSA key, but the
	// Issuer declares its key for RS256 alone (its JWK's "alg"): refused.
	if _, err := env.v.Verify(ctx, psWithRSA); !errors.Is(err, ErrRejected) {
		t.Errorf("PS256 with the JWTIssuer's RS256 key: %v, want ErrRejected", err)
	}
	// A KeySet that declares no algorithm accepts any RSA one.
	anyRSA, _ := NewVerifier(keyOnly{env.issuer}, testIssuer, testAudience, &VerifierOptions{Clock: env.clock})
	if _, err := anyRSA.Verify(ctx, psWithRSA); err != nil {
		t.Errorf("PS256 with an RSA key of no declared algorithm: %v", err)
	}
	// An allow-list that names none or HMAC is refused outright.
	for _, alg := range []string{"none", "HS256"} {
		if _, err := NewVerifier(env.issuer, testIssuer, testAudience, &VerifierOptions{Algorithms: []string{"RS256", alg}}); !errors.Is(err, ErrInvalid) {
			t.Errorf("allow-list with %s: %v", alg, err)
		}
	}
	// With an allow-list of ES256 only, even a good RS256 token fails.
	es, _ := NewVerifier(env.issuer, testIssuer, testAudience, &VerifierOptions{Algorithms: []string{"ES256"}, Clock: env.clock})
	if _, err := es.Verify(ctx, good); !errors.Is(err, ErrRejected) {
		t.Errorf("RS256 against an ES256 allow-list: %v", err)
	}
}

func TestVerifyLeeway(t *testing.T) {
	env := newVerifyEnv(t, ecKeyPEM(t))
	ctx := context.Background()
	tok := env.sign(billingRead) // expires at +5 min
	env.clock.Advance(5*time.Minute + 29*time.Second)
	if _, err := env.v.Verify(ctx, tok); err != nil {
		t.Fatalf("29 s past expiry, within the 30 s leeway: %v", err)
	}
	env.clock.Advance(2 * time.Second)
	if _, err := env.v.Verify(ctx, tok); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("31 s past expiry: %v, want ErrTokenExpired", err)
	}
}

func TestVerifyKeyTypeMismatch(t *testing.T) {
	// kid "1" is an EC P-256 key: an RS256 token naming it must fail even
	// though RS256 is allowed.
	env := newVerifyEnv(t, ecKeyPEM(t))
	_, rsaKey := rsaKeyPEM(t)
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: testIssuer,
		Audience: jwt.ClaimStrings{testAudience}, ExpiresAt: jwt.NewNumericDate(epoch.Add(time.Minute))})
	tok.Header["kid"] = "1"
	s, _ := tok.SignedString(rsaKey)
	if _, err := env.v.Verify(context.Background(), s); !errors.Is(err, ErrRejected) {
		t.Fatalf("RS256 token naming an EC key: %v", err)
	}
}

// TestJWKSUnknownKid: an unknown kid makes the JWKS fetched again, once,
// and no more often than MinInterval.
func TestJWKSUnknownKid(t *testing.T) {
	env := newVerifyEnv(t, ecKeyPEM(t))
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		env.issuer.ServeHTTP(w, r)
	}))
	defer srv.Close()
	keys, err := NewRemoteKeys(srv.URL, &RemoteKeysOptions{Clock: env.clock, MinInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(keys, testIssuer, testAudience, &VerifierOptions{Clock: env.clock})
	ctx := context.Background()
	if _, err := v.Verify(ctx, env.sign(billingRead)); err != nil {
		t.Fatal(err)
	}
	if got := hits.Load(); got != 1 {
		t.Fatalf("JWKS fetches for the first token: %d, want 1", got)
	}

	// A token from a key the JWKS does not have.
	otherPEM := ecKeyPEM(t)
	other, _ := parsePrivateKey(otherPEM)
	forged := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, tokenClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: testIssuer,
			Audience: jwt.ClaimStrings{testAudience}, ExpiresAt: jwt.NewNumericDate(env.clock.Now().Add(time.Minute))}})
		tok.Header["kid"] = "unknown-kid"
		s, _ := tok.SignedString(other)
		return s
	}
	// The first unknown kid right after the first fetch still causes one:
	// it may be the first token of a newly rotated key.
	if _, err := v.Verify(ctx, forged()); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
	}
	if got := hits.Load(); got != 2 {
		t.Fatalf("JWKS fetches after an unknown kid: %d, want 2 (refetched once)", got)
	}
	for range 100 {
		if _, err := v.Verify(ctx, forged()); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if got := hits.Load(); got != 2 {
		t.Fatalf("JWKS fetches after 100 more unknown kids within a minute: %d, want 2 (rate-limited)", got)
	}
	env.clock.Advance(time.Minute)
	v.Verify(ctx, forged())
	if got := hits.Load(); got != 3 {
		t.Fatalf("JWKS fetches a minute later: %d, want 3", got)
	}
	// Known kids never cause a fetch.
	for range 10 {
		if _, err := v.Verify(ctx, env.sign(billingRead)); err != nil {
			t.Fatal(err)
		}
	}
	if got := hits.Load(); got != 3 {
		t.Fatalf("JWKS fetches for known kids: %d, want 3", got)
	}
}

// TestIssuerKeyRotation: the kid follows the key's version; the previous
// key stays published for the overlap window, and tokens it signed verify
// meanwhile.
func TestIssuerKeyRotation(t *testing.T) {
	clock := memory.NewClock(epoch)
	store, mem := newStore(t, clock)
	addSecret(t, store, mem, "signing-key", ecKeyPEM(t))
	iss, _ := NewJWTIssuer(store, "signing-key", testIssuer, &JWTIssuerOptions{Clock: clock, Lifetime: time.Minute, Overlap: 2 * time.Minute})
	v, _ := NewVerifier(iss, testIssuer, testAudience, &VerifierOptions{Clock: clock, Leeway: -1})
	ctx := context.Background()
	g1, err := iss.Fetch(ctx, billingRead)
	if err != nil {
		t.Fatal(err)
	}
	rotate(t, store, mem, "signing-key", ecKeyPEM(t))
	g2, err := iss.Fetch(ctx, billingRead)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := v.Verify(ctx, string(g1.Value))
	if err != nil {
		t.Fatalf("token from the previous key during the overlap: %v", err)
	}
	c2, err := v.Verify(ctx, string(g2.Value))
	if err != nil {
		t.Fatal(err)
	}
	if c1.KeyID != "1" || c2.KeyID != "2" {
		t.Fatalf("kids %q, %q; want the versions 1, 2", c1.KeyID, c2.KeyID)
	}
	set, _ := iss.JWKSet(ctx)
	if len(set.Keys) != 2 || set.Keys[0].Kid != "2" || set.Keys[1].Kid != "1" {
		t.Fatalf("JWKS during the overlap: %+v", set)
	}
	clock.Advance(2 * time.Minute)
	set, _ = iss.JWKSet(ctx)
	if len(set.Keys) != 1 || set.Keys[0].Kid != "2" {
		t.Fatalf("JWKS after the overlap: %+v", set)
	}
	// Rotation is seen by the JWKS even before a token is signed: the
	// store's event publishes it.
	rotate(t, store, mem, "signing-key", ecKeyPEM(t))
	waitUntil(t, "the JWKS publishes the rotated key", func() bool {
		set, _ = iss.JWKSet(ctx)
		return len(set.Keys) == 2 && set.Keys[0].Kid == "3"
	})
}

// keyOnly hides everything of a KeySet but Key.
type keyOnly struct{ ks KeySet }

func (k keyOnly) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	return k.ks.Key(ctx, kid)
}

func TestStoreKeys(t *testing.T) {
	clock := memory.NewClock(epoch)
	store, mem := newStore(t, clock)
	addSecret(t, store, mem, "signing-key", ecKeyPEM(t))
	iss, _ := NewJWTIssuer(store, "signing-key", testIssuer, &JWTIssuerOptions{Clock: clock})
	v, _ := NewVerifier(&StoreKeys{Secrets: store, Names: []string{"signing-key"}}, testIssuer, testAudience, &VerifierOptions{Clock: clock})
	ctx := context.Background()
	g1, _ := iss.Fetch(ctx, billingRead)
	if _, err := v.Verify(ctx, string(g1.Value)); err != nil {
		t.Fatal(err)
	}
	rotate(t, store, mem, "signing-key", ecKeyPEM(t))
	g2, _ := iss.Fetch(ctx, billingRead)
	for i, g := range []*Grant{g1, g2} {
		if _, err := v.Verify(ctx, string(g.Value)); err != nil {
			t.Fatalf("token %d after rotation (store keeps the previous version): %v", i+1, err)
		}
	}
}
