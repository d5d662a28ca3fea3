package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/strongroom/strongroom/internal/formenc"
	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/internal/leak"
	"github.com/strongroom/strongroom/secrets"
)

// AuthMethod is how a [Client] authenticates to the token endpoint (RFC
// 6749 section 2.3, RFC 7523 section 2.2, OpenID Connect Core section 9).
type AuthMethod int

// Client authentication methods.
const (
	// AuthNone: a public client; client_id in the request body, no
	// credential.
	AuthNone AuthMethod = iota
	// AuthSecretBasic: client_secret_basic, the client ID and secret in an
	// HTTP Basic Authorization header.
	AuthSecretBasic
	// AuthSecretPost: client_secret_post, the client ID and secret in the
	// request body.
	AuthSecretPost
	// AuthPrivateKeyJWT: private_key_jwt, a short-lived JWT assertion
	// signed with the client's private key (RFC 7523).
	AuthPrivateKeyJWT
)

var authNames = [...]string{"none", "client_secret_basic", "client_secret_post", "private_key_jwt"}

// String returns the method's registered name ("client_secret_basic", ...).
func (m AuthMethod) String() string {
	if m >= 0 && int(m) < len(authNames) {
		return authNames[m]
	}
	return "AuthMethod(" + strconv.Itoa(int(m)) + ")"
}

// ClientAuth is a client's credential: the method, and the secret in a
// store that holds the client secret (for the client_secret methods) or the
// PEM private key (for private_key_jwt: PKCS #8, PKCS #1 or SEC 1; RSA of
// 2048 bits or more, ECDSA P-256/P-384/P-521, or Ed25519). The secret is
// read on every request, so rotating it in the store needs no restart.
type ClientAuth struct {
	Method  AuthMethod
	Secrets Secrets // where the credential lives; may be nil for AuthNone
	Name    string  // the credential's name in Secrets; empty for AuthNone
}

// ClientSecretBasic authenticates with the client secret called name in s,
// in an HTTP Basic header.
func ClientSecretBasic(s Secrets, name string) ClientAuth {
	return ClientAuth{Method: AuthSecretBasic, Secrets: s, Name: name}
}

// ClientSecretPost authenticates with the client secret called name in s,
// in the request body.
func ClientSecretPost(s Secrets, name string) ClientAuth {
	return ClientAuth{Method: AuthSecretPost, Secrets: s, Name: name}
}

// PrivateKeyJWT authenticates with a JWT assertion signed by the private
// key called name in s (RFC 7523). The assertion's "kid" is the key's
// version in the store (see ClientOptions.KeyID).
func PrivateKeyJWT(s Secrets, name string) ClientAuth {
	return ClientAuth{Method: AuthPrivateKeyJWT, Secrets: s, Name: name}
}

