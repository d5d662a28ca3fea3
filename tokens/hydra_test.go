package tokens_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
	"github.com/strongroom/strongroom/tokens"
)

// These tests run against a real Ory Hydra (internal/testservers), built
// by .ci/build-hydra. They skip when it is missing, except under
// STRONGROOM_REQUIRE_SERVERS=1 (CI), where they fail.

type hydraEnv struct {
	h     *testservers.Hydra
	store *secrets.Store
	mem   *memory.Provider
}

func newHydraEnv(t *testing.T, opts *testservers.HydraOptions) *hydraEnv {
	t.Helper()
	h := testservers.StartHydra(t, opts)
	mem := memory.New(nil)
	store, err := secrets.Open(context.Background(), &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return &hydraEnv{h: h, store: store, mem: mem}
}

// put declares (or rotates) a secret and waits until the store serves it.
func (e *hydraEnv) put(t *testing.T, name string, value []byte) string {
	t.Helper()
	v := e.mem.Set(name, value, nil)
	if _, err := e.store.Get(context.Background(), name); err != nil {
		if err := e.store.Add(secrets.Spec{Name: name, Ref: "memory://" + name, Overlap: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.Refresh(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return v
}

// reveal returns a token's value, for the test to ask Hydra about it.
func reveal(t *testing.T, tok *tokens.Token) string {
	t.Helper()
	var s string
	if err := tok.Use(func(v []byte) error { s = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	return s
}

func ecKey(t *testing.T) (pemKey []byte, pub crypto.PublicKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), k.Public()
}

func jwks(t *testing.T, kids []string, pubs []crypto.PublicKey) map[string]any {
	t.Helper()
	var keys []any
	for i, pub := range pubs {
		j, err := tokens.NewJWK(kids[i], pub)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, j)
	}
	return map[string]any{"keys": keys}
}

func newCache(t *testing.T, c *tokens.Client, opts *tokens.CacheOptions) *tokens.Cache {
	t.Helper()
	cache, err := tokens.NewCache(c, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close(); c.Close() })
	return cache
}

func TestHydraClientAuthMethods(t *testing.T) {
	e := newHydraEnv(t, nil)
	keyPEM, pub := ecKey(t)
	kid := e.put(t, "jwt-key", keyPEM)
	e.put(t, "secret", []byte("a-client-secret-of-some-length"))
	for _, tc := range []struct {
		method string
		auth   tokens.ClientAuth
		reg    testservers.Client
	}{
		{"client_secret_basic", tokens.ClientSecretBasic(e.store, "secret"), testservers.Client{ClientSecret: "a-client-secret-of-some-length"}},
		{"client_secret_post", tokens.ClientSecretPost(e.store, "secret"), testservers.Client{ClientSecret: "a-client-secret-of-some-length"}},
		{"private_key_jwt", tokens.PrivateKeyJWT(e.store, "jwt-key"), testservers.Client{
			TokenEndpointAuthAlg: "ES256", JWKS: jwks(t, []string{kid}, []crypto.PublicKey{pub})}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			reg := tc.reg
			reg.ClientID = "client-" + tc.method
			reg.GrantTypes = []string{"client_credentials"}
			reg.Scope = "read write"
			reg.Audience = []string{"api"}
			reg.TokenEndpointAuthMethod = tc.method
			e.h.CreateClient(reg)
			client, err := tokens.NewClient(e.h.TokenURL(), reg.ClientID, tc.auth, nil)
			if err != nil {
				t.Fatal(err)
			}
			cache := newCache(t, client, nil)
			before := time.Now()
			tok, err := cache.Token(context.Background(), tokens.Request{Scopes: []string{"read"}, Audience: []string{"api"}})
			if err != nil {
				t.Fatal(err)
			}
			active, scope := e.h.Introspect(reveal(t, tok))
			if !active || scope != "read" {
				t.Fatalf("Hydra says active=%v scope=%q, want true, \"read\"", active, scope)
			}
			if got := strings.Join(tok.Scopes(), " "); got != "read" {
				t.Errorf("token scopes %q", got)
			}
			if !strings.EqualFold(tok.Type(), "bearer") {
				t.Errorf("token type %q", tok.Type())
			}
			// Hydra's default lifetime is one hour.
			if life := tok.ExpiresAt().Sub(before); life < 59*time.Minute || life > 61*time.Minute {
				t.Errorf("token lifetime %s, want about 1 h", life)
			}
		})
	}
}

func TestHydraScopes(t *testing.T) {
	e := newHydraEnv(t, nil)
	e.put(t, "secret", []byte("scopes-client-secret-0123456789"))
	e.h.CreateClient(testservers.Client{ClientID: "scoped", ClientSecret: "scopes-client-secret-0123456789",
		GrantTypes: []string{"client_credentials"}, Scope: "read write", TokenEndpointAuthMethod: "client_secret_basic"})
	client, err := tokens.NewClient(e.h.TokenURL(), "scoped", tokens.ClientSecretBasic(e.store, "secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := newCache(t, client, nil)
	ctx := context.Background()

	tok, err := cache.Token(ctx, tokens.Request{Scopes: []string{"write", "read"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tok.Scopes(), " "); got != "read write" {
		t.Errorf("granted %q, want \"read write\"", got)
	}
	if _, scope := e.h.Introspect(reveal(t, tok)); scope != "read write" && scope != "write read" {
		t.Errorf("Hydra says scope %q", scope)
	}

	_, err = cache.Token(ctx, tokens.Request{Scopes: []string{"read", "admin"}})
	var oe *tokens.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_scope" || oe.StatusCode != http.StatusBadRequest || oe.Description == "" {
		t.Fatalf("a scope the client may not have: %v; want an OAuthError invalid_scope", err)
	}
	if strings.Contains(err.Error(), "scopes-client-secret") {
		t.Fatalf("the error quotes the client secret: %v", err)
	}
	t.Logf("refused: %v", err)
}

func TestHydraExpiryAndRefresh(t *testing.T) {
	e := newHydraEnv(t, &testservers.HydraOptions{AccessTokenTTL: 3 * time.Second})
	e.put(t, "secret", []byte("expiry-client-secret-0123456789"))
	e.h.CreateClient(testservers.Client{ClientID: "short", ClientSecret: "expiry-client-secret-0123456789",
		GrantTypes: []string{"client_credentials"}, Scope: "read", TokenEndpointAuthMethod: "client_secret_post"})
	client, err := tokens.NewClient(e.h.TokenURL(), "short", tokens.ClientSecretPost(e.store, "secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := newCache(t, client, nil)
	src := cache.Source(tokens.Request{Scopes: []string{"read"}})
	ctx := context.Background()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if life := time.Until(first.ExpiresAt()); life > 3*time.Second || life < time.Second {
		t.Fatalf("lifetime %s, want Hydra's 3 s", life)
	}
	firstValue := reveal(t, first)
	// The Cache refreshes at about 2 s, before the 3 s expiry.
	var second *tokens.Token
	for second == nil || second == first {
		if second, err = src.Token(ctx); err != nil {
			t.Fatal(err)
		}
		if second.Expired(time.Now()) {
			t.Fatal("Source returned an expired token")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// How early the refresh landed depends on the machine's load; what
	// must hold is that no expired token was handed out, checked above.
	t.Logf("refreshed %s before the old token's expiry", first.ExpiresAt().Sub(second.IssuedAt()).Round(time.Millisecond))
	// expires_in is whole seconds, rounded down: Hydra's own expiry can be
	// up to a second later than the one the Cache goes by.
	time.Sleep(time.Until(first.ExpiresAt()) + 1500*time.Millisecond)
	if active, _ := e.h.Introspect(firstValue); active {
		t.Error("Hydra still thinks the first token is active after its expiry")
	}
	if err := first.Use(func([]byte) error { return nil }); !errors.Is(err, tokens.ErrExpired) {
		t.Errorf("Use of the expired token: %v", err)
	}
	tok, err := src.Token(ctx)
	if err != nil || tok.Expired(time.Now()) {
		t.Fatalf("after the first expiry: %v, %v", tok, err)
	}
}

func TestHydraRevocation(t *testing.T) {
	e := newHydraEnv(t, nil)
	e.put(t, "secret", []byte("revoke-client-secret-0123456789"))
	e.h.CreateClient(testservers.Client{ClientID: "rev", ClientSecret: "revoke-client-secret-0123456789",
		GrantTypes: []string{"client_credentials"}, Scope: "read write", TokenEndpointAuthMethod: "client_secret_basic"})
	client, err := tokens.NewClient(e.h.TokenURL(), "rev", tokens.ClientSecretBasic(e.store, "secret"),
		&tokens.ClientOptions{RevocationURL: e.h.RevocationURL()})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := tokens.NewCache(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	read, write := tokens.Request{Scopes: []string{"read"}}, tokens.Request{Scopes: []string{"write"}}
	a, err := cache.Token(ctx, read)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.Token(ctx, write)
	if err != nil {
		t.Fatal(err)
	}
	av, bv := reveal(t, a), reveal(t, b)
	if err := cache.Drop(ctx, read); err != nil {
		t.Fatal(err)
	}
	if active, _ := e.h.Introspect(av); active {
		t.Error("the dropped token is still active at Hydra")
	}
	if active, _ := e.h.Introspect(bv); !active {
		t.Error("the other token was revoked too")
	}
	if err := cache.Close(); err != nil {
		t.Fatal(err)
	}
	if active, _ := e.h.Introspect(bv); active {
		t.Error("Close did not revoke the token held")
	}
}

// apiServer is a resource server that accepts a request when Hydra says
// its bearer token is active; it counts refusals. lookup, when not nil,
// says when a bearer token expires by the Token that carried it, so that a
// refusal says whether the token was past its expiry when Hydra saw it.
func apiServer(t *testing.T, h *testservers.Hydra, lookup func(bearer string) (time.Time, bool)) (*httptest.Server, *atomic.Int64) {
	var refused atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		active, _, err := h.TryIntrospect(tok)
		if !ok || !active || err != nil {
			refused.Add(1)
			expiry := "unknown"
			if lookup != nil {
				if exp, known := lookup(tok); known {
					expiry = fmt.Sprintf("%v from now", time.Until(exp).Round(time.Millisecond))
				}
			}
			t.Logf("API refused a request: bearer %v, active %v, %v; the token's expiry: %s", ok, active, err, expiry)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return srv, &refused
}

// recorder is a Source that remembers the expiry of every token it hands
// out, by value (a test of tokens issued by a test server).
type recorder struct {
	src     tokens.Source
	expires sync.Map // token value -> time.Time
}

func (r *recorder) Token(ctx context.Context) (*tokens.Token, error) {
	tok, err := r.src.Token(ctx)
	if err == nil {
		tok.Use(func(v []byte) error { r.expires.Store(string(v), tok.ExpiresAt()); return nil })
	}
	return tok, err
}

func (r *recorder) lookup(bearer string) (time.Time, bool) {
	v, ok := r.expires.Load(bearer)
	if !ok {
		return time.Time{}, false
	}
	return v.(time.Time), true
}

// callUntil sends requests through src to srv until stop is closed,
// counting failures of any kind.
func callUntil(t *testing.T, src tokens.Source, srv *httptest.Server, stop chan struct{}) (wait func() (calls, failed int64)) {
	var calls, failed atomic.Int64
	hc := &http.Client{Transport: &tokens.Transport{Source: src}}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				resp, err := hc.Get(srv.URL)
				if err != nil {
					failed.Add(1)
					t.Logf("request failed: %v", err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}
	return func() (int64, int64) { wg.Wait(); return calls.Load(), failed.Load() }
}

// waitFresh waits for src to hand out a token issued after t0.
func waitFresh(t *testing.T, src tokens.Source, t0 time.Time) *tokens.Token {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		tok, err := src.Token(context.Background())
		if err == nil && tok.IssuedAt().After(t0) {
			return tok
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no token issued after the rotation within 20 s")
	return nil
}

// traffic sends requests with tokens for clientID from a Cache to a
// resource server that asks Hydra about each, until the returned function
// is called; it then fails the test if any request failed.
func traffic(t *testing.T, e *hydraEnv, clientID string, auth tokens.ClientAuth) (src tokens.Source, finish func(what string)) {
	t.Helper()
	client, err := tokens.NewClient(e.h.TokenURL(), clientID, auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := newCache(t, client, &tokens.CacheOptions{MinBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, ExpiryMargin: 2 * time.Second})
	src = cache.Source(tokens.Request{Scopes: []string{"read"}})
	rec := &recorder{src: src}
	srv, refused := apiServer(t, e.h, rec.lookup)
	if _, err := src.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	wait := callUntil(t, rec, srv, stop)
	return src, func(what string) {
		t.Helper()
		close(stop)
		calls, failed := wait()
		if failed != 0 || refused.Load() != 0 {
			t.Fatalf("%d of %d requests failed during the %s", failed, calls, what)
		}
		t.Logf("%d requests, none failed, across the %s", calls, what)
	}
}

func TestHydraClientSecretRotation(t *testing.T) {
	e := newHydraEnv(t, &testservers.HydraOptions{AccessTokenTTL: 6 * time.Second})
	e.put(t, "secret", []byte("rotation-secret-number-one-0123"))
	e.h.CreateClient(testservers.Client{ClientID: "rot", ClientSecret: "rotation-secret-number-one-0123",
		GrantTypes: []string{"client_credentials"}, Scope: "read", TokenEndpointAuthMethod: "client_secret_basic"})
	src, finish := traffic(t, e, "rot", tokens.ClientSecretBasic(e.store, "secret"))

	time.Sleep(500 * time.Millisecond)
	// The server first, then the store: fetches in between fail and are
	// retried, while the token held keeps serving.
	e.h.Patch("rot", []map[string]any{{"op": "replace", "path": "/client_secret", "value": "rotation-secret-number-two-4567"}})
	time.Sleep(300 * time.Millisecond)
	rotated := time.Now()
	e.put(t, "secret", []byte("rotation-secret-number-two-4567"))
	waitFresh(t, src, rotated)
	waitFresh(t, src, time.Now()) // and once more, on the new secret alone
	finish("client secret rotation")
}

func TestHydraSigningKeyRotation(t *testing.T) {
	e := newHydraEnv(t, &testservers.HydraOptions{AccessTokenTTL: 6 * time.Second})
	key1, pub1 := ecKey(t)
	kid1 := e.put(t, "client-key", key1)
	e.h.CreateClient(testservers.Client{ClientID: "pkj", GrantTypes: []string{"client_credentials"}, Scope: "read",
		TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthAlg: "ES256",
		JWKS: jwks(t, []string{kid1}, []crypto.PublicKey{pub1})})
	src, finish := traffic(t, e, "pkj", tokens.PrivateKeyJWT(e.store, "client-key"))

	// Publish the new key next to the old one, switch the store to it,
	// then retire the old one.
	key2, pub2 := ecKey(t)
	kid2 := "2" // the memory provider's next version of client-key
	e.h.Patch("pkj", []map[string]any{{"op": "replace", "path": "/jwks", "value": jwks(t, []string{kid1, kid2}, []crypto.PublicKey{pub1, pub2})}})
	rotated := time.Now()
	if got := e.put(t, "client-key", key2); got != kid2 {
		t.Fatalf("new key version %q, want %q", got, kid2)
	}
	waitFresh(t, src, rotated)
	e.h.Patch("pkj", []map[string]any{{"op": "replace", "path": "/jwks", "value": jwks(t, []string{kid2}, []crypto.PublicKey{pub2})}})
	waitFresh(t, src, time.Now())
	finish("private_key_jwt signing key rotation")
}

// TestHydraJWTVerifier verifies Hydra's JWT access tokens against its JWKS
// URL, across a rotation of Hydra's signing key: the new kid is unknown,
// so the JWKS is fetched again.
func TestHydraJWTVerifier(t *testing.T) {
	e := newHydraEnv(t, &testservers.HydraOptions{JWTAccessTokens: true})
	e.put(t, "secret", []byte("jwt-client-secret-0123456789abc"))
	e.h.CreateClient(testservers.Client{ClientID: "jwtc", ClientSecret: "jwt-client-secret-0123456789abc",
		GrantTypes: []string{"client_credentials"}, Scope: "read write", Audience: []string{"api"},
		TokenEndpointAuthMethod: "client_secret_basic"})
	client, err := tokens.NewClient(e.h.TokenURL(), "jwtc", tokens.ClientSecretBasic(e.store, "secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Hydra makes a 4096-bit RSA key on the first JWKS request and on the
	// rotation: allow for a loaded machine.
	keys, err := tokens.NewRemoteKeys(e.h.JWKSURL(), &tokens.RemoteKeysOptions{MinInterval: time.Nanosecond,
		HTTPClient: &http.Client{Timeout: 2 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := tokens.NewVerifier(keys, e.h.Public, "api", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := tokens.Request{Scopes: []string{"read"}, Audience: []string{"api"}}
	c1 := newCache(t, client, nil)
	old, err := c1.Token(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(ctx, reveal(t, old), "read")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, reveal(t, old), "write"); !errors.Is(err, tokens.ErrMissingScope) {
		t.Errorf("a scope the token lacks: %v", err)
	}
	e.h.RotateJWTKey("rotated-key")
	c2 := newCache(t, client, nil)
	fresh, err := c2.Token(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	claims2, err := v.Verify(ctx, reveal(t, fresh), "read")
	if err != nil {
		t.Fatalf("a token signed with Hydra's new key: %v", err)
	}
	if claims2.KeyID == claims.KeyID || claims2.KeyID != "rotated-key" {
		t.Errorf("kids %q then %q, want a change to rotated-key", claims.KeyID, claims2.KeyID)
	}
	if _, err := v.Verify(ctx, reveal(t, old), "read"); err != nil {
		t.Errorf("a token signed with the old key, still published: %v", err)
	}
}

// TestHydraRefreshTokenGrant: the refresh token grant against Hydra, which
// rotates refresh tokens; the hook hands each new one to the program,
// which writes it back to the store.
func TestHydraRefreshTokenGrant(t *testing.T) {
	e := newHydraEnv(t, nil)
	const secret = "refresh-client-secret-0123456789"
	redirect := "http://127.0.0.1:9/callback"
	e.h.CreateClient(testservers.Client{ClientID: "app", ClientSecret: secret,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{redirect}, Scope: "offline_access read", TokenEndpointAuthMethod: "client_secret_basic"})
	rt := e.h.RefreshToken("app", secret, redirect, []string{"offline_access", "read"})
	e.put(t, "secret", []byte(secret))
	e.put(t, "refresh-token", []byte(rt))
	ctx := context.Background()
	var rotations atomic.Int64
	client, err := tokens.NewClient(e.h.TokenURL(), "app", tokens.ClientSecretBasic(e.store, "secret"), &tokens.ClientOptions{
		RefreshToken: "refresh-token",
		OnRefreshToken: func(ctx context.Context, newRT []byte) error {
			rotations.Add(1)
			_, err := e.store.Write(ctx, "refresh-token", newRT) // persist
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	for i := 1; i <= 3; i++ {
		g, err := client.Fetch(ctx, tokens.Request{Scopes: []string{"read"}})
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if active, _ := e.h.Introspect(string(g.Value)); !active {
			t.Fatalf("refresh %d: access token not active", i)
		}
	}
	if got := rotations.Load(); got != 3 {
		t.Fatalf("OnRefreshToken called %d times, want 3 (Hydra rotates refresh tokens)", got)
	}
	var stored string
	if err := e.store.Use(ctx, "refresh-token", func(v []byte) error { stored = string(v); return nil }); err != nil {
		t.Fatal(err)
	}
	if stored == rt {
		t.Fatal("the store still holds the first refresh token")
	}
}
