package tokens

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/strongroom/strongroom/providers/memory"
)

// tokenServer is a scripted token endpoint that records what it was sent.
type tokenServer struct {
	*httptest.Server
	mu      sync.Mutex
	forms   []url.Values
	headers []http.Header
	answer  func(n int, form url.Values) (status int, header map[string]string, body string)
}

func newTokenServer(t *testing.T, answer func(n int, form url.Values) (int, map[string]string, string)) *tokenServer {
	ts := &tokenServer{answer: answer}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		ts.mu.Lock()
		ts.forms = append(ts.forms, r.PostForm)
		ts.headers = append(ts.headers, r.Header.Clone())
		n := len(ts.forms)
		ts.mu.Unlock()
		status, hdr, body := ts.answer(n, r.PostForm)
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) hits() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.forms)
}

const clientSecret = "cl!ent secret+with&odd=chars"

func okToken(int, url.Values) (int, map[string]string, string) {
	return 200, nil, `{"access_token":"opaque-access-token-value","token_type":"bearer","expires_in":3600,"scope":"read"}`
}

func TestClientAuthForms(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	keyPEM := ecKeyPEM(t)
	addSecret(t, store, mem, "key", keyPEM)
	key, _ := parsePrivateKey(keyPEM)
	ts := newTokenServer(t, okToken)
	req := Request{Scopes: []string{"read", "write"}, Audience: []string{"api"}}
	for i, auth := range []ClientAuth{ClientSecretBasic(store, "secret"), ClientSecretPost(store, "secret"), PrivateKeyJWT(store, "key"), {}} {
		c, err := NewClient(ts.URL+"/token", "my client", auth, &ClientOptions{Params: url.Values{"resource_hint": {"x"}}})
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.Fetch(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", auth.Method, err)
		}
		if string(g.Value) != "opaque-access-token-value" || g.Type != "bearer" || strings.Join(g.Scopes, " ") != "read" {
			t.Fatalf("%s: grant %+v", auth.Method, g)
		}
		form, hdr := ts.forms[i], ts.headers[i]
		if form.Get("grant_type") != "client_credentials" || form.Get("scope") != "read write" || form.Get("audience") != "api" || form.Get("resource_hint") != "x" {
			t.Errorf("%s: form %v", auth.Method, form)
		}
		switch auth.Method {
		case AuthSecretBasic:
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(hdr.Get("Authorization"), "Basic "))
			id, secret, _ := strings.Cut(string(raw), ":")
			id, _ = url.QueryUnescape(id)
			secret, _ = url.QueryUnescape(secret)
			if id != "my client" || secret != clientSecret || form.Has("client_secret") {
				t.Errorf("basic: id %q secret %q form %v", id, secret, form)
			}
		case AuthSecretPost:
			if form.Get("client_id") != "my client" || form.Get("client_secret") != clientSecret || hdr.Get("Authorization") != "" {
				t.Errorf("post: form %v", form)
			}
		case AuthPrivateKeyJWT:
			if form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
				t.Errorf("jwt: form %v", form)
			}
			var claims jwt.RegisteredClaims
			tok, err := jwt.ParseWithClaims(form.Get("client_assertion"), &claims, func(*jwt.Token) (any, error) { return key.Public(), nil },
				jwt.WithValidMethods([]string{"ES256"}), jwt.WithAudience(ts.URL+"/token"), jwt.WithIssuer("my client"), jwt.WithSubject("my client"))
			if err != nil || tok.Header["kid"] != "1" || claims.ID == "" || claims.ExpiresAt == nil {
				t.Errorf("jwt: assertion %v, %v", err, tok)
			}
		case AuthNone:
			if form.Get("client_id") != "my client" || form.Has("client_secret") || hdr.Get("Authorization") != "" {
				t.Errorf("none: form %v", form)
			}
		}
	}
}

