package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/redacttest"
	"github.com/strongroom/strongroom/providers/memory"
	rot "github.com/strongroom/strongroom/rotate"
)

// redactMarker stands for secret material in the redaction tests. Its
// letters are all hex digits' neighbours, so that its hex, base64 and
// decimal forms are distinctive too.
const redactMarker = "Mx7q-SECRET-MATERIAL-w3z9"

// TestRedactionEveryType: every exported type, holding the marker wherever
// it can hold secret material (a token's value, a client secret in the
// store, a credential in a URL's query or user information, a server's
// echo of a credential, a private member of a JWK), never shows it in fmt
// (every verb), slog (text and JSON), JSON or text. The table must name
// every exported type: a new one fails the test until it is added.
func TestRedactionEveryType(t *testing.T) {
	leakCheck(t)
	m := redactMarker
	clock := memory.NewClock(epoch)
	store, mem := newStore(t, clock)
	addSecret(t, store, mem, "client-secret", []byte(m))
	addSecret(t, store, mem, "signing-key", ecKeyPEM(t))

	tokenURL := "http://" + m + ":" + m + "@127.0.0.1:1/token?api_key=" + m + "&tenant=" + m + "#access_token=" + m
	client := &Client{tokenURL: tokenURL, clientID: "batch", auth: ClientSecretBasic(store, "client-secret")}
	opts := ClientOptions{RevocationURL: "https://auth.test/revoke?token=" + m, Params: url.Values{"x": {m}}, RefreshToken: "rt"}
	remote, err := NewRemoteKeys("https://keys.test/jwks?sig="+m+"#"+m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })

	up := FetcherFunc(func(context.Context, Request) (*Grant, error) {
		return &Grant{Value: []byte(m), ExpiresAt: clock.Now().Add(time.Hour), ID: "jti-1"}, nil
	})
	cache := newTestCache(t, up, clock, nil)
	tok, err := cache.Token(context.Background(), readReq)
	if err != nil {
		t.Fatal(err)
	}
	src := cache.Source(readReq)

	// A transport error naming the URL (nothing listens on port 1).
	dialer, err := NewClient("http://127.0.0.1:1/token?api_key="+m, "id", ClientAuth{}, &ClientOptions{RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialer.Close() })
	_, transportErr := dialer.Fetch(context.Background(), Request{})
	if transportErr == nil {
		t.Fatal("a request to a closed port succeeded")
	}
	// A server's error text quoting the client secret.
	oauthErr := parseErrorResponse("token", 401, http.Header{}, []byte(`{"error":"invalid_client","error_description":"secret `+m+` is wrong","error_uri":"https://x.test/?s=`+m+`"}`), epoch, []byte(m))

	var set JWKSet
	if err := json.Unmarshal([]byte(`{"keys":[{"kty":"EC","kid":"k","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"`+m+`","k":"`+m+`","p":"`+m+`"}]}`), &set); err != nil {
		t.Fatal(err)
	}
	iss, err := NewJWTIssuer(store, "signing-key", testIssuer, &JWTIssuerOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	v, _ := NewVerifier(iss, testIssuer, testAudience, nil)
	keyIss, err := NewJWTIssuer(store, "signing-key", testIssuer, &JWTIssuerOptions{Clock: clock, KeyID: ThumbprintKeyID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { keyIss.Close() })
	keyTarget, err := NewSigningKeyTarget(keyIss)
	if err != nil {
		t.Fatal(err)
	}
	// A pending key that is no key, refused by the target.
	setErr := keyTarget.Set(context.Background(), rot.Credential{Secret: []byte("-----BEGIN PRIVATE KEY-----\n" + m + "\n-----END PRIVATE KEY-----\n")})
	if setErr == nil {
		t.Fatal("Set accepted a PEM block that is no key")
	}

	g := Grant{Value: []byte(m), Type: "Bearer", Scopes: []string{"read"}, ExpiresAt: epoch.Add(time.Hour), ID: "jti-1"}
	samples := map[string][]any{
		"AuthMethod":          {AuthSecretBasic},
		"Cache":               {cache},
		"CacheOptions":        {CacheOptions{Clock: clock}},
		"Claims":              {Claims{Subject: "batch", Scopes: []string{"read"}}},
		"Client":              {client, dialer},
		"ClientAuth":          {client.auth, ClientSecretPost(store, "client-secret")},
		"ClientOptions":       {opts, &opts},
		"Error":               {transportErr, newError("fetch", ErrInvalid, transportErr), setErr},
		"Fetcher":             {Fetcher(up), Fetcher(client)},
		"FetcherFunc":         {up},
		"Grant":               {g, &g, []Grant{g}, map[string]*Grant{"g": &g}, struct{ G Grant }{g}},
		"JWK":                 {set.Keys[0], &set.Keys[0]},
		"JWKSet":              {set},
		"JWTIssuer":           {iss},
		"JWTIssuerOptions":    {JWTIssuerOptions{Subject: "batch"}},
		"KeySet":              {KeySet(remote), KeySet(iss)},
		"OAuth2Options":       {OAuth2Options{}},
		"OAuthError":          {oauthErr, *oauthErr},
		"RemoteKeys":          {remote},
		"RemoteKeysOptions":   {RemoteKeysOptions{}},
		"Request":             {readReq},
		"Revoker":             {Revoker(client)},
		"Secrets":             {Secrets(store)},
		"SigningKeyGenerator": {SigningKeyGenerator{}, SigningKeyGenerator{Algorithm: "EdDSA"}},
		"SigningKeyTarget":    {keyTarget, rot.Target(keyTarget)},
		"Source":              {src},
		"StoreKeys":           {&StoreKeys{Secrets: store, Names: []string{"signing-key"}}},
		"Token":               {tok, []*Token{tok}, struct{ T *Token }{tok}},
		"Transport":           {&Transport{Source: src}},
		"Verifier":            {v},
		"VerifierOptions":     {VerifierOptions{}},
	}
	redacttest.Check(t, ".", samples, redacttest.Forms([]byte(m)))
	// The redacted descriptions keep what is useful.
	for _, c := range []struct{ got, want string }{
		{fmt.Sprint(g), "grant Bearer scopes=[read] expires=2026-01-01T01:00:00Z id=jti-1 [REDACTED]"},
		{fmt.Sprint(tok), "token Bearer scopes=[read] audience=[api] expires=2026-01-01T01:00:00Z id=jti-1 [REDACTED]"},
		{fmt.Sprint(client), `tokens.Client http://xxxxx@127.0.0.1:1/token?api_key=xxxxx&tenant=xxxxx#access_token=xxxxx client "batch" (client_secret_basic, secret "client-secret")`},
		{fmt.Sprint(remote), "tokens.RemoteKeys https://keys.test/jwks?sig=xxxxx#xxxxx"},
		{fmt.Sprint(opts), `tokens.ClientOptions{RevocationURL: https://auth.test/revoke?token=xxxxx, Params: [x], refresh token grant}`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

// TestTransportErrorChain: an error of the HTTP stack that names a URL
// with a credential in its query or user information shows it redacted,
// and no error in its Unwrap chain holds the original (no *url.Error);
// the cause and the timeout classification survive.
func TestTransportErrorChain(t *testing.T) {
	leakCheck(t)
	m := redactMarker
	c, err := NewClient("http://127.0.0.1:1/token?api_key="+m+"&x=1", "id", ClientAuth{}, &ClientOptions{RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Fetch(context.Background(), Request{})
	if err == nil {
		t.Fatal("want a connection error")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		t.Errorf("the chain holds a *url.Error: %#v", ue)
	}
	for _, e := range redacttest.Chain(err) {
		if s := fmt.Sprintf("%s %#v", e, e); strings.Contains(s, m) {
			t.Errorf("an error in the chain quotes the query: %s", s)
		}
	}
	if want := `Post "http://127.0.0.1:1/token?api_key=xxxxx&x=xxxxx": dial tcp 127.0.0.1:1`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}

	// A timeout keeps its classification.
	hang := newHangingServer(t)
	c2, err := NewClient(hang+"/token?api_key="+m, "id", ClientAuth{}, &ClientOptions{RetryMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c2.Fetch(ctx, Request{})
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), m) {
		t.Errorf("a timed-out request: %v; want context.DeadlineExceeded, the query redacted", err)
	}

	// RemoteKeys: the same.
	keys, err := NewRemoteKeys("http://127.0.0.1:1/jwks?key="+m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	_, err = keys.Key(context.Background(), "kid")
	if err == nil || errors.As(err, &ue) || strings.Contains(fmt.Sprintf("%v %#v", err, err), m) {
		t.Errorf("RemoteKeys: %v (a *url.Error in the chain: %v)", err, errors.As(err, &ue))
	}
	for _, e := range redacttest.Chain(err) {
		if s := fmt.Sprintf("%s %#v", e, e); strings.Contains(s, m) {
			t.Errorf("an error in the chain quotes the query: %s", s)
		}
	}
}

// TestURLErrorsRedacted: a URL refused by NewClient or NewRemoteKeys is
// shown with its query values, fragment and user information withheld.
func TestURLErrorsRedacted(t *testing.T) {
	m := redactMarker
	for _, raw := range []string{
		"ftp://auth.test/token?api_key=" + m,
		"https://" + m + "@auth.test/token",
		"https:" + m,
		"//auth.test/token#" + m,
	} {
		_, err := NewClient(raw, "id", ClientAuth{}, nil)
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), m) {
			t.Errorf("NewClient(%q): %v", raw, err)
		}
		_, err = NewRemoteKeys(raw, nil)
		if !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), m) {
			t.Errorf("NewRemoteKeys(%q): %v", raw, err)
		}
	}
}

// newHangingServer returns the URL of a server that answers nothing until
// the request is given up.
func newHangingServer(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) }) // runs first
	return srv.URL
}
