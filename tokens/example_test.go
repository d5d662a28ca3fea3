package tokens_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
	"github.com/strongroom/strongroom/tokens"
)

var exampleStart = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// A Cache over any Fetcher: here a function standing in for a token
// endpoint, on a virtual clock.
func ExampleCache() {
	ctx := context.Background()
	clock := memory.NewClock(exampleStart)
	calls := 0
	fetch := tokens.FetcherFunc(func(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
		calls++
		return &tokens.Grant{Value: []byte("opaque-token-value"), ExpiresAt: clock.Now().Add(time.Hour)}, nil
	})
	cache, err := tokens.NewCache(fetch, &tokens.CacheOptions{Clock: clock})
	if err != nil {
		panic(err)
	}
	defer cache.Close()

	src := cache.Source(tokens.Request{Scopes: []string{"reports:read"}, Audience: []string{"reports"}})
	for range 3 {
		if _, err := src.Token(ctx); err != nil {
			panic(err)
		}
	}
	tok, _ := src.Token(ctx)
	fmt.Println(tok) // redacted
	fmt.Println("scopes:", tok.Scopes(), "expires:", tok.ExpiresAt().Format(time.Kitchen), "fetches:", calls)
	tok.Use(func(v []byte) error {
		fmt.Println("value length:", len(v))
		return nil
	})
	// Output:
	// token Bearer scopes=[reports:read] audience=[reports] expires=2026-01-01T10:00:00Z [REDACTED]
	// scopes: [reports:read] expires: 10:00AM fetches: 1
	// value length: 18
}

// A JWTIssuer signs tokens with a key in the store; a Verifier checks them.
func ExampleJWTIssuer() {
	ctx := context.Background()
	mem := memory.New(nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	mem.Set("signing-key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	store.Add(secrets.Spec{Name: "signing-key", Ref: "memory://signing-key", Kind: secrets.KindKey})

	issuer, _ := tokens.NewJWTIssuer(store, "signing-key", "https://jobs.example", &tokens.JWTIssuerOptions{Lifetime: 5 * time.Minute})
	verifier, _ := tokens.NewVerifier(issuer, "https://jobs.example", "billing", nil)
	cache, _ := tokens.NewCache(issuer, nil)
	defer cache.Close()

	tok, err := cache.Token(ctx, tokens.Request{Scopes: []string{"invoices:read"}, Audience: []string{"billing"}})
	if err != nil {
		panic(err)
	}
	tok.Use(func(jwt []byte) error {
		claims, err := verifier.Verify(ctx, string(jwt), "invoices:read")
		if err != nil {
			return err
		}
		fmt.Println("issuer:", claims.Issuer, "audience:", claims.Audience, "scopes:", claims.Scopes, "kid:", claims.KeyID, "alg:", claims.Algorithm)
		_, err = verifier.Verify(ctx, string(jwt), "invoices:write")
		fmt.Println(err)
		return nil
	})
	// Output:
	// issuer: https://jobs.example audience: [billing] scopes: [invoices:read] kid: 1 alg: ES256
	// tokens: verify: token rejected: scope: missing scope: invoices:write
}

// Transport sets the Authorization header from a Source.
func ExampleTransport() {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		fmt.Fprint(w, "got a ", scheme, " token")
	}))
	defer api.Close()
	fetch := tokens.FetcherFunc(func(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
		return &tokens.Grant{Value: []byte("opaque-token-value"), ExpiresAt: time.Now().Add(time.Hour)}, nil
	})
	cache, _ := tokens.NewCache(fetch, nil)
	defer cache.Close()

	client := &http.Client{Transport: &tokens.Transport{Source: cache.Source(tokens.Request{Scopes: []string{"read"}})}}
	resp, err := client.Get(api.URL)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	fmt.Fprint(&b, resp.Status)
	body := make([]byte, 64)
	n, _ := resp.Body.Read(body)
	fmt.Println(b.String(), string(body[:n]))
	// Output: 200 OK got a Bearer token
}