func TestClientErrorFields(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	ts := newTokenServer(t, func(int, url.Values) (int, map[string]string, string) {
		return 401, nil, `{"error":"invalid_client","error_description":"secret ` + clientSecret + ` is wrong\nFAKE LOG LINE","error_uri":"https://docs.test/errors#invalid_client"}`
	})
	c, _ := NewClient(ts.URL, "id", ClientSecretPost(store, "secret"), nil)
	t.Cleanup(func() { c.Close() })
	_, err := c.Fetch(context.Background(), Request{})
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" || oe.StatusCode != 401 {
		t.Fatalf("%v", err)
	}
	if strings.Contains(err.Error(), clientSecret) || strings.Contains(oe.Description, clientSecret) {
		t.Fatalf("the error quotes the client secret: %v", err)
	}
	ts2 := newTokenServer(t, func(int, url.Values) (int, map[string]string, string) {
		return 400, nil, `{"error":"invalid_scope","error_description":"no\nsuch scope","error_uri":"https://docs.test/e"}`
	})
	c2, _ := NewClient(ts2.URL, "id", ClientSecretPost(store, "secret"), nil)
	t.Cleanup(func() { c2.Close() })
	_, err = c2.Fetch(context.Background(), Request{Scopes: []string{"nope"}})
	if !errors.As(err, &oe) || oe.Description != "no?such scope" || oe.URI != "https://docs.test/e" {
		t.Fatalf("%#v", oe)
	}
	if want := "tokens: token endpoint: invalid_scope: no?such scope (see https://docs.test/e) (HTTP 400)"; oe.Error() != want {
		t.Errorf("message %q, want %q", oe.Error(), want)
	}
}

