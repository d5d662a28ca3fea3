package tokens_test

import (
	"context"
	"crypto"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
	"github.com/strongroom/strongroom/tokens"
)

// unwatched is the memory provider without its Watch method: the store
// then fetches only when asked (Refresh), so a test can hold a new value at
// the backend that the store has not picked up, the moment between the
// server changing and the store refreshing.
type unwatched struct{ p *memory.Provider }

func (u unwatched) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	return u.p.Fetch(ctx, ref)
}

func (u unwatched) Close() error { return u.p.Close() }

// getOnly hides every method of a Secrets but Get (as a *secrets.View, or
// a program's own implementation, has no Refresh).
type getOnly struct{ s tokens.Secrets }

func (g getOnly) Get(ctx context.Context, name string) (*secrets.Secret, error) {
	return g.s.Get(ctx, name)
}

// countingTransport counts the requests that reach the token endpoint.
type countingTransport struct {
	base  http.RoundTripper
	token atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/oauth2/token" {
		c.token.Add(1)
	}
	return c.base.RoundTrip(r)
}

// TestHydraInvalidClientRefreshesSecret rotates a client secret in place
// at Hydra (JSON Patch of /client_secret through the admin API) and at the
// store's backend, but not in the store: the refused Fetch refreshes the
// store and succeeds on its second request. Then the backend lags behind
// Hydra: with the same version the Fetch fails after one request; with a
// new version holding a secret Hydra refuses too, after exactly two
// (never a loop). No error quotes a secret.
func TestHydraInvalidClientRefreshesSecret(t *testing.T) {
	h := testservers.StartHydra(t, nil)
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			ctx := context.Background()
			mem := memory.New(nil)
			store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": unwatched{mem}}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { store.Close() })
			clientID := "invalid-client-" + method
			s1 := []byte("first-secret-of-" + method + "-0123456789")
			s2 := []byte("second-secret-of-" + method + "-abcdefghij")
			s3 := []byte("third-secret-of-" + method + "-ABCDEFGHIJ")
			v1 := mem.Set("secret", s1, nil)
			if err := store.Add(secrets.Spec{Name: "secret", Ref: "memory://secret", Overlap: time.Minute}); err != nil {
				t.Fatal(err)
			}
			if err := store.Ready(ctx); err != nil {
				t.Fatal(err)
			}
			h.CreateClient(testservers.Client{ClientID: clientID, ClientSecret: string(s1),
				GrantTypes: []string{"client_credentials"}, Scope: "read", TokenEndpointAuthMethod: method})

			auth := tokens.ClientSecretBasic(store, "secret")
			if method == "client_secret_post" {
				auth = tokens.ClientSecretPost(store, "secret")
			}
			counter := &countingTransport{base: http.DefaultTransport}
			client, err := tokens.NewClient(h.TokenURL(), clientID, auth, &tokens.ClientOptions{HTTPClient: &http.Client{Transport: counter, Timeout: 30 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Close() })
			req := tokens.Request{Scopes: []string{"read"}}
			version := func() string {
				t.Helper()
				sec, err := store.Get(ctx, "secret")
				if err != nil {
					t.Fatal(err)
				}
				return sec.Version()
			}
			// fetch runs one Fetch and returns how many token requests it
			// made, how many store fetches it caused, and its error.
			fetch := func() (requests int64, refreshes int, err error) {
				t.Helper()
				counter.token.Store(0)
				before := mem.Fetches("secret")
				g, err := client.Fetch(ctx, req)
				if err == nil {
					if active, _ := h.Introspect(string(g.Value)); !active {
						t.Error("Hydra says the token is not active")
					}
					clear(g.Value)
				}
				return counter.token.Load(), mem.Fetches("secret") - before, err
			}
			noSecret := func(err error) {
				t.Helper()
				out := redacttest.Render(err)
				for _, s := range [][]byte{s1, s2, s3} {
					if f := redacttest.Find(out, redacttest.Forms(s)); f != "" {
						t.Fatalf("the error shows a client secret (%q):\n%s", f, out)
					}
				}
			}
			refused := func(err error) {
				t.Helper()
				var oe *tokens.OAuthError
				if !errors.As(err, &oe) || oe.Code != "invalid_client" {
					t.Fatalf("%v; want an invalid_client OAuthError", err)
				}
				noSecret(err)
			}

			if n, _, err := fetch(); err != nil || n != 1 {
				t.Fatalf("before rotation: %v after %d requests; want a token after 1", err, n)
			}

			// Rotated in place: Hydra and the backend have s2, the store
			// still serves s1.
			h.Patch(clientID, []map[string]any{{"op": "replace", "path": "/client_secret", "value": string(s2)}})
			v2 := mem.Set("secret", s2, nil)
			if got := version(); got != v1 {
				t.Fatalf("the store serves version %q before the Fetch; want %q (not refreshed yet)", got, v1)
			}
			n, refreshes, err := fetch()
			if err != nil {
				t.Fatalf("after an in-place rotation: %v after %d requests; want a token", err, n)
			}
			if n != 2 || refreshes != 1 {
				t.Fatalf("after an in-place rotation: %d token requests, %d store fetches; want 2 and 1", n, refreshes)
			}
			if got := version(); got != v2 {
				t.Fatalf("the store serves version %q; want %q", got, v2)
			}
			t.Logf("in-place rotation: a token after %d token requests and %d store refresh", n, refreshes)

			// The backend lags: Hydra has s3, the backend still s2.
			h.Patch(clientID, []map[string]any{{"op": "replace", "path": "/client_secret", "value": string(s3)}})
			n, refreshes, err = fetch()
			refused(err)
			if n != 1 || refreshes != 1 {
				t.Fatalf("backend unchanged: %d token requests, %d store fetches; want 1 and 1 (no retry on the same version)", n, refreshes)
			}
			t.Logf("backend unchanged: refused after %d token request: %v", n, err)

			// The backend has a new version that still holds s2: the
			// version changed, so one retry, which is refused too: then the
			// error, not a third request.
			v3 := mem.Set("secret", s2, nil)
			n, refreshes, err = fetch()
			refused(err)
			if n != 2 || refreshes != 1 {
				t.Fatalf("a new version with the old secret: %d token requests, %d store fetches; want 2 and 1", n, refreshes)
			}
			if got := version(); got != v3 {
				t.Fatalf("the store serves version %q; want %q", got, v3)
			}
			t.Logf("a new version of the old secret: refused after %d token requests: %v", n, err)

			// Once the backend catches up, the next Fetch succeeds.
			mem.Set("secret", s3, nil)
			if n, _, err := fetch(); err != nil || n != 2 {
				t.Fatalf("backend caught up: %v after %d requests; want a token after 2", err, n)
			}
		})
	}
}

