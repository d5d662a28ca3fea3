package hydra_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/hydra"
)

// These tests run against a real Ory Hydra (internal/testservers), built
// by .ci/build-hydra. They skip when it is missing, except under
// STRONGROOM_REQUIRE_SERVERS=1 (CI), where they fail.

// noSecret fails the test when err, rendered every way, shows one of
// secrets in any encoding.
func noSecret(t *testing.T, err error, secrets ...[]byte) {
	t.Helper()
	out := redacttest.Render(err)
	for _, s := range secrets {
		if f := redacttest.Find(out, redacttest.Forms(s)); f != "" {
			t.Fatalf("the error shows a secret (%q):\n%s", f, out)
		}
	}
}

// rawToken requests a token for clientID with secret by
// client_secret_basic, without this package, and returns the status and
// the OAuth error code.
func rawToken(t *testing.T, h *testservers.Hydra, clientID, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.TokenURL(), strings.NewReader("grant_type=client_credentials&scope=read"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error
}

func TestHydraSetThenTest(t *testing.T) {
	h := testservers.StartHydra(t, nil)
	ctx := context.Background()
	// Quotes, a backslash, spaces, a plus, a control character and
	// non-ASCII UTF-8: every escape of the JSON patch and of the form.
	tricky := "new \"secret\" \\ with spaces+plus\tand \u00fc\u2028 0123"
	for _, tc := range []struct {
		name, registered, option string
	}{
		{"basic registered", "client_secret_basic", ""},
		{"post registered", "client_secret_post", ""},
		{"basic option", "client_secret_basic", hydra.ClientSecretBasic},
		{"post option", "client_secret_post", hydra.ClientSecretPost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "rot-" + strings.ReplaceAll(tc.name, " ", "-")
			old := "old-secret-of-" + id + "-0123456789"
			h.CreateClient(testservers.Client{ClientID: id, ClientSecret: old, GrantTypes: []string{"client_credentials"},
				Scope: "read write", TokenEndpointAuthMethod: tc.registered})
			target, err := hydra.New(h.Admin, id, &hydra.Options{TokenURL: h.TokenURL(), Scopes: []string{"read"}, AuthMethod: tc.option})
			if err != nil {
				t.Fatal(err)
			}
			oldCred := rotate.Credential{Account: id, Secret: []byte(old)}
			newCred := rotate.Credential{Account: id, Secret: []byte(tricky)}
			if err := target.Test(ctx, oldCred); err != nil {
				t.Fatalf("Test with the registered secret: %v", err)
			}
			if err := target.Set(ctx, newCred); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if err := target.Test(ctx, newCred); err != nil {
				t.Fatalf("Test with the new secret: %v", err)
			}
			err = target.Test(ctx, oldCred)
			if !errors.Is(err, hydra.ErrRejected) || !strings.Contains(err.Error(), "invalid_client") {
				t.Fatalf("Test with the old secret: %v; want ErrRejected with invalid_client", err)
			}
			noSecret(t, err, []byte(old), []byte(tricky))
			if tc.registered == "client_secret_basic" {
				if status, code := rawToken(t, h, id, old); status != http.StatusUnauthorized || code != "invalid_client" {
					t.Fatalf("a token request with the old secret: HTTP %d %q; want 401 invalid_client", status, code)
				}
				if status, code := rawToken(t, h, id, tricky); status != http.StatusOK {
					t.Fatalf("a token request with the new secret: HTTP %d %q; want 200", status, code)
				}
			}
			if err := target.Retire(ctx, newCred); err != nil {
				t.Fatalf("Retire: %v", err)
			}
			if err := target.Test(ctx, newCred); err != nil {
				t.Fatalf("Test after Retire: %v", err)
			}
		})
	}
}