// TestErrorDescriptionQuotingCredential: an error description that quotes
// a credential sent, in any form it was sent in, is withheld whole, even
// when the quote crosses the cut at 300 bytes or holds a byte that
// printable replaces.
func TestErrorDescriptionQuotingCredential(t *testing.T) {
	leakCheck(t)
	for _, tc := range []struct {
		name   string
		secret string
		auth   func(s Secrets, name string) ClientAuth
		echo   func(form url.Values, h http.Header) string // what the server quotes
	}{
		{"post, across the cut", clientSecret, ClientSecretPost,
			func(f url.Values, _ http.Header) string {
				return strings.Repeat("x", 280) + " got " + f.Get("client_secret")
			}},
		{"post, unprintable byte", "s3cret\x01with-a-control-byte", ClientSecretPost,
			func(f url.Values, _ http.Header) string { return "got " + f.Get("client_secret") }},
		{"post, form-encoded", clientSecret, ClientSecretPost,
			func(url.Values, http.Header) string { return "body had client_secret=" + url.QueryEscape(clientSecret) }},
		{"basic, Authorization echoed", clientSecret, ClientSecretBasic,
			func(_ url.Values, h http.Header) string { return "bad header: " + h.Get("Authorization") }},
		{"basic, across the cut", clientSecret, ClientSecretBasic,
			func(_ url.Values, h http.Header) string { return strings.Repeat("y", 290) + h.Get("Authorization") }},
		{"basic, form-encoded part", clientSecret, ClientSecretBasic,
			func(url.Values, http.Header) string { return "id:" + url.QueryEscape(clientSecret) + " is wrong" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := tc.secret
			store, mem := newStore(t, nil)
			addSecret(t, store, mem, "secret", []byte(secret))
			var ts *tokenServer
			ts = newTokenServer(t, func(n int, f url.Values) (int, map[string]string, string) {
				ts.mu.Lock()
				h := ts.headers[n-1]
				ts.mu.Unlock()
				desc, _ := json.Marshal(tc.echo(f, h))
				return 401, nil, `{"error":"invalid_client","error_description":` + string(desc) + `}`
			})
			c, err := NewClient(ts.URL, "id", tc.auth(store, "secret"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			_, err = c.Fetch(context.Background(), Request{})
			var oe *OAuthError
			if !errors.As(err, &oe) || oe.Code != "invalid_client" {
				t.Fatalf("%v, want an invalid_client OAuthError", err)
			}
			if oe.Description != withheldDescription {
				t.Errorf("description %q, want it withheld", oe.Description)
			}
			basic := base64.StdEncoding.EncodeToString([]byte("id:" + url.QueryEscape(secret)))
			for _, cred := range []string{secret, url.QueryEscape(secret), basic} {
				if strings.Contains(err.Error(), cred[:8]) {
					t.Errorf("the error quotes the start of a credential (%q): %v", cred[:8], err)
				}
			}
		})
	}
}

func TestClientRetries(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	// 5xx without Retry-After: retried within the request.
	ts := newTokenServer(t, func(n int, f url.Values) (int, map[string]string, string) {
		if n < 3 {
			return 502, nil, ``
		}
		return okToken(n, f)
	})
	c, _ := NewClient(ts.URL, "id", ClientSecretBasic(store, "secret"), &ClientOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	t.Cleanup(func() { c.Close() })
	if _, err := c.Fetch(context.Background(), Request{}); err != nil || ts.hits() != 3 {
		t.Fatalf("after two 502s: %v, %d requests", err, ts.hits())
	}
	// 429 with Retry-After: returned at once for the Cache to wait out.
	ts2 := newTokenServer(t, func(int, url.Values) (int, map[string]string, string) {
		return 429, map[string]string{"Retry-After": "7"}, `{"error":"slow_down"}`
	})
	c2, _ := NewClient(ts2.URL, "id", ClientSecretBasic(store, "secret"), nil)
	t.Cleanup(func() { c2.Close() })
	_, err := c2.Fetch(context.Background(), Request{})
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.RetryAfter != 7*time.Second || ts2.hits() != 1 {
		t.Fatalf("429: %v (%d requests)", err, ts2.hits())
	}
}

func TestRefreshTokenGrant(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	addSecret(t, store, mem, "refresh", []byte("refresh-token-1"))
	ts := newTokenServer(t, func(n int, f url.Values) (int, map[string]string, string) {
		want := "refresh-token-" + string(rune('0'+n))
		if f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != want {
			return 400, nil, `{"error":"invalid_grant"}`
		}
		return 200, nil, `{"access_token":"at-` + string(rune('0'+n)) + `","token_type":"Bearer","expires_in":60,"refresh_token":"refresh-token-` + string(rune('1'+n)) + `"}`
	})
	var mu sync.Mutex
	var persisted []string
	c, err := NewClient(ts.URL, "id", ClientSecretBasic(store, "secret"), &ClientOptions{
		RefreshToken: "refresh",
		OnRefreshToken: func(ctx context.Context, rt []byte) error {
			mu.Lock()
			persisted = append(persisted, string(rt))
			mu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 1; i <= 3; i++ {
		g, err := c.Fetch(context.Background(), Request{})
		if err != nil {
			t.Fatalf("refresh %d: %v", i, err)
		}
		if string(g.Value) != "at-"+string(rune('0'+i)) {
			t.Fatalf("refresh %d: access token %q", i, g.Value)
		}
	}
	if strings.Join(persisted, ",") != "refresh-token-2,refresh-token-3,refresh-token-4" {
		t.Fatalf("OnRefreshToken got %q", persisted)
	}
	c.Close()
	if _, err := c.Fetch(context.Background(), Request{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestRevokeRequest(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	ts := newTokenServer(t, okToken)
	rev := newTokenServer(t, func(int, url.Values) (int, map[string]string, string) { return 200, nil, `` })
	c, _ := NewClient(ts.URL, "id", ClientSecretPost(store, "secret"), &ClientOptions{RevocationURL: rev.URL, Clock: clock})
	t.Cleanup(func() { c.Close() })
	cache := newTestCache(t, c, clock, nil)
	if _, err := cache.Token(context.Background(), readReq); err != nil {
		t.Fatal(err)
	}
	if err := cache.Drop(context.Background(), readReq); err != nil {
		t.Fatal(err)
	}
	f := rev.forms[0]
	if f.Get("token") != "opaque-access-token-value" || f.Get("token_type_hint") != "access_token" || f.Get("client_secret") != clientSecret {
		t.Fatalf("revocation form %v", f)
	}
}

func TestParseTokenResponse(t *testing.T) {
	now := epoch
	for _, tc := range []struct {
		body    string
		ok      bool
		life    time.Duration
		scopes  string
		refresh string
	}{
		{`{"access_token":"a","token_type":"Bearer","expires_in":60}`, true, time.Minute, "", ""},
		{`{"access_token":"a","token_type":"Bearer","expires_in":"60"}`, true, time.Minute, "", ""},
		{`{"access_token":"a\u0062","token_type":"Bearer","scope":"x y","refresh_token":"r"}`, true, 0, "x y", "r"},
		{`{"access_token":"","token_type":"Bearer"}`, false, 0, "", ""},
		{`{"access_token":42}`, false, 0, "", ""},
		{`{"access_token":"a","expires_in":-5}`, false, 0, "", ""},
		{`{"access_token":"a","refresh_token":7}`, false, 0, "", ""},
		{`not json`, false, 0, "", ""},
		// A refused answer still hands on the refresh token it rotated in:
		// the server has spent the one sent.
		{`{"access_token":"a","expires_in":0,"refresh_token":"r2"}`, false, 0, "", "r2"},
		{`{"access_token":"a","expires_in":"soon","refresh_token":"r2"}`, false, 0, "", "r2"},
		{`{"token_type":"Bearer","refresh_token":"r2"}`, false, 0, "", "r2"},
	} {
		g, rt, err := parseTokenResponse(200, http.Header{}, []byte(tc.body), now)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.body, err)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) || g != nil || string(rt) != tc.refresh {
				t.Errorf("%s: %v, grant %v, refresh %q; want ErrInvalid, no grant, refresh %q", tc.body, err, g, rt, tc.refresh)
			}
			continue
		}
		if tc.life > 0 && g.ExpiresAt.Sub(now) != tc.life || strings.Join(g.Scopes, " ") != tc.scopes || string(rt) != tc.refresh {
			t.Errorf("%s: %+v, refresh %q", tc.body, g, rt)
		}
	}
	if d := parseRetryAfter(epoch.Add(90*time.Second).Format(http.TimeFormat), epoch); d != 90*time.Second {
		t.Errorf("Retry-After as a date: %s", d)
	}
}

// TestNoSecretInOutput: a token's value, the client secret and the refresh
// token never reach fmt, slog, JSON, text, errors or logs.
func TestNoSecretInOutput(t *testing.T) {
	leakCheck(t)
	const value = "VALUE-0f-the-acc3ss-t0ken"
	clock := memory.NewClock(epoch)
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	fail := true
	var mu sync.Mutex
	ts := newTokenServer(t, func(int, url.Values) (int, map[string]string, string) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return 401, nil, `{"error":"invalid_client","error_description":"got ` + clientSecret + `"}`
		}
		return 200, nil, `{"access_token":"` + value + `","token_type":"Bearer","expires_in":60}`
	})
	c, _ := NewClient(ts.URL, "id", ClientSecretPost(store, "secret"), &ClientOptions{Logger: logger, Clock: clock})
	t.Cleanup(func() { c.Close() })
	cache := newTestCache(t, c, clock, &CacheOptions{Logger: logger})
	_, ferr := cache.Token(context.Background(), readReq)
	if ferr == nil {
		t.Fatal("want a failure")
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	clock.Advance(time.Second) // past the backoff: the retry succeeds
	idle(t, cache, readReq)
	tok, err := cache.Token(context.Background(), readReq)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T"} {
		out.WriteString(sprintf(verb, tok) + "\n")
	}
	j, _ := json.Marshal(map[string]any{"token": tok})
	out.Write(j)
	txt, _ := tok.MarshalText()
	out.Write(txt)
	logger.Info("token", "token", tok)
	logger.Info("error", "error", ferr)
	out.WriteString(ferr.Error())
	out.Write(logs.Bytes())
	for _, secret := range []string{value, clientSecret, base64.StdEncoding.EncodeToString([]byte(value))} {
		if strings.Contains(out.String(), secret) {
			t.Fatalf("output contains a secret %q:\n%s", secret, out.String())
		}
	}
	hexValue := strings.ToLower(sprintf("%x", []byte(value)))
	if strings.Contains(strings.ToLower(out.String()), hexValue) {
		t.Fatal("output contains the value in hex")
	}
	if !strings.Contains(out.String(), "[REDACTED]") {
		t.Fatal("no redaction marker in the output")
	}
}