// ClientOptions configure a [Client]. A nil *ClientOptions means the
// defaults; every field's zero value selects the default its comment
// states.
type ClientOptions struct {
	// HTTPClient makes the requests; go-retryablehttp retries through it.
	// Nil: the Client's own: HTTP/1.1 with a 30 s timeout and no
	// keep-alives, whose connections wipe the transport's read and write
	// buffers (which hold the tokens and credentials of each exchange)
	// when they close. With a client of the program's, those buffers are
	// not wiped (see Security in the package documentation).
	HTTPClient *http.Client

	// RetryMax is how many times one request is retried after a
	// connection error or a 5xx answer without Retry-After (an answer with
	// Retry-After is returned at once: the Cache waits it out). A refresh
	// token grant is never retried: the server may have consumed the
	// refresh token already, and one with reuse detection would revoke
	// the whole family on seeing it again. Zero: 2. Negative: no retries.
	RetryMax int

	// RetryWaitMin and RetryWaitMax bound the exponential wait between
	// those retries. Zero: 100 ms and 2 s.
	RetryWaitMin, RetryWaitMax time.Duration

	// RevocationURL is the RFC 7009 revocation endpoint. Empty: tokens are
	// not revoked (Revoke does nothing).
	RevocationURL string

	// AudienceParam is the form parameter that carries Request.Audience:
	// one space-separated value, except for "resource" (RFC 8707), which
	// is repeated, one parameter per audience. Empty: "audience" (as Ory
	// Hydra and Auth0 read it).
	AudienceParam string

	// Params are extra form parameters sent with every token request.
	// Nil: none. They must not hold credentials.
	Params url.Values

	// AssertionLifetime is the lifetime of a private_key_jwt assertion.
	// Zero: 1 min.
	AssertionLifetime time.Duration

	// AssertionAudience is the "aud" of a private_key_jwt assertion.
	// Empty: the token URL.
	AssertionAudience string

	// KeyID derives the assertion's "kid" from the signing key's version
	// in the store and its public key. Nil: the version itself (see
	// [Thumbprint] for an ID that is the same in every process).
	KeyID func(version string, pub crypto.PublicKey) string

	// RefreshToken, when set, names a secret in ClientAuth.Secrets that
	// holds a refresh token: the Client then uses the refresh_token grant
	// (RFC 6749 section 6) instead of client_credentials. When the server
	// rotates the refresh token, the Client keeps the new one (sealed) and
	// uses it from then on, and hands it to OnRefreshToken; once the
	// secret's version in the store changes (the program persisted the
	// new token, or an operator provisioned another), the store's wins
	// again. Refresh grants run one at a time; once sent, a grant is never
	// cancelled (not by Fetch's context, nor by a Cache's Drop or Close),
	// so that a rotated refresh token is never lost: it runs to its end,
	// bounded by RefreshTimeout.
	RefreshToken string

	// RefreshTimeout bounds a refresh token grant once sent, and the
	// OnRefreshToken call after it. Zero: 30 s.
	RefreshTimeout time.Duration

	// OnRefreshToken receives a rotated refresh token, for the program to
	// persist (for example with secrets.Store.Write); the slice is wiped
	// when it returns, so copy it only into guarded storage. It runs while
	// the Client holds its refresh lock: it must not call the Client's
	// Fetch or Close, nor wait for a Cache over the Client. Its context is
	// not cancelled with the Fetch that caused it. An error is logged; the
	// new token is kept in memory either way. Nil: the rotated token lives
	// only in this Client.
	OnRefreshToken func(ctx context.Context, refreshToken []byte) error

	// Clock gives the times in assertions and expiries. Nil: the wall clock.
	Clock secrets.Clock

	// Logger receives retries and rotation notices (never credentials).
	// Nil: silent.
	Logger *slog.Logger
}

// Client obtains access tokens from an OAuth 2.0 token endpoint with the
// client credentials grant (RFC 6749 section 4.4), or the refresh token
// grant when ClientOptions.RefreshToken is set. It is a [Fetcher] and a
// [Revoker]: wrap it in a [Cache]. It is safe for concurrent use.
//
// A client secret rotated in place (a server such as Ory Hydra holds one
// secret per client) leaves a moment in which the server has the new
// secret and the store still serves the old one. When the token endpoint
// answers invalid_client (HTTP 401, or 400 with error=invalid_client) to
// a client that authenticates with a secret or key from the store
// (ClientSecretBasic, ClientSecretPost, PrivateKeyJWT), the Client asks
// the store to refresh that secret from its backend (when its [Secrets]
// has a Refresh method, as a *secrets.Store does) and, if the version it
// then serves is not the one sent, sends the request once more with the
// new credential. If the version did not change but the secret is being
// rotated by package rotate (its metadata names a pending secret, see
// [PendingAnnotation]: a *secrets.Store has Metadata), the pending value,
// set at the server but not yet promoted, is sent instead (secret
// methods only). If neither applies, or the second answer is
// invalid_client too, Fetch returns that error: at most two token
// requests per Fetch for this reason, never a loop. The retry is logged
// at Info. Revoke does not retry.
type Client struct {
	tokenURL string
	clientID string
	auth     ClientAuth
	opts     ClientOptions
	hc       *retryablehttp.Client
	clock    secrets.Clock
	log      *slog.Logger

	rtMu    sync.Mutex // guards rt, rtBase and closed; serialises refresh grants
	rtGuard *guard.Guard
	rt      *guard.Sealed // the latest rotated refresh token; nil: read the store
	rtBase  string        // the store's version that rt replaced
	closed  bool
}