// TestHydraInvalidClientWithoutRefresh: a Secrets without Refresh (Get
// alone) is not refreshed; the Client compares the version the store
// already holds, finds it unchanged, and returns the error after one
// request.
func TestHydraInvalidClientWithoutRefresh(t *testing.T) {
	h := testservers.StartHydra(t, nil)
	ctx := context.Background()
	mem := memory.New(nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": unwatched{mem}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	s1, s2 := []byte("get-only-secret-one-0123456789"), []byte("get-only-secret-two-abcdefghij")
	mem.Set("secret", s1, nil)
	if err := store.Add(secrets.Spec{Name: "secret", Ref: "memory://secret"}); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	h.CreateClient(testservers.Client{ClientID: "get-only", ClientSecret: string(s1),
		GrantTypes: []string{"client_credentials"}, Scope: "read", TokenEndpointAuthMethod: "client_secret_basic"})
	counter := &countingTransport{base: http.DefaultTransport}
	client, err := tokens.NewClient(h.TokenURL(), "get-only", tokens.ClientSecretBasic(getOnly{store}, "secret"),
		&tokens.ClientOptions{HTTPClient: &http.Client{Transport: counter, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	h.Patch("get-only", []map[string]any{{"op": "replace", "path": "/client_secret", "value": string(s2)}})
	mem.Set("secret", s2, nil)
	before := mem.Fetches("secret")
	_, err = client.Fetch(ctx, tokens.Request{Scopes: []string{"read"}})
	var oe *tokens.OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Fatalf("%v; want an invalid_client OAuthError", err)
	}
	if n, f := counter.token.Load(), mem.Fetches("secret")-before; n != 1 || f != 0 {
		t.Fatalf("%d token requests, %d store fetches; want 1 and 0", n, f)
	}
}

// TestHydraInvalidClientRefreshesKey: the same for private_key_jwt, with
// one kid for every key (ClientOptions.KeyID), so that the key is replaced
// in place: Hydra is given the new public key alone, the backend the new
// private key; the store, still on the old key, is refreshed by the
// refused Fetch, whose second request succeeds. (With the default kid, the
// store's version, Hydra answers an unknown kid with invalid_request, not
// invalid_client: no retry.)
func TestHydraInvalidClientRefreshesKey(t *testing.T) {
	h := testservers.StartHydra(t, nil)
	ctx := context.Background()
	mem := memory.New(nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": unwatched{mem}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key1, pub1 := ecKey(t)
	kid1 := mem.Set("key", key1, nil)
	if err := store.Add(secrets.Spec{Name: "key", Ref: "memory://key", Overlap: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	h.CreateClient(testservers.Client{ClientID: "pkj-refresh", GrantTypes: []string{"client_credentials"}, Scope: "read",
		TokenEndpointAuthMethod: "private_key_jwt", TokenEndpointAuthAlg: "ES256",
		JWKS: jwks(t, []string{"client-key"}, []crypto.PublicKey{pub1})})
	counter := &countingTransport{base: http.DefaultTransport}
	client, err := tokens.NewClient(h.TokenURL(), "pkj-refresh", tokens.PrivateKeyJWT(store, "key"),
		&tokens.ClientOptions{HTTPClient: &http.Client{Transport: counter, Timeout: 30 * time.Second},
			KeyID: func(string, crypto.PublicKey) string { return "client-key" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	key2, pub2 := ecKey(t)
	kid2 := mem.Set("key", key2, nil)
	h.Patch("pkj-refresh", []map[string]any{{"op": "replace", "path": "/jwks", "value": jwks(t, []string{"client-key"}, []crypto.PublicKey{pub2})}})
	g, err := client.Fetch(ctx, tokens.Request{Scopes: []string{"read"}})
	if err != nil {
		t.Fatalf("%v after %d token requests; want a token", err, counter.token.Load())
	}
	clear(g.Value)
	if n := counter.token.Load(); n != 2 {
		t.Fatalf("%d token requests; want 2 (refused with key version %s, then version %s)", n, kid1, kid2)
	}
}
