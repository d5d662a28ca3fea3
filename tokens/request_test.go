package tokens

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// countingSecrets counts the Get calls made through it.
type countingSecrets struct {
	s    Secrets
	gets atomic.Int64
}

func (c *countingSecrets) Get(ctx context.Context, name string) (*secrets.Secret, error) {
	c.gets.Add(1)
	return c.s.Get(ctx, name)
}

// TestAssertionOncePerAttempt: a private_key_jwt request reads the key and
// signs once per attempt, and a retry whose assertion changed length (the
// key rotated, and its kid is longer) is sent with a matching
// Content-Length and a fresh jti.
func TestAssertionOncePerAttempt(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "key", ecKeyPEM(t))
	var mu sync.Mutex
	var kids, jtis []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil || int64(len(body)) != r.ContentLength {
			t.Errorf("body of %d bytes (%v), Content-Length %d", len(body), err, r.ContentLength)
		}
		form, _ := url.ParseQuery(string(body))
		var claims jwt.RegisteredClaims
		tok, _, err := jwt.NewParser().ParseUnverified(form.Get("client_assertion"), &claims)
		if err != nil {
			t.Errorf("assertion: %v", err)
			return
		}
		mu.Lock()
		kids = append(kids, tok.Header["kid"].(string))
		jtis = append(jtis, claims.ID)
		n := len(kids)
		mu.Unlock()
		if n == 1 {
			rotate(t, store, mem, "key", ecKeyPEM(t)) // before the retry
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		io.WriteString(w, `{"access_token":"x","token_type":"bearer","expires_in":60}`)
	}))
	defer srv.Close()
	cs := &countingSecrets{s: store}
	keyID := func(version string, _ crypto.PublicKey) string {
		if version == "1" {
			return "k"
		}
		return "a-much-longer-key-id-" + version
	}
	c, err := NewClient(srv.URL, "id", PrivateKeyJWT(cs, "key"), &ClientOptions{KeyID: keyID,
		RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Fetch(context.Background(), Request{}); err != nil {
		t.Fatal(err)
	}
	if len(kids) != 2 || kids[0] != "k" || kids[1] != "a-much-longer-key-id-2" || jtis[0] == jtis[1] {
		t.Fatalf("attempts sent kids %q, jtis %q; want k then the rotated key's, fresh jtis", kids, jtis)
	}
	if n := cs.gets.Load(); n != 2 {
		t.Fatalf("key reads for 2 attempts: %d, want 2 (one signature per attempt)", n)
	}
}

// TestURLCredentialsRefused: URLs with user information are refused, and
// no error quotes the user information.
func TestURLCredentialsRefused(t *testing.T) {
	leakCheck(t)
	for _, raw := range []string{
		"https://batch:s3cr3t-pass@auth.example/token",
		"https://s3cr3t-pass@auth.example/token",     // an API key as the user name
		"https://batch:s3cr3t-pass@auth.example/%zz", // does not parse
	} {
		_, err := NewClient(raw, "id", ClientAuth{}, nil)
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "s3cr3t-pass") {
			t.Errorf("NewClient(%q): %v", raw, err)
		}
		_, err = NewClient("https://auth.example/token", "id", ClientAuth{}, &ClientOptions{RevocationURL: raw})
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "s3cr3t-pass") {
			t.Errorf("NewClient(RevocationURL %q): %v", raw, err)
		}
		_, err = NewRemoteKeys(raw, nil)
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), "s3cr3t-pass") {
			t.Errorf("NewRemoteKeys(%q): %v", raw, err)
		}
	}
	if _, err := NewRemoteKeys("ftp://keys.example/jwks", nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("ftp JWKS URL: %v", err)
	}
}

// TestAudienceParam: "resource" (RFC 8707) is repeated, one per audience;
// other parameters carry one space-separated value.
func TestAudienceParam(t *testing.T) {
	leakCheck(t)
	ts := newTokenServer(t, okToken)
	req := Request{Audience: []string{"https://a.example", "https://b.example"}}
	for _, param := range []string{"", "resource"} {
		c, err := NewClient(ts.URL, "id", ClientAuth{}, &ClientOptions{AudienceParam: param})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if got := ts.forms[0]["audience"]; len(got) != 1 || got[0] != "https://a.example https://b.example" {
		t.Errorf("audience: %q", got)
	}
	if got := ts.forms[1]["resource"]; len(got) != 2 || got[0] != "https://a.example" || got[1] != "https://b.example" {
		t.Errorf("resource: %q, want one parameter per audience", got)
	}
}

// TestUseSecretRetriesOnlyWipedHandles: useSecret tries again only when
// the handle's own version was wiped, never for an error of fn's own,
// whatever it wraps.
func TestUseSecretRetriesOnlyWipedHandles(t *testing.T) {
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "s", []byte("v"))
	calls := 0
	err := useSecret(context.Background(), store, "s", func(string, []byte) error {
		calls++
		return fmt.Errorf("parsing: %w", secrets.ErrDestroyed)
	})
	if calls != 1 || !errors.Is(err, secrets.ErrDestroyed) {
		t.Fatalf("fn called %d times (%v), want once", calls, err)
	}
	// A handle whose version is wiped between Get and Use: one more try,
	// with a fresh handle.
	mem.Set("w", []byte("v1"), nil)
	if err := store.Add(secrets.Spec{Name: "w", Ref: "memory://w", Overlap: -1}); err != nil {
		t.Fatal(err)
	}
	store.Ready(context.Background())
	stale, _ := store.Get(context.Background(), "w")
	rotate(t, store, mem, "w", []byte("v2"))
	if err := stale.Use(func([]byte) error { return nil }); !errors.Is(err, secrets.ErrDestroyed) {
		t.Skipf("the store kept the previous version (%v): nothing to test", err)
	}
	var got string
	err = useHandle(context.Background(), store, "w", stale, func(_ string, v []byte) error { got = string(v); return nil })
	if err != nil || got != "v2" {
		t.Fatalf("from a wiped handle: %q, %v; want v2", got, err)
	}
}

// TestOAuth2OneStringPerToken: the oauth2 adapter makes one string per
// token, not one per call.
func TestOAuth2OneStringPerToken(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	c := newTestCache(t, up, clock, nil)
	ts := OAuth2TokenSource(c.Source(readReq), nil)
	a, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	b, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a.AccessToken != "secret-token-value-1" || unsafe.StringData(a.AccessToken) != unsafe.StringData(b.AccessToken) {
		t.Fatalf("two calls for one token: distinct copies %v, one shared string %v", a != b, unsafe.StringData(a.AccessToken) == unsafe.StringData(b.AccessToken))
	}
	clock.Advance(40 * time.Minute)
	idle(t, c, readReq)
	d, err := ts.Token()
	if err != nil || d.AccessToken != "secret-token-value-2" {
		t.Fatalf("after a refresh: %v, %v", d, err)
	}
}
