package hydra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/strongroom/strongroom/internal/formenc"
	"github.com/strongroom/strongroom/internal/redact"
	"github.com/strongroom/strongroom/rotate"
)

// Client authentication methods Test speaks (Options.AuthMethod).
const (
	ClientSecretBasic = "client_secret_basic"
	ClientSecretPost  = "client_secret_post"
)

// Options configure a [Target]. A nil *Options means the defaults; every
// field's zero value selects the default its comment states.
type Options struct {
	// TokenURL is Hydra's public token endpoint
	// ("https://auth.example/oauth2/token"), where Test requests a token.
	// Empty: Test fails with ErrInvalid, so that a rotation cannot
	// promote a secret nobody tested.
	TokenURL string

	// AuthMethod is how Test authenticates at the token endpoint:
	// [ClientSecretBasic] or [ClientSecretPost], as the consumers do.
	// Empty: the method the client is registered with at Hydra
	// (token_endpoint_auth_method), read through the admin API on every
	// Test.
	AuthMethod string

	// Scopes are the scopes Test asks for; each must be an RFC 6749
	// scope-token. Nil: none (Hydra then grants none).
	Scopes []string

	// HTTPClient sends every request, to the admin API and to the token
	// endpoint; credentials the admin API needs (a proxy's) belong in its
	// transport. Nil: a client with a 30 s timeout that keeps no
	// connection alive and follows no redirect.
	HTTPClient *http.Client
}

// Target rotates the secret of one Hydra OAuth 2.0 client in place. It is
// a [rotate.Target] for the [rotate.InPlace] strategy, whose account must
// be "" or the client ID. It is safe for concurrent use.
type Target struct {
	admin    string // the admin URL, as given (shown redacted)
	client   string // the admin API's URL of the client
	clientID string
	tokenURL string
	method   string
	scopes   string // space-separated
	hc       *http.Client
}

var _ rotate.Target = (*Target)(nil)

// New returns a Target for the client clientID at the Hydra whose admin
// API is at adminURL ("https://hydra-admin.internal:4445"). It fails with
// ErrInvalid for a URL that is not absolute http or https or that carries
// user information, an empty client ID, an unknown Options.AuthMethod or
// a scope that is not a scope-token. It makes no request.
func New(adminURL, clientID string, opts *Options) (*Target, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := checkURL("admin URL", adminURL)
	if err != nil {
		return nil, err
	}
	if o.TokenURL != "" {
		if _, err := checkURL("token URL", o.TokenURL); err != nil {
			return nil, err
		}
	}
	if clientID == "" || clientID == "." || clientID == ".." {
		return nil, newError("new", ErrInvalid, fmt.Sprintf("client ID %q", clientID), nil)
	}
	switch o.AuthMethod {
	case "", ClientSecretBasic, ClientSecretPost:
	default:
		return nil, newError("new", ErrInvalid, fmt.Sprintf("auth method %q: want %q or %q", redact.Printable(o.AuthMethod, 40), ClientSecretBasic, ClientSecretPost), nil)
	}
	for _, s := range o.Scopes {
		if !isScopeToken(s) {
			return nil, newError("new", ErrInvalid, fmt.Sprintf("scope %q is not an RFC 6749 scope-token", redact.Printable(s, 100)), nil)
		}
	}
	c := u.JoinPath("admin", "clients")
	c.Path += "/" + clientID
	c.RawPath = c.EscapedPath() + "/" + url.PathEscape(clientID)
	hc := o.HTTPClient
	if hc == nil {
		hc = defaultClient()
	}
	return &Target{
		admin:    adminURL,
		client:   c.String(),
		clientID: clientID,
		tokenURL: o.TokenURL,
		method:   o.AuthMethod,
		scopes:   strings.Join(o.Scopes, " "),
		hc:       hc,
	}, nil
}

