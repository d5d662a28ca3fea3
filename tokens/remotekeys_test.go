package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/secrets"
)

// jwksServer serves a JWTIssuer's JWK Set, counting requests; while blocked
// it holds each request until unblocked or cancelled, and while failing it
// answers 500.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu      sync.Mutex
	gate    chan struct{} // nil: answer at once
	failing bool
}

func newJWKSServer(t *testing.T, iss *JWTIssuer) *jwksServer {
	js := &jwksServer{}
	js.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		js.hits.Add(1)
		js.mu.Lock()
		gate, failing := js.gate, js.failing
		js.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		if failing {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		iss.ServeHTTP(w, r)
	}))
	t.Cleanup(js.Close)
	return js
}

func (js *jwksServer) block() chan struct{} {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.gate = make(chan struct{})
	return js.gate
}

func (js *jwksServer) unblock() {
	js.mu.Lock()
	defer js.mu.Unlock()
	close(js.gate)
	js.gate = nil
}

func (js *jwksServer) fail(on bool) {
	js.mu.Lock()
	js.failing = on
	js.mu.Unlock()
}

// fetchedJWKS makes a JWKS for js, closed at cleanup, and looks up env's
// key once, so that the set is fetched.
func fetchedJWKS(t *testing.T, js *jwksServer, env *verifyEnv, opts RemoteKeysOptions) *RemoteKeys {
	t.Helper()
	opts.Clock = env.clock
	keys, err := NewRemoteKeys(js.URL, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	if _, err := keys.Key(context.Background(), env.kid); err != nil {
		t.Fatal(err)
	}
	return keys
}

// noHang runs f and fails the test if it does not return: a hang, not a
// measurement.
func noHang(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("hangs: " + what)
	}
}

