package tokens

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// FuzzTokenResponse: any answer from a token endpoint parses without a
// panic into a sealed-able grant or an error, and no error quotes the
// access token the body carried.
func FuzzTokenResponse(f *testing.F) {
	f.Add(200, "", []byte(`{"access_token":"abcdefgh12345678","token_type":"Bearer","expires_in":3600,"scope":"a b"}`))
	f.Add(200, "", []byte(`{"access_token":"abcdefgh12345678","expires_in":"60","refresh_token":"rrrrrrrr"}`))
	f.Add(200, "", []byte(`{"access_token":"ab\u00e9cdefgh\n","expires_in":1e300}`))
	f.Add(400, "", []byte(`{"error":"invalid_scope","error_description":"nope","error_uri":"https://x"}`))
	f.Add(429, "120", []byte(`{"error":"slow_down"}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(``))
	f.Add(200, "", []byte(`{"access_token":{"x":1}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		g, rt, err := parseTokenResponse(status, h, body, epoch)
		var probe struct {
			AccessToken string `json:"access_token"`
		}
		json.Unmarshal(body, &probe)
		if err != nil {
			if g != nil || rt != nil && status != 200 {
				t.Fatal("a grant with an error")
			}
			if len(probe.AccessToken) >= 8 && strings.Contains(err.Error(), probe.AccessToken) {
				t.Fatalf("error quotes the access token: %v", err)
			}
			if oe, ok := err.(*OAuthError); ok {
				for _, s := range []string{oe.Code, oe.Description, oe.URI} {
					for _, c := range []byte(s) {
						if c < 0x20 || c > 0x7e {
							t.Fatalf("unprintable byte in %q", s)
						}
					}
				}
				if oe.RetryAfter < 0 || oe.RetryAfter > 24*time.Hour {
					t.Fatalf("Retry-After %s out of bounds", oe.RetryAfter)
				}
			}
			return
		}
		if status != 200 || len(g.Value) == 0 {
			t.Fatalf("grant from status %d with %d bytes", status, len(g.Value))
		}
		if !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(epoch) {
			t.Fatalf("expiry %s not after now", g.ExpiresAt)
		}
	})
}

// FuzzVerify: no input makes the Verifier panic, and none but the tokens
// the issuer signed verifies.
func FuzzVerify(f *testing.F) {
	clock := memory.NewClock(epoch)
	mem := memory.New(&memory.Options{Clock: clock})
	store, err := secrets.Open(context.Background(), &secrets.Options{
		Providers: map[string]providers.Provider{"memory": mem}, Clock: clock})
	if err != nil {
		f.Fatal(err)
	}
	defer store.Close()
	mem.Set("k", ecKeyPEM(f), nil)
	if err := addSecretErr(store, "k"); err != nil {
		f.Fatal(err)
	}
	iss, _ := NewJWTIssuer(store, "k", testIssuer, &JWTIssuerOptions{Clock: clock})
	v, _ := NewVerifier(iss, testIssuer, testAudience, &VerifierOptions{Clock: clock})
	valid := map[string]bool{}
	for _, req := range []Request{billingRead, {Audience: []string{testAudience}}, {Scopes: []string{"a", "b"}, Audience: []string{testAudience, "x"}}} {
		g, err := iss.Fetch(context.Background(), req)
		if err != nil {
			f.Fatal(err)
		}
		valid[string(g.Value)] = true
		f.Add(string(g.Value))
	}
	f.Add("eyJhbGciOiJub25lIiwia2lkIjoiMSJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci50ZXN0In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		_, err := v.Verify(context.Background(), token)
		if err == nil && !valid[token] {
			t.Fatalf("a token the issuer did not sign verified: %q", token)
		}
	})
}

// FuzzJWKSet: any JWK Set parses without a panic, and only usable public
// signing keys come out.
func FuzzJWKSet(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"},{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","kid":"e","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"EdDSA"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKSet(data)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" {
				t.Fatal("a key without a kid")
			}
			if _, err := algFor(k.pub); err != nil {
				t.Fatalf("unusable key kept: %v", err)
			}
		}
	})
}

// FuzzScanTokenResponse: the scanner that decodes the token fields of a
// response without encoding/json agrees with encoding/json on every input:
// it refuses what is not a JSON object, and decodes access_token and
// refresh_token (the last of each, names matched exactly, escapes, invalid
// UTF-8 and unpaired surrogates as encoding/json treats them) to the same
// bytes, into slices of exactly their length.
func FuzzScanTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"abcdefgh12345678","token_type":"Bearer","expires_in":3600,"scope":"a b"}`))
	f.Add([]byte(`{"access_token":"a\u00e9\ud83d\ude00\ud800x\\\/\"\b\f\n\r\t","refresh_token":"r\uDC00"}`))
	f.Add([]byte(` { "acc\u0065ss_token" : "x" , "access_token" : "y", "nested":{"access_token":"z","a":[1,{"b":"}"}]} } `))
	f.Add([]byte("{\"access_token\":\"\xff\xfe bad utf8\",\"refresh_token\":null}"))
	f.Add([]byte(`{"access_token":42,"refresh_token":["x"]}`))
	f.Add([]byte(`[{"access_token":"x"}]`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := scanTokenResponse(body)
		defer got.wipe()
		var want map[string]json.RawMessage
		if json.Unmarshal(body, &want) != nil || want == nil {
			if err == nil {
				t.Fatalf("%q is not a JSON object, yet it scanned", body)
			}
			return
		}
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		for _, field := range []struct {
			name string
			got  []byte
			bad  bool
		}{{"access_token", got.access, got.accessBad}, {"refresh_token", got.refresh, got.refreshBad}} {
			raw, ok := want[field.name]
			var s string
			switch {
			case !ok || string(raw) == "null":
				if field.got != nil || field.bad {
					t.Fatalf("%q: %s absent or null, got %q (bad %v)", body, field.name, field.got, field.bad)
				}
			case json.Unmarshal(raw, &s) != nil:
				if !field.bad || field.got != nil {
					t.Fatalf("%q: %s is not a string, got %q (bad %v)", body, field.name, field.got, field.bad)
				}
			default:
				if field.bad || string(field.got) != s || cap(field.got) != len(field.got) {
					t.Fatalf("%q: %s = %q (cap %d), encoding/json says %q", body, field.name, field.got, cap(field.got), s)
				}
			}
		}
		for _, field := range []struct {
			name string
			got  []byte
		}{{"token_type", got.tokenType}, {"expires_in", got.expiresIn}, {"scope", got.scope}} {
			raw, ok := want[field.name]
			if ok != (field.got != nil) || ok && !bytes.Equal(raw, field.got) {
				t.Fatalf("%q: %s = %q, encoding/json says %q", body, field.name, field.got, raw)
			}
		}
	})
}
