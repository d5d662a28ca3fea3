//go:build linux

package tokens_test

import (
	"context"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/internal/memscan"
	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/tokens"
)

// These tests search the process's own memory (internal/memscan) for every
// access and refresh token a Client and Cache obtained from a real Ory
// Hydra, over plain HTTP on loopback, once the Cache and the Client are
// closed. The test learns each token inside Token.Use (or OnRefreshToken)
// and keeps it only masked, so that any copy found in clear is one the
// package, the HTTP stack or the Go runtime left behind. They skip when
// Hydra is not built, like every Hydra test.

// seen records tokens, masked, as the test learns them.
type seen struct {
	base *memscan.Marker
	mu   sync.Mutex
	list []*memscan.Marker
	what []string
}

func newSeen() *seen { return &seen{base: memscan.NewMarker(1)} }

func (s *seen) add(what string, v []byte) {
	m := s.base.From(v)
	s.mu.Lock()
	s.list = append(s.list, m)
	s.what = append(s.what, what)
	s.mu.Unlock()
}

// use records tok's value, masked, from inside Use.
func (s *seen) use(t *testing.T, what string, tok *tokens.Token) {
	t.Helper()
	if err := tok.Use(func(v []byte) error { s.add(what, v); return nil }); err != nil {
		t.Fatal(err)
	}
}

// check fails the test for every copy of a recorded token in memory.
func (s *seen) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	copies := 0
	for i, m := range s.list {
		found, err := m.Find()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range found {
			t.Errorf("%s: a copy at %s", s.what[i], f)
		}
		if len(found) > 0 {
			copies++
		}
	}
	if copies > 0 {
		t.Errorf("%d of %d tokens left a copy in memory", copies, len(s.list))
	}
	t.Logf("searched memory for %d tokens", len(s.list))
}

// TestHydraNoAccessTokenLeftInMemory: client credentials grants, each
// token used, some dropped (revoked), the rest revoked by Close.
func TestHydraNoAccessTokenLeftInMemory(t *testing.T) {
	e := newHydraEnv(t, nil)
	const secret = "memscan-client-secret-0123456789"
	e.put(t, "secret", []byte(secret))
	e.h.CreateClient(testservers.Client{ClientID: "memscan", ClientSecret: secret,
		GrantTypes: []string{"client_credentials"}, Scope: "read write", Audience: []string{"api", "other"},
		TokenEndpointAuthMethod: "client_secret_basic"})
	client, err := tokens.NewClient(e.h.TokenURL(), "memscan", tokens.ClientSecretBasic(e.store, "secret"),
		&tokens.ClientOptions{RevocationURL: e.h.RevocationURL()})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := tokens.NewCache(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := newSeen()
	reqs := []tokens.Request{
		{Scopes: []string{"read"}}, {Scopes: []string{"write"}}, {Scopes: []string{"read", "write"}},
		{Scopes: []string{"read"}, Audience: []string{"api"}}, {Audience: []string{"other"}},
	}
	for round := range 4 {
		for i, req := range reqs {
			tok, err := cache.Token(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			s.use(t, "access token", tok)
			if err := tok.Use(func([]byte) error { return nil }); err != nil { // a second Use of the same token
				t.Fatal(err)
			}
			if (round+i)%2 == 0 {
				if err := cache.Drop(ctx, req); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := cache.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	s.check(t)
}

// TestHydraNoRefreshTokenLeftInMemory: refresh token grants against
// Hydra, which rotates the refresh token on each: no access token and no
// rotated refresh token (the last one was held by the Client until Close)
// is left in memory.
func TestHydraNoRefreshTokenLeftInMemory(t *testing.T) {
	e := newHydraEnv(t, nil)
	const secret = "memscan-refresh-secret-0123456789"
	redirect := "http://127.0.0.1:9/callback"
	e.h.CreateClient(testservers.Client{ClientID: "memscan-app", ClientSecret: secret,
		GrantTypes: []string{"authorization_code", "refresh_token"}, ResponseTypes: []string{"code"},
		RedirectURIs: []string{redirect}, Scope: "offline_access read", TokenEndpointAuthMethod: "client_secret_basic"})
	first := e.h.RefreshToken("memscan-app", secret, redirect, []string{"offline_access", "read"})
	e.put(t, "secret", []byte(secret))
	e.put(t, "refresh-token", []byte(first)) // spent by the first grant; not searched for
	s := newSeen()
	client, err := tokens.NewClient(e.h.TokenURL(), "memscan-app", tokens.ClientSecretBasic(e.store, "secret"), &tokens.ClientOptions{
		RefreshToken: "refresh-token",
		OnRefreshToken: func(_ context.Context, rt []byte) error {
			s.add("rotated refresh token", rt)
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cache, err := tokens.NewCache(client, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := tokens.Request{Scopes: []string{"read"}}
	for range 8 {
		tok, err := cache.Token(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		s.use(t, "access token", tok)
		if err := cache.Drop(ctx, req); err != nil { // not revoked: no RevocationURL
			t.Fatal(err)
		}
	}
	if err := cache.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(s.what); n != 16 {
		t.Fatalf("recorded %d tokens, want 8 access and 8 rotated refresh tokens", n)
	}
	s.check(t)
}