// Set makes c.Secret the client's secret at Hydra: one JSON Patch that
// replaces "client_secret" (PATCH /admin/clients/{id}). The old secret
// stops working at once. Setting the secret the client already has
// succeeds and changes nothing a consumer sees. It fails with ErrInvalid
// for an empty secret, one that is not UTF-8 (Hydra's JSON API would
// change it), or an account other than "" and the client ID, and with
// ErrNotFound when Hydra has no such client.
func (t *Target) Set(ctx context.Context, c rotate.Credential) error {
	if err := t.check("set", c); err != nil {
		return err
	}
	body := patchBody(c.Secret)
	defer clear(body)
	status, resp, err := t.do(ctx, http.MethodPatch, t.client, "application/json", body, "")
	defer clear(resp) // Hydra echoes the new secret
	if err != nil {
		return newError("set", nil, "PATCH "+redact.URLString(t.client), err)
	}
	switch {
	case status == http.StatusOK:
		return nil
	case status == http.StatusNotFound:
		return newError("set", ErrNotFound, fmt.Sprintf("client %q at %s", redact.Printable(t.clientID, 100), redact.URLString(t.admin)), nil)
	}
	return newError("set", nil, "PATCH "+redact.URLString(t.client)+": "+failure(status, resp, t.clientID, c.Secret), nil)
}

// Test requests a token with the client credentials grant at
// Options.TokenURL, authenticating with c as a consumer would, and
// succeeds when Hydra issues one (the token is wiped, not revoked). It
// fails with ErrRejected when Hydra refuses (the OAuth error code, such
// as invalid_client, is in the message), with ErrInvalid when TokenURL is
// empty or the client authenticates otherwise than with its secret, and
// as Set does for a credential it cannot use.
func (t *Target) Test(ctx context.Context, c rotate.Credential) error {
	if err := t.check("test", c); err != nil {
		return err
	}
	if t.tokenURL == "" {
		return newError("test", ErrInvalid, "no token URL (Options.TokenURL)", nil)
	}
	method := t.method
	if method == "" {
		m, err := t.registeredMethod(ctx)
		if err != nil {
			return err
		}
		method = m
	}
	form := "grant_type=client_credentials"
	if t.scopes != "" {
		form += "&scope=" + url.QueryEscape(t.scopes)
	}
	var body []byte
	var header string
	switch method {
	case ClientSecretBasic:
		body = []byte(form)
		cred := basicCredential(t.clientID, c.Secret)
		header = "Basic " + string(cred) // a string net/http keeps: see Security
		clear(cred)
	case ClientSecretPost:
		id := []byte(t.clientID)
		body = make([]byte, 0, len(form)+len("&client_id=&client_secret=")+formenc.Len(id)+formenc.Len(c.Secret))
		body = append(body, form...)
		body = append(body, "&client_id="...)
		body = formenc.Append(body, id)
		body = append(body, "&client_secret="...)
		body = formenc.Append(body, c.Secret)
	default:
		return newError("test", ErrInvalid, fmt.Sprintf("client %q authenticates with %q; Test speaks %s and %s",
			redact.Printable(t.clientID, 100), redact.Printable(method, 40), ClientSecretBasic, ClientSecretPost), nil)
	}
	defer clear(body)
	status, resp, err := t.do(ctx, http.MethodPost, t.tokenURL, "application/x-www-form-urlencoded", body, header)
	defer clear(resp) // holds an access token
	if err != nil {
		return newError("test", nil, "POST "+redact.URLString(t.tokenURL), err)
	}
	if status == http.StatusOK {
		var tok struct {
			AccessToken json.RawMessage `json:"access_token"`
		}
		err := json.Unmarshal(resp, &tok)
		ok := err == nil && len(tok.AccessToken) > len(`""`)
		clear(tok.AccessToken)
		if ok {
			return nil
		}
		return newError("test", ErrRejected, "POST "+redact.URLString(t.tokenURL)+": HTTP 200 without an access token", nil)
	}
	return newError("test", ErrRejected, "POST "+redact.URLString(t.tokenURL)+": "+failure(status, resp, t.clientID, c.Secret), nil)
}

// Retire does nothing: in place, the secret Set replaced is already
// invalid. It returns nil.
func (t *Target) Retire(ctx context.Context, keep rotate.Credential) error { return nil }

// check refuses a credential this target cannot use, without quoting it.
func (t *Target) check(op string, c rotate.Credential) error {
	switch {
	case c.Account != "" && c.Account != t.clientID:
		return newError(op, ErrInvalid, fmt.Sprintf("credential for account %q; this target rotates client %q",
			redact.Printable(c.Account, 100), redact.Printable(t.clientID, 100)), nil)
	case len(c.Secret) == 0:
		return newError(op, ErrInvalid, "empty secret", nil)
	case !utf8.Valid(c.Secret):
		return newError(op, ErrInvalid, "the secret is not UTF-8, which Hydra's JSON API cannot carry unchanged", nil)
	}
	return nil
}