// NewClient returns a Client for the token endpoint tokenURL and the
// client called clientID. It fails with ErrInvalid for a malformed URL, a
// URL with credentials in it (user information; the error shows the URL
// with them withheld) or an incomplete auth, and (with the refresh token
// grant) when no memory can be locked.
func NewClient(tokenURL, clientID string, auth ClientAuth, opts *ClientOptions) (*Client, error) {
	c := &Client{tokenURL: tokenURL, clientID: clientID, auth: auth}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	for i, u := range []string{tokenURL, o.RevocationURL} {
		if i > 0 && u == "" {
			continue // no revocation endpoint
		}
		if err := checkURL(u); err != nil {
			return nil, newError("new client", ErrInvalid, err)
		}
	}
	if clientID == "" {
		return nil, invalidf("new client", "empty client ID")
	}
	if auth.Method < AuthNone || auth.Method > AuthPrivateKeyJWT {
		return nil, invalidf("new client", "unknown auth method %d", int(auth.Method))
	}
	if auth.Method != AuthNone && (auth.Secrets == nil || auth.Name == "") {
		return nil, invalidf("new client", "%s needs Secrets and a secret name", auth.Method)
	}
	if o.RefreshToken != "" && auth.Secrets == nil {
		return nil, invalidf("new client", "RefreshToken needs ClientAuth.Secrets")
	}
	if o.AudienceParam == "" {
		o.AudienceParam = "audience"
	}
	if o.AssertionAudience == "" {
		o.AssertionAudience = tokenURL
	}
	setDefault(&o.AssertionLifetime, time.Minute)
	setDefault(&o.RetryWaitMin, 100*time.Millisecond)
	setDefault(&o.RetryWaitMax, 2*time.Second)
	setDefault(&o.RefreshTimeout, 30*time.Second)
	switch {
	case o.RetryMax == 0:
		o.RetryMax = 2
	case o.RetryMax < 0:
		o.RetryMax = 0
	}
	if c.clock = o.Clock; c.clock == nil {
		c.clock = secrets.WallClock{}
	}
	if c.log = o.Logger; c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = newHTTPClient()
	}
	c.hc = &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: o.RetryWaitMin,
		RetryWaitMax: o.RetryWaitMax,
		RetryMax:     o.RetryMax,
		CheckRetry: func(ctx context.Context, resp *http.Response, err error) (bool, error) {
			if a, _ := ctx.Value(attemptKey{}).(*attempts); a != nil && a.once {
				return false, nil
			}
			if resp != nil && resp.Header.Get("Retry-After") != "" {
				return false, nil // long waits belong to the Cache, not to this request
			}
			return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
		},
		PrepareRetry: func(r *http.Request) error {
			if a, _ := r.Context().Value(attemptKey{}).(*attempts); a != nil && a.next != nil {
				return a.next(r)
			}
			return nil
		},
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	if o.RefreshToken != "" {
		g, err := guard.New(nil)
		if err != nil {
			return nil, newError("new client", secrets.ErrLockedMemory, err)
		}
		c.rtGuard = g
	}
	return c, nil
}

