package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"

	"github.com/strongroom/strongroom/internal/leak"
)

// swapCase changes the case of every ASCII letter.
func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsUpper(r):
			return unicode.ToLower(r)
		case unicode.IsLower(r):
			return unicode.ToUpper(r)
		}
		return r
	}, s)
}

// TestErrorTextSharingARunWithheld: a server's error text that shares a run
// of 8 bytes with a credential the request carried (the client secret, in
// the body or a client_secret_basic header, a private_key_jwt assertion, a
// refresh token), not only an exact echo, is withheld: a prefix, all but
// one byte, a case-changed copy, the credential after a decoder replaced
// its invalid UTF-8; in the description, the URI or the code.
func TestErrorTextSharingARunWithheld(t *testing.T) {
	leakCheck(t)
	const secret = "Cl1ent-S3cret\xff-with-an-invalid-byte"
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(secret))
	addSecret(t, store, mem, "key", ecKeyPEM(t))
	addSecret(t, store, mem, "refresh", []byte("Refresh-Token-Value-0123456789"))

	// What the server saw of each credential, by method.
	sent := map[string]func(f url.Values, h http.Header) string{
		"client_secret_post":  func(f url.Values, _ http.Header) string { return f.Get("client_secret") },
		"client_secret_basic": func(_ url.Values, h http.Header) string { return strings.TrimPrefix(h.Get("Authorization"), "Basic ") },
		"private_key_jwt":     func(f url.Values, _ http.Header) string { return f.Get("client_assertion") },
		"refresh_token":       func(f url.Values, _ http.Header) string { return f.Get("refresh_token") },
	}
	variants := map[string]func(cred string) string{
		"prefix":        func(c string) string { return c[:len(c)/2] },
		"all but one":   func(c string) string { return c[:len(c)-1] },
		"case changed":  swapCase,
		"suffix":        func(c string) string { return c[len(c)-9:] },
		"utf8 replaced": func(c string) string { return strings.ToValidUTF8(c, "\uFFFD") },
	}
	fields := []string{"error", "error_description", "error_uri"}
	for method, cred := range sent {
		for vname, variant := range variants {
			for _, field := range fields {
				t.Run(method+"/"+vname+"/"+field, func(t *testing.T) {
					var ts *tokenServer
					ts = newTokenServer(t, func(n int, f url.Values) (int, map[string]string, string) {
						ts.mu.Lock()
						h := ts.headers[n-1]
						ts.mu.Unlock()
						body := map[string]string{"error": "invalid_client", "error_description": "refused", "error_uri": "https://docs.test/e"}
						// json.Marshal replaces invalid UTF-8 with U+FFFD,
						// as a server's encoder would.
						body[field] = "server says: " + variant(cred(f, h)) + " (end)"
						b, _ := json.Marshal(body)
						return 401, nil, string(b)
					})
					auth, opts := ClientSecretPost(store, "secret"), &ClientOptions{}
					switch method {
					case "client_secret_basic":
						auth = ClientSecretBasic(store, "secret")
					case "private_key_jwt":
						auth = PrivateKeyJWT(store, "key")
					case "refresh_token":
						opts.RefreshToken = "refresh"
					}
					c, err := NewClient(ts.URL, "id", auth, opts)
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					_, err = c.Fetch(context.Background(), Request{})
					var oe *OAuthError
					if !errors.As(err, &oe) || oe.StatusCode != 401 {
						t.Fatalf("%v, want a 401 OAuthError", err)
					}
					ts.mu.Lock()
					form, hdr := ts.forms[0], ts.headers[0]
					ts.mu.Unlock()
					credential := []byte(cred(form, hdr))
					for _, got := range []string{oe.Code, oe.Description, oe.URI, err.Error()} {
						if leak.Quotes(got, credential) {
							t.Errorf("%q shares a run with the credential", got)
						}
					}
					switch field {
					case "error":
						if oe.Code != "" || oe.Description != "refused" {
							t.Errorf("code %q, description %q: want the code withheld, the rest kept", oe.Code, oe.Description)
						}
					default:
						if oe.Code != "invalid_client" || oe.Description != withheldDescription || oe.URI != "" {
							t.Errorf("code %q, description %q, URI %q: want the description and URI withheld, the code kept", oe.Code, oe.Description, oe.URI)
						}
					}
				})
			}
		}
	}
}

// TestErrorTextNotQuotingKept: a server's text that shares no run with the
// credentials is shown (cut and made printable).
func TestErrorTextNotQuotingKept(t *testing.T) {
	cred := []byte("a-client-secret-of-some-length")
	e := parseErrorResponse("token", 400, http.Header{}, []byte(`{"error":"invalid_scope","error_description":"scope admin is not allowed\n","error_uri":"https://docs.test/scopes"}`), epoch, cred)
	if e.Code != "invalid_scope" || e.Description != "scope admin is not allowed?" || e.URI != "https://docs.test/scopes" {
		t.Fatalf("%#v", e)
	}
	// A short credential, quoted whole: withheld (the notice too, should
	// it share a run with so short a credential).
	short := []byte("wxyz")
	e = parseErrorResponse("token", 400, http.Header{}, []byte(`{"error":"invalid_scope","error_description":"token wxyz is bad"}`), epoch, short)
	if e.Description != withheldDescription && e.Description != "" || leak.Quotes(e.Description, short) {
		t.Fatalf("short credential: %#v", e)
	}
}

// FuzzOAuthErrorFilter: whatever a server answers and whatever the
// credential, no field of the OAuthError shares a run (see internal/leak)
// with the credential in any form the Client sends it (raw, form-encoded,
// in a client_secret_basic header), and every field is printable ASCII of
// bounded length.
func FuzzOAuthErrorFilter(f *testing.F) {
	f.Add([]byte("Cl1ent-S3cret-Value"), []byte(`{"error":"invalid_client","error_description":"cL1ENT-s3CRET","error_uri":"https://x"}`))
	f.Add([]byte("s3cr\xffet-value-long"), []byte(`{"error":"invalid_client","error_description":"got s3cr\ufffdet-va"}`))
	f.Add([]byte("a b+c&d=e"), []byte(`{"error":"a+b%2Bc%26d","error_description":"YTpiK2M="}`))
	f.Add([]byte("tiny"), []byte(`{"error":"invalid_request","error_description":"y"}`))
	f.Add([]byte("x"), []byte(`not json`))
	f.Fuzz(func(t *testing.T, secret, body []byte) {
		r := &response{}
		r.addCred(secret)
		r.creds = append(r.creds, basicCredential("client id", secret))
		creds := append([][]byte(nil), r.creds...)
		e := parseErrorResponse("token", 401, http.Header{}, body, epoch, creds...)
		for _, field := range []struct {
			name, v string
			max     int
		}{{"error", e.Code, 64}, {"error_description", e.Description, 300}, {"error_uri", e.URI, 300}} {
			if len(secret) > 0 && leak.Quotes(field.v, creds...) {
				t.Fatalf("%s %q shares a run with a credential form of %q", field.name, field.v, secret)
			}
			if len(field.v) > field.max {
				t.Fatalf("%s of %d bytes", field.name, len(field.v))
			}
			for _, c := range []byte(field.v) {
				if c < 0x20 || c > 0x7e {
					t.Fatalf("unprintable byte in %s %q", field.name, field.v)
				}
			}
		}
		r.wipe()
	})
}
