// Command batchjob is a batch job that calls two internal APIs with
// short-lived, narrowly scoped tokens. Everything runs in this process on
// loopback: an issuer that signs JWTs with a key held in a strongroom
// store and publishes its JWKS, two APIs ("billing" and "reports") that
// verify the tokens against that JWKS, and the job, which gets one token per
// audience from a tokens.Cache. Half way through, the signing key rotates;
// no request fails. It prints each token's scopes, audience, key ID and
// expiry, never its value. See README.md.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
	"github.com/strongroom/strongroom/tokens"
)

const keyName = "jwt-signing-key"

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "batchjob:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	// The store holds the signing key. A real job would read it from a
	// file or a secrets server; the in-memory provider keeps this example
	// self-contained.
	mem := memory.New(nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := newKey()
	if err != nil {
		return err
	}
	mem.Set(keyName, key, nil)
	clear(key)
	// Overlap: the previous key version stays readable for a while after a
	// rotation (the Issuer keeps publishing its public half meanwhile).
	if err := store.Add(secrets.Spec{Name: keyName, Ref: "memory://" + keyName, Kind: secrets.KindKey, Owner: "batch", Overlap: 10 * time.Minute}); err != nil {
		return err
	}
	if err := store.Ready(ctx); err != nil {
		return err
	}

	// The issuer: signs 2-minute tokens, publishes its JWKS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	issuer, err := tokens.NewJWTIssuer(store, keyName, base, &tokens.JWTIssuerOptions{Subject: "batchjob", Lifetime: 2 * time.Minute})
	if err != nil {
		return err
	}
	defer issuer.Close()
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", issuer)

	// The two APIs, each verifying tokens for its own audience against the
	// JWKS URL, as a service in another process would.
	remote, err := tokens.NewRemoteKeys(base+"/.well-known/jwks.json", &tokens.RemoteKeysOptions{MinInterval: time.Second})
	if err != nil {
		return err
	}
	defer remote.Close()
	for _, api := range []struct{ audience, scope string }{{"billing", "invoices:read"}, {"reports", "reports:write"}} {
		v, err := tokens.NewVerifier(remote, base, api.audience, nil)
		if err != nil {
			return err
		}
		mux.Handle("/"+api.audience+"/", v.Require(api.scope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := tokens.ClaimsFrom(r.Context())
			fmt.Fprintf(w, "%s accepted a token from %s signed with key %s", api.audience, c.Subject, c.KeyID)
		})))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	// The job: one cache, one source per audience and scope set.
	cache, err := tokens.NewCache(issuer, nil)
	if err != nil {
		return err
	}
	defer cache.Close()
	billingReq := tokens.Request{Scopes: []string{"invoices:read"}, Audience: []string{"billing"}}
	reportsReq := tokens.Request{Scopes: []string{"reports:write"}, Audience: []string{"reports"}}
	billing := &http.Client{Transport: &tokens.Transport{Source: cache.Source(billingReq)}}
	reports := &http.Client{Transport: &tokens.Transport{Source: cache.Source(reportsReq)}}

	for round := 1; round <= 2; round++ {
		fmt.Printf("== round %d\n", round)
		for _, call := range []struct {
			client *http.Client
			req    tokens.Request
			path   string
		}{{billing, billingReq, "/billing/invoices"}, {reports, reportsReq, "/reports/daily"}} {
			tok, err := cache.Token(ctx, call.req)
			if err != nil {
				return err
			}
			fmt.Printf("token: scopes=%s audience=%s expires in %s (%v)\n",
				strings.Join(tok.Scopes(), ","), strings.Join(tok.Audience(), ","),
				time.Until(tok.ExpiresAt()).Round(time.Second), tok)
			body, err := get(ctx, call.client, base+call.path)
			if err != nil {
				return err
			}
			fmt.Println("  " + body)
		}
		if round == 1 {
			// Rotate the signing key in the store. The Issuer publishes the
			// new version as soon as the store has it, and signs with it from
			// the next token on; the old public key stays in the JWKS for the
			// overlap, so tokens already out keep working. Dropping the cached
			// tokens makes the job use the new key now rather than at the next
			// refresh.
			key, err := newKey()
			if err != nil {
				return err
			}
			mem.Set(keyName, key, nil)
			clear(key)
			if err := store.Refresh(ctx, keyName); err != nil {
				return err
			}
			cache.Drop(ctx, billingReq)
			cache.Drop(ctx, reportsReq)
			if _, err := cache.Token(ctx, billingReq); err != nil { // signed with the new key
				return err
			}
			set, err := issuer.JWKSet(ctx)
			if err != nil {
				return err
			}
			fmt.Printf("== signing key rotated; the JWKS publishes %d keys (new and previous)\n", len(set.Keys))
		}
	}

	// A token for one audience is refused by the other API.
	fmt.Println("== a billing token sent to the reports API")
	resp, err := get(ctx, &http.Client{Transport: &tokens.Transport{Source: cache.Source(billingReq)}}, base+"/reports/daily")
	if err == nil {
		return errors.New("the reports API accepted a billing token: " + resp)
	}
	fmt.Println("  refused:", err)
	return nil
}

// get fetches url and returns the body, or an error for a non-200 answer.
func get(ctx context.Context, c *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return string(b), nil
}

// newKey generates a P-256 signing key in PKCS #8 PEM.
func newKey() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