func TestHydraSetIdempotent(t *testing.T) {
	h := testservers.StartHydra(t, nil)
	ctx := context.Background()
	const old, next = "idempotent-old-secret-0123", "idempotent-new-secret-4567"
	h.CreateClient(testservers.Client{ClientID: "twice", ClientSecret: old, GrantTypes: []string{"client_credentials"},
		Scope: "read", TokenEndpointAuthMethod: "client_secret_basic"})
	target, err := hydra.New(h.Admin, "twice", &hydra.Options{TokenURL: h.TokenURL()})
	if err != nil {
		t.Fatal(err)
	}
	cred := rotate.Credential{Secret: []byte(next)} // account "": the target's client
	for i := range 2 {
		if err := target.Set(ctx, cred); err != nil {
			t.Fatalf("Set #%d: %v", i+1, err)
		}
		if err := target.Test(ctx, cred); err != nil {
			t.Fatalf("Test after Set #%d: %v", i+1, err)
		}
	}
	if err := target.Test(ctx, rotate.Credential{Secret: []byte(old)}); !errors.Is(err, hydra.ErrRejected) {
		t.Fatalf("the old secret after two Sets: %v; want ErrRejected", err)
	}
	if status, code := rawToken(t, h, "twice", next); status != http.StatusOK {
		t.Fatalf("a token request with the secret set twice: HTTP %d %q", status, code)
	}
}

// TestHydraErrors: a missing client, a secret Hydra refuses, a wrong
// secret and an unreachable server give errors that match their sentinels
// and never show the secret.
func TestHydraErrors(t *testing.T) {
	h := testservers.StartHydra(t, nil)
	ctx := context.Background()
	h.CreateClient(testservers.Client{ClientID: "errs", ClientSecret: "errors-client-secret-0123", GrantTypes: []string{"client_credentials"},
		Scope: "read", TokenEndpointAuthMethod: "client_secret_basic"})
	secret := []byte("Qz8v-never-in-an-error-k4j7")

	missing, err := hydra.New(h.Admin, "no-such-client", &hydra.Options{TokenURL: h.TokenURL()})
	if err != nil {
		t.Fatal(err)
	}
	err = missing.Set(ctx, rotate.Credential{Secret: secret})
	if !errors.Is(err, hydra.ErrNotFound) {
		t.Fatalf("Set on a missing client: %v; want ErrNotFound", err)
	}
	noSecret(t, err, secret)
	err = missing.Test(ctx, rotate.Credential{Secret: secret})
	if !errors.Is(err, hydra.ErrNotFound) {
		t.Fatalf("Test on a missing client: %v; want ErrNotFound", err)
	}
	noSecret(t, err, secret)

	target, err := hydra.New(h.Admin, "errs", &hydra.Options{TokenURL: h.TokenURL()})
	if err != nil {
		t.Fatal(err)
	}
	short := []byte("Qz8v!") // Hydra wants 6 characters or more
	err = target.Set(ctx, rotate.Credential{Secret: short})
	if err == nil || errors.Is(err, hydra.ErrInvalid) {
		t.Fatalf("Set of a 5-byte secret: %v; want Hydra's refusal", err)
	}
	noSecret(t, err, short)
	t.Logf("short secret: %v", err)

	err = target.Test(ctx, rotate.Credential{Secret: secret})
	if !errors.Is(err, hydra.ErrRejected) {
		t.Fatalf("Test with a wrong secret: %v; want ErrRejected", err)
	}
	noSecret(t, err, secret)

	for _, c := range []rotate.Credential{
		{Secret: nil},
		{Secret: []byte("not UTF-8 \xff\xfe Qz8v-marker")},
		{Account: "another-client", Secret: secret},
	} {
		for op, f := range map[string]func(context.Context, rotate.Credential) error{"Set": target.Set, "Test": target.Test} {
			if err := f(ctx, c); !errors.Is(err, hydra.ErrInvalid) {
				t.Errorf("%s(%v): %v; want ErrInvalid", op, c, err)
			} else {
				noSecret(t, err, c.Secret)
			}
		}
	}

	untested, err := hydra.New(h.Admin, "errs", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := untested.Test(ctx, rotate.Credential{Secret: secret}); !errors.Is(err, hydra.ErrInvalid) {
		t.Fatalf("Test without a token URL: %v; want ErrInvalid", err)
	}
}

// TestServerTextWithheld: a server whose every error quotes what it was
// sent (the secret, JSON-escaped, form-encoded or in a Basic header) has
// its text withheld.
func TestServerTextWithheld(t *testing.T) {
	ctx := context.Background()
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b, _ := io.ReadAll(r.Body)
		quote := string(b) + " " + r.Header.Get("Authorization")
		if r.Method == http.MethodGet {
			w.Write([]byte(`{"client_id":"c","token_endpoint_auth_method":"client_secret_post"}`))
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": "you sent " + quote})
	}))
	t.Cleanup(srv.Close)
	secret := []byte(`Qz8v "quoted" \ k4j7 secret`)
	for _, method := range []string{"", hydra.ClientSecretBasic, hydra.ClientSecretPost} {
		target, err := hydra.New(srv.URL, "c", &hydra.Options{TokenURL: srv.URL + "/oauth2/token", AuthMethod: method})
		if err != nil {
			t.Fatal(err)
		}
		for op, f := range map[string]func(context.Context, rotate.Credential) error{"Set": target.Set, "Test": target.Test} {
			err := f(ctx, rotate.Credential{Secret: secret})
			if err == nil || !strings.Contains(err.Error(), "withheld") {
				t.Fatalf("%s (%q): %v; want the server's text withheld", op, method, err)
			}
			noSecret(t, err, secret, []byte("Qz8v \"quoted\""))
		}
	}
	if requests.Load() == 0 {
		t.Fatal("no request reached the server")
	}
}