// TestJWKSStaleServedWhileRefreshing: once the set is older than MaxAge, a
// known kid is served from it at once while one fetch runs in the
// background; Close stops that fetch and leaves no goroutine.
func TestJWKSStaleServedWhileRefreshing(t *testing.T) {
	leakCheck(t)
	env := newVerifyEnv(t, ecKeyPEM(t))
	js := newJWKSServer(t, env.issuer)
	keys, err := NewRemoteKeys(js.URL, &RemoteKeysOptions{Clock: env.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := env.sign(billingRead)
	if _, err := NewVerifierOrFatal(t, keys, env).Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(61 * time.Minute)
	js.block()
	noHang(t, "a known kid in a stale set waits for the fetch", func() {
		for range 100 {
			if _, err := keys.Key(ctx, env.kid); err != nil {
				t.Error(err)
				return
			}
		}
	})
	waitUntil(t, "the background fetch reaches the server", func() bool { return js.hits.Load() == 2 })
	if n := js.hits.Load(); n != 2 {
		t.Fatalf("JWKS requests after 100 lookups in a stale set: %d, want 2 (one background fetch)", n)
	}
	js.unblock()
	waitUntil(t, "the background fetch ends", func() bool {
		keys.mu.Lock()
		defer keys.mu.Unlock()
		return keys.bgCancel == nil && keys.fetchedAt.Equal(env.clock.Now())
	})
	// Stale again, with the fetch held at the server: Close cancels it.
	env.clock.Advance(61 * time.Minute)
	js.block()
	if _, err := keys.Key(ctx, env.kid); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second background fetch reaches the server", func() bool { return js.hits.Load() == 3 })
	noHang(t, "Close with a background fetch under way", func() { keys.Close() })
	if _, err := keys.Key(ctx, env.kid); !errors.Is(err, ErrClosed) {
		t.Fatalf("Key after Close: %v", err)
	}
	if err := keys.Refresh(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Refresh after Close: %v", err)
	}
	keys.Close() // idempotent
	js.unblock()
}

// NewVerifierOrFatal makes a Verifier for env's issuer and audience over keys.
func NewVerifierOrFatal(t *testing.T, keys KeySet, env *verifyEnv) *Verifier {
	t.Helper()
	v, err := NewVerifier(keys, testIssuer, testAudience, &VerifierOptions{Clock: env.clock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJWKSMaxStale: keys of a set that cannot be refreshed are trusted
// for MaxStale, then no longer, until a fetch succeeds again.
func TestJWKSMaxStale(t *testing.T) {
	leakCheck(t)
	env := newVerifyEnv(t, ecKeyPEM(t))
	js := newJWKSServer(t, env.issuer)
	keys := fetchedJWKS(t, js, env, RemoteKeysOptions{MaxAge: time.Hour, MaxStale: 3 * time.Hour})
	ctx := context.Background()
	js.fail(true)
	env.clock.Advance(2 * time.Hour)
	if _, err := keys.Key(ctx, env.kid); err != nil {
		t.Fatalf("2 h old, refresh failing, within MaxStale: %v", err)
	}
	waitUntil(t, "the failed background fetch", func() bool {
		keys.mu.Lock()
		defer keys.mu.Unlock()
		return keys.lastErr != nil && keys.bgCancel == nil
	})
	env.clock.Advance(time.Hour + time.Second)
	_, err := keys.Key(ctx, env.kid)
	if err == nil || errors.Is(err, ErrUnknownKey) {
		t.Fatalf("past MaxStale with the server failing: %v, want a failure that is not ErrUnknownKey", err)
	}
	v := NewVerifierOrFatal(t, keys, env)
	if _, err := v.Verify(ctx, env.sign(billingRead)); !errors.Is(err, ErrRejected) {
		t.Fatalf("Verify past MaxStale: %v", err)
	}
	js.fail(false)
	env.clock.Advance(time.Minute) // past MinInterval after the failed fetch
	if _, err := v.Verify(ctx, env.sign(billingRead)); err != nil {
		t.Fatalf("once the server answers again: %v", err)
	}
}

// TestJWKSRefetchAge: forged kids, one per MinInterval, cannot keep a
// verifier refusing a newly rotated key for longer than RefetchAge; and a
// flood of them costs at most one fetch per RefetchAge.
func TestJWKSRefetchAge(t *testing.T) {
	leakCheck(t)
	env := newVerifyEnv(t, ecKeyPEM(t))
	js := newJWKSServer(t, env.issuer)
	keys, err := NewRemoteKeys(js.URL, &RemoteKeysOptions{Clock: env.clock, MinInterval: time.Minute, RefetchAge: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keys.Close() })
	v := NewVerifierOrFatal(t, keys, env)
	ctx := context.Background()
	if _, err := v.Verify(ctx, env.sign(billingRead)); err != nil {
		t.Fatal(err)
	}
	forged := forgedToken(t, env)
	env.clock.Advance(time.Second)
	v.Verify(ctx, forged) // arms the MinInterval limit
	if n := js.hits.Load(); n != 2 {
		t.Fatalf("fetches: %d, want 2", n)
	}
	// The issuer rotates; its first token arrives a second later.
	rotate(t, env.store, env.mem, "signing-key", ecKeyPEM(t))
	fresh := env.sign(billingRead)
	env.clock.Advance(time.Second)
	if _, err := v.Verify(ctx, fresh); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("the new kid within RefetchAge of the forged one: %v, want ErrUnknownKey (rate-limited)", err)
	}
	env.clock.Advance(9 * time.Second) // the set is now 10 s old
	if _, err := v.Verify(ctx, fresh); err != nil {
		t.Fatalf("the new kid once the set is RefetchAge old, within MinInterval: %v", err)
	}
	if n := js.hits.Load(); n != 3 {
		t.Fatalf("fetches: %d, want 3", n)
	}
	for range 9 { // a flood, one a second
		for range 10 {
			v.Verify(ctx, forged)
		}
		env.clock.Advance(time.Second)
	}
	if n := js.hits.Load(); n != 3 {
		t.Fatalf("fetches after forged kids within RefetchAge: %d, want 3", n)
	}
	env.clock.Advance(time.Second)
	v.Verify(ctx, forged)
	if n := js.hits.Load(); n != 4 {
		t.Fatalf("fetches once the set is RefetchAge old: %d, want 4", n)
	}
}

// forgedToken is a token for env's issuer and audience whose kid no key
// has.
func forgedToken(t *testing.T, env *verifyEnv) string {
	t.Helper()
	other, _ := parsePrivateKey(ecKeyPEM(t))
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, tokenClaims{RegisteredClaims: jwt.RegisteredClaims{Issuer: testIssuer,
		Audience: jwt.ClaimStrings{testAudience}, ExpiresAt: jwt.NewNumericDate(env.clock.Now().Add(time.Hour))}})
	tok.Header["kid"] = "forged-kid"
	s, err := tok.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestJWKSDeclaredAlg: a key whose JWK declares "alg" verifies that
// algorithm alone; one that declares none, any of its type.
func TestJWKSDeclaredAlg(t *testing.T) {
	leakCheck(t)
	_, rsaKey := rsaKeyPEM(t)
	declared, _ := NewJWK("declared", &rsaKey.PublicKey)
	undeclared := declared
	undeclared.Kid, undeclared.Alg = "undeclared", ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(JWKSet{Keys: []JWK{declared, undeclared}})
	}))
	defer srv.Close()
	keys, err := NewRemoteKeys(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	v, _ := NewVerifier(keys, testIssuer, testAudience, nil)
	sign := func(m jwt.SigningMethod, kid string) string {
		tok := jwt.NewWithClaims(m, jwt.RegisteredClaims{Issuer: testIssuer, Audience: jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute))})
		tok.Header["kid"] = kid
		s, _ := tok.SignedString(rsaKey)
		return s
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(jwt.SigningMethodRS256, "declared")); err != nil {
		t.Fatalf("RS256 with a key declared RS256: %v", err)
	}
	if _, err := v.Verify(ctx, sign(jwt.SigningMethodPS256, "declared")); !errors.Is(err, ErrRejected) {
		t.Fatalf("PS256 with a key declared RS256: %v, want ErrRejected", err)
	}
	if _, err := v.Verify(ctx, sign(jwt.SigningMethodPS256, "undeclared")); err != nil {
		t.Fatalf("PS256 with an RSA key that declares nothing: %v", err)
	}
}