// Fetch obtains a new access token for req. Errors from the server are
// *[OAuthError] values (with the RFC 6749 error fields); none contains a
// credential. A refresh token grant, once sent, is not cancelled with ctx
// (see ClientOptions.RefreshToken).
func (c *Client) Fetch(ctx context.Context, req Request) (*Grant, error) {
	form := url.Values{}
	for k, v := range c.opts.Params {
		form[k] = v
	}
	if len(req.Scopes) > 0 {
		form.Set("scope", strings.Join(req.Scopes, " "))
	}
	if len(req.Audience) > 0 {
		if c.opts.AudienceParam == "resource" {
			form["resource"] = append([]string(nil), req.Audience...) // RFC 8707: one per resource
		} else {
			form.Set(c.opts.AudienceParam, strings.Join(req.Audience, " "))
		}
	}
	if c.opts.RefreshToken == "" {
		if c.isClosed() {
			return nil, newError("fetch", ErrClosed, nil)
		}
		form.Set("grant_type", "client_credentials")
		g, rt, err := c.tokenRequest(ctx, form, nil, false)
		clear(rt) // a refresh token this grant does not use
		return g, err
	}
	form.Set("grant_type", "refresh_token")
	c.rtMu.Lock() // one refresh grant at a time: each may rotate the token
	defer c.rtMu.Unlock()
	if c.closed {
		return nil, newError("fetch", ErrClosed, nil)
	}
	rt, base, err := c.refreshToken(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(rt)
	if err := ctx.Err(); err != nil {
		return nil, newError("fetch", nil, err) // not sent: giving up loses nothing
	}
	// From here on the grant is not cancelled: the server consumes the
	// refresh token when it answers, and the one it rotates in must reach
	// the program. Nor is it retried (see ClientOptions.RetryMax).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.RefreshTimeout)
	defer cancel()
	g, newRT, err := c.tokenRequest(ctx, form, []param{{"refresh_token", rt}}, true)
	if len(newRT) > 0 {
		c.rotated(ctx, newRT, base)
		clear(newRT)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// refreshToken returns a copy of the refresh token to use and the store's
// version of the secret. The rotated token held wins while the store still
// has the version it replaced; once the store has another (the program
// persisted the rotated token, or an operator provisioned a new one), the
// store's wins and the one held is dropped. While the store cannot be read
// the one held is used, unless the secret was revoked. c.rtMu is held.
func (c *Client) refreshToken(ctx context.Context) ([]byte, string, error) {
	sec, err := c.auth.Secrets.Get(ctx, c.opts.RefreshToken)
	if c.rt != nil {
		switch {
		case err == nil && sec.Version() != c.rtBase, errors.Is(err, secrets.ErrRevoked):
			c.rt.Destroy()
			c.rt, c.rtBase = nil, ""
		default:
			var rt []byte
			if err := c.rtGuard.Open(c.rt, func(v []byte) error { rt = append([]byte(nil), v...); return nil }); err != nil {
				return nil, "", newError("fetch", nil, err)
			}
			return rt, c.rtBase, nil
		}
	}
	if err != nil {
		return nil, "", newError("fetch", nil, err)
	}
	var rt []byte
	var version string
	err = useHandle(ctx, c.auth.Secrets, c.opts.RefreshToken, sec, func(v string, value []byte) error {
		rt, version = append([]byte(nil), value...), v
		return nil
	})
	if err != nil {
		return nil, "", newError("fetch", nil, err)
	}
	return rt, version, nil
}

// rotated keeps a new refresh token, which replaces the store's version
// base, and hands it to the program. c.rtMu is held.
func (c *Client) rotated(ctx context.Context, rt []byte, base string) {
	sealed, err := c.rtGuard.Seal(rt)
	if err != nil {
		c.log.Error("tokens: cannot keep the rotated refresh token", "error", err.Error())
	} else {
		if c.rt != nil {
			c.rt.Destroy()
		}
		c.rt, c.rtBase = sealed, base
	}
	if c.opts.OnRefreshToken != nil {
		if err := c.opts.OnRefreshToken(ctx, rt); err != nil {
			c.log.Error("tokens: OnRefreshToken failed; the rotated refresh token is kept in memory only", "error", scrubText(err.Error(), rt))
		}
	}
}

// Revoke revokes t at the revocation endpoint (RFC 7009), when
// ClientOptions.RevocationURL is set; otherwise it does nothing.
func (c *Client) Revoke(ctx context.Context, t *Token) error {
	if c.opts.RevocationURL == "" {
		return nil
	}
	if c.isClosed() {
		return newError("revoke", ErrClosed, nil)
	}
	var value []byte
	if err := t.Use(func(v []byte) error { value = append([]byte(nil), v...); return nil }); err != nil {
		return err
	}
	defer clear(value)
	form := url.Values{"token_type_hint": {"access_token"}}
	resp, err := c.request(ctx, "revocation", c.opts.RevocationURL, form, []param{{"token", value}}, false)
	if err != nil {
		return err
	}
	defer resp.wipe()
	if resp.status != http.StatusOK {
		return parseErrorResponse("revocation", resp.status, resp.header, resp.body, c.clock.Now(), resp.creds...)
	}
	return nil
}

// Close wipes the rotated refresh token held, if any, and closes the idle
// connections of the HTTP client the Client made (not of
// ClientOptions.HTTPClient). A refresh grant under way finishes first
// (within RefreshTimeout). It is idempotent; Fetch and Revoke fail with
// ErrClosed afterwards. Close a Client after the Caches that use it.
func (c *Client) Close() error {
	c.rtMu.Lock()
	defer c.rtMu.Unlock()
	if !c.closed {
		c.closed = true
		if c.opts.HTTPClient == nil {
			c.hc.HTTPClient.CloseIdleConnections()
		}
		if c.rt != nil {
			c.rt.Destroy()
			c.rt = nil
		}
		if c.rtGuard != nil {
			c.rtGuard.Close()
		}
	}
	return nil
}

func (c *Client) isClosed() bool {
	c.rtMu.Lock()
	defer c.rtMu.Unlock()
	return c.closed
}

// param is a form parameter whose value is a credential.
type param struct {
	name  string
	value []byte
}

// tokenRequest posts form (plus secret parameters) to the token endpoint
// and parses the answer; once means no retries after a connection error
// or a 5xx. When the server refuses the client (invalid_client) and the
// credential's version in the store, refreshed from its backend, is not
// the one sent, it tries once more with the new one (a server that
// refuses the client has not looked at the grant), and never more than
// once. A refresh token in a 200 answer is returned even with an error
// (see parseTokenResponse).
func (c *Client) tokenRequest(ctx context.Context, form url.Values, secret []param, once bool) (*Grant, []byte, error) {
	for try := 0; ; try++ {
		// expires_in counts from when the server answered, which is after
		// the request left: counting from then never overstates the
		// lifetime, however slow the answer.
		sent := c.clock.Now()
		resp, err := c.request(ctx, "token", c.tokenURL, form, secret, once)
		if err != nil {
			return nil, nil, err
		}
		g, rt, err := parseTokenResponse(resp.status, resp.header, resp.body, sent, resp.creds...)
		resp.wipe()
		if err == nil {
			return g, rt, nil
		}
		var oe *OAuthError
		if try == 0 && errors.As(err, &oe) && oe.Code == "invalid_client" {
			if c.credentialChanged(ctx, resp.version) {
				c.log.Info("tokens: client credential changed in the store during a request; retrying with the new version")
				continue
			}
			if name := c.pendingCredential(ctx); name != "" {
				c.log.Info("tokens: client credential refused while it is being rotated; retrying with the pending one", "secret", name)
				ctx = context.WithValue(ctx, credentialKey{}, name)
				continue
			}
			// The pending one may have been promoted in between: it is
			// then the current one.
			if sec, err := c.auth.Secrets.Get(ctx, c.auth.Name); err == nil && sec.Version() != resp.version {
				continue
			}
		}
		return nil, rt, err
	}
}

// credentialChanged reports whether the credential's version in the store
// is no longer version. When the store can refresh (see [Secrets]) it is
// first asked to fetch the credential from its backend: the server may
// have been given a rotated secret that the backend holds and the store
// has not fetched yet. A failed refresh is logged, and the version the
// store holds decides.
func (c *Client) credentialChanged(ctx context.Context, version string) bool {
	if c.auth.Method == AuthNone || version == "" {
		return false
	}
	if r, ok := c.auth.Secrets.(refresher); ok {
		if err := r.Refresh(ctx, c.auth.Name); err != nil {
			c.log.Warn("tokens: cannot refresh the client credential after invalid_client", "secret", c.auth.Name, "error", err.Error())
		}
	}
	sec, err := c.auth.Secrets.Get(ctx, c.auth.Name)
	return err == nil && sec.Version() != version
}

// PendingAnnotation is the annotation (secrets.Metadata.Annotations) of a
// client credential under rotation that names the secret holding its
// pending value, while that value is valid at the server but not yet
// promoted. Package rotate sets it. A server that holds one secret per
// client (rotated in place) refuses the current one from the moment it
// takes the pending one: a Client refused with invalid_client whose store
// has no newer version tries the pending one, once.
const PendingAnnotation = "rotation.pending"

// credentialKey is the context key under which tokenRequest tells request
// to send another secret than the client's own (a pending one).
type credentialKey struct{}

// credentialName is the secret the credential is read from for a request
// with ctx.
func (c *Client) credentialName(ctx context.Context) string {
	if n, ok := ctx.Value(credentialKey{}).(string); ok {
		return n
	}
	return c.auth.Name
}

// metadataReader is the part of *secrets.Store that reads annotations.
type metadataReader interface {
	Metadata(name string) (secrets.Metadata, error)
}

// pendingCredential returns the name of the secret holding the client
// credential's pending value (see PendingAnnotation), refreshed from its
// backend, when its value differs from the current one; "" otherwise.
func (c *Client) pendingCredential(ctx context.Context) string {
	if c.auth.Method != AuthSecretBasic && c.auth.Method != AuthSecretPost {
		return ""
	}
	m, ok := c.auth.Secrets.(metadataReader)
	if !ok {
		return ""
	}
	md, err := m.Metadata(c.auth.Name)
	name := md.Annotations[PendingAnnotation]
	if err != nil || name == "" {
		return ""
	}
	if r, ok := c.auth.Secrets.(refresher); ok {
		r.Refresh(ctx, name)
	}
	pending, err := c.auth.Secrets.Get(ctx, name)
	if err != nil {
		return ""
	}
	differs := false
	err = useSecret(ctx, c.auth.Secrets, c.auth.Name, func(_ string, cur []byte) error {
		differs = !pending.Equal(cur)
		return nil
	})
	if err != nil || !differs {
		return ""
	}
	return name
}

// response is what request read; body is wiped by the caller.
type response struct {
	status  int
	header  http.Header
	body    []byte
	version string   // the credential's version used
	creds   [][]byte // credentials sent, in every form sent, for scrubbing
}

// wipe clears the body and the copies of the credentials sent.
func (r *response) wipe() {
	clear(r.body)
	for _, b := range r.creds {
		clear(b)
	}
	r.body, r.creds = nil, nil
}

// addCred notes a credential sent, as it is and form-encoded (as a form
// parameter or a client_secret_basic part carries it), for scrubbing.
func (r *response) addCred(v []byte) {
	r.creds = append(r.creds, append([]byte(nil), v...))
	if n := formenc.Len(v); n != len(v) || bytes.IndexByte(v, ' ') >= 0 {
		r.creds = append(r.creds, formenc.Append(make([]byte, 0, n), v))
	}
}

// attemptKey is the context key under which request tells the Client's
// retry hooks about one request.
type attemptKey struct{}

// attempts is what the retry hooks need to know of one request.
type attempts struct {
	once bool                        // no retries
	next func(r *http.Request) error // builds the body of a retry; nil: it does not change
}

// request posts form, the secret parameters and the client's credential to
// target through go-retryablehttp, and reads the answer; once means no
// retries.
func (c *Client) request(ctx context.Context, endpoint, target string, form url.Values, secret []param, once bool) (*response, error) {
	r := &response{}
	var bufs [][]byte // every plaintext built here; wiped on return
	done := false
	defer func() {
		for _, b := range bufs {
			clear(b)
		}
		if !done {
			r.wipe() // the caller gets no response to wipe
		}
	}()
	public := encodeForm(form)
	var header string
	var base []byte
	build := func(credential []param) {
		// Sized once: a buffer that grew would leave a copy of what it
		// held behind.
		n := len(public)
		for _, p := range secret {
			n += paramLen(p.name, p.value)
		}
		for _, p := range credential {
			n += paramLen(p.name, p.value)
		}
		base = append(make([]byte, 0, n), public...)
		for _, p := range secret {
			base = appendParam(base, p.name, p.value)
			r.addCred(p.value)
		}
		for _, p := range credential {
			base = appendParam(base, p.name, p.value)
		}
		bufs = append(bufs, base)
	}
	switch c.auth.Method {
	case AuthNone:
		build([]param{{"client_id", []byte(c.clientID)}})
	case AuthPrivateKeyJWT:
		build(nil) // the client ID goes with the assertion
	case AuthSecretBasic, AuthSecretPost:
		err := useSecret(ctx, c.auth.Secrets, c.credentialName(ctx), func(version string, v []byte) error {
			r.version = version
			r.addCred(v)
			if c.auth.Method == AuthSecretPost {
				build([]param{{"client_id", []byte(c.clientID)}, {"client_secret", v}})
				return nil
			}
			build(nil)
			b := basicCredential(c.clientID, v)
			header = "Basic " + string(b)
			r.creds = append(r.creds, b) // an echoed Authorization header
			return nil
		})
		if err != nil {
			return nil, newError(endpoint+" request", nil, err)
		}
	}
	// The body is built once per attempt: go-retryablehttp reads it once
	// to size the request and once per attempt, and the size it took must
	// stay the size sent.
	body := base
	a := &attempts{once: once}
	if c.auth.Method == AuthPrivateKeyJWT {
		b, err := c.withAssertion(ctx, r, base)
		if err != nil {
			return nil, newError(endpoint+" request", nil, err)
		}
		bufs = append(bufs, b)
		body = b
		// A fresh assertion (fresh jti) for every retry: a server that saw
		// the first one must not take a retry for a replay. A rotated key
		// may change its length, so Content-Length follows.
		a.next = func(hr *http.Request) error {
			b, err := c.withAssertion(ctx, r, base)
			if err != nil {
				return err
			}
			bufs = append(bufs, b)
			body = b
			hr.ContentLength = int64(len(b))
			return nil
		}
	}
	reader := retryablehttp.ReaderFunc(func() (io.Reader, error) { return newByteReader(body), nil })
	resp, respBody, err := exchange(ctx, target, func(ctx context.Context) (*http.Response, error) {
		req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, attemptKey{}, a), http.MethodPost, target, reader)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		return c.hc.Do(req)
	})
	if err != nil {
		return nil, newError(endpoint+" request", nil, err)
	}
	r.status, r.header, r.body = resp.StatusCode, resp.Header, respBody
	done = true
	return r, nil
}

// basicCredential is the base64 of a client_secret_basic header: the
// client ID and secret, each form-encoded first (RFC 6749 section
// 2.3.1). The caller wipes it.
func basicCredential(clientID string, secret []byte) []byte {
	cred := make([]byte, 0, formenc.Len([]byte(clientID))+1+formenc.Len(secret))
	cred = formenc.Append(cred, []byte(clientID))
	cred = append(cred, ':')
	cred = formenc.Append(cred, secret)
	b := make([]byte, base64.StdEncoding.EncodedLen(len(cred)))
	base64.StdEncoding.Encode(b, cred)
	clear(cred)
	return b
}

// withAssertion returns base with the client ID and a fresh private_key_jwt
// assertion appended (a new slice), and notes the credential in r.
func (c *Client) withAssertion(ctx context.Context, r *response, base []byte) ([]byte, error) {
	a, version, err := c.assertion(ctx)
	if err != nil {
		return nil, err
	}
	defer clear(a)
	r.version = version
	r.addCred(a)
	params := []param{
		{"client_id", []byte(c.clientID)},
		{"client_assertion_type", []byte("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")},
		{"client_assertion", a},
	}
	n := len(base)
	for _, p := range params {
		n += paramLen(p.name, p.value)
	}
	b := append(make([]byte, 0, n), base...)
	for _, p := range params {
		b = appendParam(b, p.name, p.value)
	}
	return b, nil
}

// assertion signs a private_key_jwt client assertion with the current key
// and returns it with the key's version.
func (c *Client) assertion(ctx context.Context) ([]byte, string, error) {
	var out []byte
	var ver string
	err := useSecret(ctx, c.auth.Secrets, c.auth.Name, func(version string, pemKey []byte) error {
		key, err := parsePrivateKey(pemKey)
		if err != nil {
			return err
		}
		alg, _ := algFor(key.Public())
		now := c.clock.Now()
		claims := jwt.RegisteredClaims{
			Issuer: c.clientID, Subject: c.clientID,
			Audience:  jwt.ClaimStrings{c.opts.AssertionAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(c.opts.AssertionLifetime)),
			ID:        randomID(),
		}
		t := jwt.NewWithClaims(signingMethod(alg), claims)
		t.Header["kid"] = keyID(c.opts.KeyID, version, key.Public())
		s, err := t.SignedString(key)
		if err != nil {
			return newError("sign", nil, err)
		}
		out, ver = []byte(s), version
		return nil
	})
	if err != nil {
		return nil, "", newError("client assertion", nil, err)
	}
	return out, ver, nil
}

func keyID(f func(string, crypto.PublicKey) string, version string, pub crypto.PublicKey) string {
	if f != nil {
		return f(version, pub)
	}
	return version
}

// randomID returns 128 random bits, base64url: a jti.
func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// encodeForm encodes the public parameters in a stable order.
func encodeForm(v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, val := range v[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(val))
		}
	}
	return b.String()
}

// paramLen is the most appendParam adds for name and value.
func paramLen(name string, value []byte) int {
	return 2 + len(url.QueryEscape(name)) + formenc.Len(value)
}

// appendParam appends "&name=value" (or "name=value" to an empty form),
// form-encoding value without making a string of it.
func appendParam(b []byte, name string, value []byte) []byte {
	if len(b) > 0 {
		b = append(b, '&')
	}
	b = append(b, url.QueryEscape(name)...)
	b = append(b, '=')
	return formenc.Append(b, value)
}

// byteReader is a bytes.Reader that go-retryablehttp can size (LenReader).
type byteReader struct {
	b []byte
	i int
}

func newByteReader(b []byte) *byteReader { return &byteReader{b: b} }

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

// Len is the number of bytes left.
func (r *byteReader) Len() int { return len(r.b) - r.i }

// scrubText withholds s when it may quote one of creds (see
// internal/leak).
func scrubText(s string, creds ...[]byte) string {
	if leak.Quotes(s, creds...) {
		return "[message withheld: it quoted a credential]"
	}
	return s
}