// TestURLsRedacted: URLs in errors and fmt output have their query values
// withheld, a URL with user information is refused, and net/http's
// *url.Error (which would show the URL) is not in the chain.
func TestURLsRedacted(t *testing.T) {
	const marker = "Qz8v-URL-MARKER-k4j7"
	port := strconv.Itoa(testservers.FreePort(t)) // nothing listens there
	target, err := hydra.New("http://127.0.0.1:"+port+"/?key="+marker, "c",
		&hydra.Options{TokenURL: "http://127.0.0.1:" + port + "/oauth2/token?sig=" + marker, AuthMethod: hydra.ClientSecretBasic})
	if err != nil {
		t.Fatal(err)
	}
	cred := rotate.Credential{Secret: []byte("some-secret-value-0123")}
	for op, f := range map[string]func(context.Context, rotate.Credential) error{"Set": target.Set, "Test": target.Test} {
		err := f(context.Background(), cred)
		if err == nil {
			t.Fatalf("%s to a closed port succeeded", op)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			t.Errorf("%s: a *url.Error in the chain: %v", op, err)
		}
		noSecret(t, err, []byte(marker), cred.Secret)
		t.Logf("%s: %v", op, err)
	}
	if out := redacttest.Render(target); strings.Contains(out, marker) {
		t.Fatalf("the target shows its admin URL's query:\n%s", out)
	}
	opts := hydra.Options{TokenURL: "https://h/oauth2/token?sig=" + marker}
	if out := redacttest.Render(opts); strings.Contains(out, marker) {
		t.Fatalf("the options show the token URL's query:\n%s", out)
	}
	for _, bad := range []string{"https://user:" + marker + "@h/", "ftp://h/", "/admin", "http://[::1"} {
		_, err := hydra.New(bad, "c", nil)
		if !errors.Is(err, hydra.ErrInvalid) {
			t.Errorf("New(%q): %v; want ErrInvalid", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), marker) {
			t.Errorf("New(%q): the error shows the user information: %v", bad, err)
		}
	}
	for _, o := range []*hydra.Options{{AuthMethod: "private_key_jwt"}, {Scopes: []string{"a b"}}, {TokenURL: "token"}} {
		if _, err := hydra.New("http://h", "c", o); !errors.Is(err, hydra.ErrInvalid) {
			t.Errorf("New with %v: %v; want ErrInvalid", o, err)
		}
	}
	if _, err := hydra.New("http://h", "", nil); !errors.Is(err, hydra.ErrInvalid) {
		t.Errorf("New with an empty client ID: %v; want ErrInvalid", err)
	}
}