// TestStoreKeysStoreErrors: a store that fails is reported as such, not
// as an unknown key.
func TestStoreKeysStoreErrors(t *testing.T) {
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "signing-key", ecKeyPEM(t))
	ctx := context.Background()
	sk := &StoreKeys{Secrets: store, Names: []string{"signing-key"}}
	if _, err := sk.Key(ctx, "nope"); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
	}
	sk = &StoreKeys{Secrets: store, Names: []string{"signing-key", "undeclared"}}
	_, err := sk.Key(ctx, "nope")
	if errors.Is(err, ErrUnknownKey) || !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("with a secret the store cannot serve: %v, want the store's ErrNotFound, not ErrUnknownKey", err)
	}
	if _, err := sk.Key(ctx, "1"); err != nil {
		t.Fatalf("a kid found in the secret that could be read: %v", err)
	}
}

// TestJWKSLookupWaitsWithinItsContext: a lookup that needs a fetch while
// the background fetch hangs at the server (an HTTP client without a
// timeout) gives up with its context; the background fetch ends on its own
// timeout and counts as a failed attempt.
func TestJWKSLookupWaitsWithinItsContext(t *testing.T) {
	leakCheck(t)
	old := backgroundFetchTimeout
	backgroundFetchTimeout = 500 * time.Millisecond
	t.Cleanup(func() { backgroundFetchTimeout = old })
	env := newVerifyEnv(t, ecKeyPEM(t))
	js := newJWKSServer(t, env.issuer)
	hc := &http.Client{} // no timeout of its own
	t.Cleanup(hc.CloseIdleConnections)
	keys := fetchedJWKS(t, js, env, RemoteKeysOptions{HTTPClient: hc})
	ctx := context.Background()
	env.clock.Advance(61 * time.Minute)
	gate := js.block()
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			js.unblock()
		}
	})
	if _, err := keys.Key(ctx, env.kid); err != nil { // starts the background fetch
		t.Fatal(err)
	}
	waitUntil(t, "the background fetch reaches the server", func() bool { return js.hits.Load() == 2 })
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := keys.Key(short, "a-kid-not-in-the-set"); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("lookup behind a hung fetch: %v, want its context's deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a lookup with a 50 ms context still waits for the hung background fetch after 5 s")
	}
	waitUntil(t, "the background fetch times out", func() bool {
		keys.mu.Lock()
		defer keys.mu.Unlock()
		return keys.bgCancel == nil
	})
	keys.mu.Lock()
	tries, lastErr := keys.tries, keys.lastErr
	keys.mu.Unlock()
	if tries != 2 || lastErr == nil {
		t.Fatalf("after the background timeout: %d attempts, last error %v; want 2 and a failure", tries, lastErr)
	}
	if js.hits.Load() != 2 {
		t.Fatalf("JWKS requests: %d, want 2", js.hits.Load())
	}
}