// OAuth2TokenSource fits a Source into code written for golang.org/x/oauth2.
func ExampleOAuth2TokenSource() {
	fetch := tokens.FetcherFunc(func(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
		return &tokens.Grant{Value: []byte("opaque-token-value"), ExpiresAt: time.Now().Add(time.Hour)}, nil
	})
	cache, _ := tokens.NewCache(fetch, nil)
	defer cache.Close()
	ts := tokens.OAuth2TokenSource(cache.Source(tokens.Request{}), nil)
	tok, err := ts.Token()
	if err != nil {
		panic(err)
	}
	fmt.Println(tok.TokenType, tok.Valid())
	// Output: Bearer true
}

// A Cache made inside a testing/synctest bubble runs on the bubble's fake
// clock (its default clock, time.Now, is the bubble's), so a test sleeps
// through a token's lifetime in no time; synctest.Wait returns once the
// refresh that came due has run. Close leaves no goroutine behind, which
// synctest.Test checks. (A bubble needs a *testing.T, so this example is a
// test, as testing/synctest's own examples are.)
func TestCache_synctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now() // 2000-01-01 00:00 UTC in every bubble
		var mu sync.Mutex
		var issued []time.Time
		fetch := tokens.FetcherFunc(func(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
			mu.Lock()
			defer mu.Unlock()
			issued = append(issued, time.Now())
			return &tokens.Grant{Value: []byte("opaque-token-value"), ExpiresAt: time.Now().Add(time.Hour)}, nil
		})
		cache, err := tokens.NewCache(fetch, nil)
		if err != nil {
			t.Fatal(err)
		}
		src := cache.Source(tokens.Request{Scopes: []string{"reports:read"}})
		first, err := src.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := start.Add(time.Hour); !first.ExpiresAt().Equal(want) {
			t.Fatalf("expires %s, want %s: not the bubble's clock", first.ExpiresAt(), want)
		}

		time.Sleep(45 * time.Minute)
		synctest.Wait()

		mu.Lock()
		n, refreshed := len(issued), issued[len(issued)-1]
		mu.Unlock()
		// Refreshed after two thirds of the hour, brought forward by at
		// most a tenth of it.
		if n != 2 || refreshed.Before(start.Add(34*time.Minute)) || refreshed.After(start.Add(40*time.Minute)) {
			t.Fatalf("%d fetches, the last %s after the first; want a refresh between 34 and 40 min", n, refreshed.Sub(start))
		}
		tok, err := src.Token(context.Background())
		if err != nil || tok == first {
			t.Fatalf("after 45 min: %v, %v; want the refreshed token", tok, err)
		}
		if err := cache.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// The package overview: a client-credentials client with revocation, a
// cache, and an HTTP client sending the token of one scope and audience.
// It needs an OAuth 2.0 server, so it is compiled, not run; the Hydra
// tests make the same calls against a real one.
func ExampleNewClient() {
	ctx := context.Background()
	store, _ := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": memory.New(nil)}})
	defer store.Close()
	store.Add(secrets.Spec{Name: "oauth-client-secret", Ref: "memory://oauth-client-secret"})

	client, err := tokens.NewClient("https://auth.example/oauth2/token", "batch-job",
		tokens.ClientSecretBasic(store, "oauth-client-secret"),
		&tokens.ClientOptions{RevocationURL: "https://auth.example/oauth2/revoke"})
	if err != nil {
		fmt.Println(err)
		return
	}
	cache, err := tokens.NewCache(client, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close() // revokes the tokens held
	reports := cache.Source(tokens.Request{Scopes: []string{"reports:read"}, Audience: []string{"reports"}})
	httpClient := &http.Client{Transport: &tokens.Transport{Source: reports}}
	resp, err := httpClient.Get("https://reports.example/daily")
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
}