// registeredMethod reads the client's token_endpoint_auth_method from
// the admin API (Hydra's default, client_secret_basic, when it has none).
func (t *Target) registeredMethod(ctx context.Context) (string, error) {
	status, resp, err := t.do(ctx, http.MethodGet, t.client, "", nil, "")
	defer clear(resp)
	if err != nil {
		return "", newError("test", nil, "GET "+redact.URLString(t.client), err)
	}
	switch status {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", newError("test", ErrNotFound, fmt.Sprintf("client %q at %s", redact.Printable(t.clientID, 100), redact.URLString(t.admin)), nil)
	default:
		return "", newError("test", nil, "GET "+redact.URLString(t.client)+": "+failure(status, resp, t.clientID, nil), nil)
	}
	var reg struct {
		Method string `json:"token_endpoint_auth_method"`
	}
	if err := json.Unmarshal(resp, &reg); err != nil {
		return "", newError("test", nil, "GET "+redact.URLString(t.client)+": the answer is not a client registration", nil)
	}
	if reg.Method == "" {
		return ClientSecretBasic, nil
	}
	return reg.Method, nil
}

// do sends body (nil: none) to target and returns the status and the
// answer's body, which the caller wipes. The request has no GetBody, so a
// redirect that would send body again is not followed.
func (t *Target) do(ctx context.Context, method, target, ctype string, body []byte, auth string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("building the request failed")
	}
	if body != nil {
		req.Body = io.NopCloser(&byteReader{b: body})
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return 0, nil, transportError(err)
	}
	defer resp.Body.Close()
	b, err := readBody(resp.Body, resp.ContentLength)
	if err != nil {
		return 0, nil, transportError(err)
	}
	return resp.StatusCode, b, nil
}

// failure describes an answer other than success: the HTTP status and
// Hydra's error fields, withheld when they may quote the secret.
func failure(status int, body []byte, clientID string, secret []byte) string {
	s := "HTTP " + strconv.Itoa(status)
	if status >= 300 && status < 400 {
		return s + " (a redirect: not followed)"
	}
	text := errorText(body)
	if text == "" {
		return s
	}
	return scrub(text, clientID, secret) + " (" + s + ")"
}

// errorText reads an OAuth 2.0 error ({"error", "error_description"}) or
// one of Hydra's own ({"error": {"message", "reason"}}) from body.
func errorText(body []byte) string {
	var oauth struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &oauth) == nil && oauth.Error != "" {
		if oauth.Description == "" {
			return oauth.Error
		}
		return oauth.Error + ": " + oauth.Description
	}
	var herodot struct {
		Error struct {
			Message string `json:"message"`
			Reason  string `json:"reason"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &herodot) == nil && herodot.Error.Message != "" {
		if herodot.Error.Reason == "" {
			return herodot.Error.Message
		}
		return herodot.Error.Message + ": " + herodot.Error.Reason
	}
	return ""
}

// defaultClient is the HTTP client of a Target made without one.
func defaultClient() *http.Client {
	var tr *http.Transport
	if d, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = d.Clone()
	} else {
		tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
	}
	tr.DisableKeepAlives = true
	return &http.Client{
		Transport:     tr,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkURL parses raw, an endpoint: absolute http or https, without user
// information. The error never shows raw unredacted.
func checkURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, newError("new", ErrInvalid, what+" does not parse", nil)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, newError("new", ErrInvalid, what+" "+redact.URL(u)+" is not an absolute http or https URL", nil)
	case u.User != nil:
		return nil, newError("new", ErrInvalid, what+" "+redact.URL(u)+" carries user information: put credentials in the transport of Options.HTTPClient", nil)
	}
	return u, nil
}

// isScopeToken reports whether s matches RFC 6749 section 3.3:
// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// basicCredential is the base64 of a client_secret_basic header: the
// client ID and secret, each form-encoded first (RFC 6749 section 2.3.1).
// The caller wipes it.
func basicCredential(clientID string, secret []byte) []byte {
	id := []byte(clientID)
	cred := make([]byte, 0, formenc.Len(id)+1+formenc.Len(secret))
	cred = formenc.Append(cred, id)
	cred = append(cred, ':')
	cred = formenc.Append(cred, secret)
	b := make([]byte, base64.StdEncoding.EncodedLen(len(cred)))
	base64.StdEncoding.Encode(b, cred)
	clear(cred)
	return b
}
