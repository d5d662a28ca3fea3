package testservers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// HydraVersion is the Ory Hydra release .ci/build-hydra builds.
const HydraVersion = "v2.3.0"

// Hydra is an Ory Hydra OAuth 2.0 server on loopback, with a SQLite
// store in the test's temporary directory, for one test.
type Hydra struct {
	// Public is the public endpoint ("http://127.0.0.1:PORT"): token,
	// revocation and JWKS.
	Public string
	// Admin is the admin endpoint: clients, keys, introspection.
	Admin string

	t testing.TB
	*process
}

// HydraOptions configure StartHydra. Nil means the defaults.
type HydraOptions struct {
	// AccessTokenTTL is the lifetime of access tokens. Zero: Hydra's
	// default (1 h).
	AccessTokenTTL time.Duration
	// JWTAccessTokens makes Hydra issue JWT access tokens (signed with its
	// hydra.jwt.access-token key set) instead of opaque ones.
	JWTAccessTokens bool
}

// TokenURL returns the token endpoint.
func (h *Hydra) TokenURL() string { return h.Public + "/oauth2/token" }

// RevocationURL returns the RFC 7009 revocation endpoint.
func (h *Hydra) RevocationURL() string { return h.Public + "/oauth2/revoke" }

// JWKSURL returns the public JWKS URL.
func (h *Hydra) JWKSURL() string { return h.Public + "/.well-known/jwks.json" }

// StartHydra starts Hydra (built by .ci/build-hydra, found by Binary) on
// two free loopback ports, waits until it reports ready, and stops it when
// the test ends.
func StartHydra(t testing.TB, opts *HydraOptions) *Hydra {
	t.Helper()
	bin := Binary(t, "hydra", ".ci/build-hydra")
	if opts == nil {
		opts = &HydraOptions{}
	}
	pub, adm := FreePort(t), FreePort(t)
	h := &Hydra{
		Public: "http://127.0.0.1:" + strconv.Itoa(pub),
		Admin:  "http://127.0.0.1:" + strconv.Itoa(adm),
		t:      t,
	}
	var sys [24]byte
	rand.Read(sys[:])
	dir := t.TempDir()
	// A SQLite file in WAL mode with a busy timeout, not DSN=memory: the
	// in-memory database shares one cache between connections, where
	// concurrent requests fail with "Unable to serialize access due to a
	// concurrent update" (an introspection then says "inactive" for a
	// valid token), and a busy timeout cannot help.
	dsn := "DSN=sqlite://" + filepath.Join(dir, "hydra.sqlite") + "?_fk=true&_journal_mode=WAL&_busy_timeout=10000"
	migrate := exec.Command(bin, "migrate", "sql", "up", "--read-from-env", "--yes")
	migrate.Env = append(os.Environ(), dsn)
	migrate.Dir = dir
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("hydra migrate: %v\n%s", err, out)
	}
	env := []string{
		dsn,
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_PUBLIC_PORT=" + strconv.Itoa(pub), "SERVE_ADMIN_PORT=" + strconv.Itoa(adm),
		"URLS_SELF_ISSUER=" + h.Public,
		"SECRETS_SYSTEM=" + hex.EncodeToString(sys[:]),
		"LOG_LEVEL=warn",
		// Never contacted: RefreshToken reads the challenges from the
		// redirects and accepts them through the admin API.
		"URLS_LOGIN=http://127.0.0.1:9/login", "URLS_CONSENT=http://127.0.0.1:9/consent",
	}
	if opts.AccessTokenTTL > 0 {
		env = append(env, "TTL_ACCESS_TOKEN="+opts.AccessTokenTTL.String())
	}
	if opts.JWTAccessTokens {
		env = append(env, "STRATEGIES_ACCESS_TOKEN=jwt")
	}
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	h.process = start(t, "hydra", cmd, 10*time.Second)
	h.waitReady(t, 60*time.Second, func() (bool, error) {
		resp, err := http.Get(h.Admin + "/health/ready")
		if err != nil {
			return false, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"ok"`), nil
	})
	return h
}

// Client is an OAuth 2.0 client registration, as Hydra's admin API reads
// and writes it (the fields the tests use).
type Client struct {
	ClientID                string         `json:"client_id"`
	ClientSecret            string         `json:"client_secret,omitempty"`
	GrantTypes              []string       `json:"grant_types"`
	ResponseTypes           []string       `json:"response_types,omitempty"`
	RedirectURIs            []string       `json:"redirect_uris,omitempty"`
	Scope                   string         `json:"scope"`
	Audience                []string       `json:"audience,omitempty"`
	TokenEndpointAuthMethod string         `json:"token_endpoint_auth_method"`
	TokenEndpointAuthAlg    string         `json:"token_endpoint_auth_signing_alg,omitempty"`
	JWKS                    map[string]any `json:"jwks,omitempty"`
}

// CreateClient registers c through the admin API.
func (h *Hydra) CreateClient(c Client) {
	h.t.Helper()
	h.admin(http.MethodPost, "/admin/clients", "application/json", c, http.StatusCreated)
}

// Patch applies a JSON Patch (RFC 6902) to the client: for example
// [{"op": "replace", "path": "/client_secret", "value": "..."}].
func (h *Hydra) Patch(clientID string, ops []map[string]any) {
	h.t.Helper()
	h.admin(http.MethodPatch, "/admin/clients/"+clientID, "application/json", ops, http.StatusOK)
}

// Introspect reports whether Hydra considers token active, and its scope;
// it fails the test when Hydra cannot answer. Call it from the test's
// goroutine; elsewhere use TryIntrospect.
func (h *Hydra) Introspect(token string) (active bool, scope string) {
	h.t.Helper()
	active, scope, err := h.TryIntrospect(token)
	if err != nil {
		h.t.Fatal(err)
	}
	return active, scope
}

// TryIntrospect is Introspect returning its error, for use from handlers
// and other goroutines than the test's.
func (h *Hydra) TryIntrospect(token string) (active bool, scope string, err error) {
	resp, err := http.Post(h.Admin+"/admin/oauth2/introspect", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return false, "", fmt.Errorf("introspect: %v", err)
	}
	defer resp.Body.Close()
	var r struct {
		Active bool   `json:"active"`
		Scope  string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
		return false, "", fmt.Errorf("introspect: HTTP %d, %v", resp.StatusCode, err)
	}
	return r.Active, r.Scope, nil
}

// RotateJWTKey adds a new RS256 key to the set that signs JWT access
// tokens; Hydra signs with it from then on and keeps publishing the old
// ones.
func (h *Hydra) RotateJWTKey(kid string) {
	h.t.Helper()
	h.admin(http.MethodPost, "/admin/keys/hydra.jwt.access-token", "application/json",
		map[string]string{"alg": "RS256", "use": "sig", "kid": kid}, http.StatusCreated)
}

// RefreshToken runs the authorization code flow for a user "user" (login
// and consent accepted through the admin API) and returns the refresh
// token the code is exchanged for. The client must allow the
// authorization_code and refresh_token grants, the response type "code",
// redirectURI, client_secret_basic with secret, and the scope
// offline_access.
func (h *Hydra) RefreshToken(clientID, secret, redirectURI string, scopes []string) string {
	h.t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	follow := func(u string) *url.URL {
		h.t.Helper()
		resp, err := browser.Get(u)
		if err != nil {
			h.t.Fatalf("authorization flow: %v", err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			h.t.Fatalf("authorization flow: HTTP %d from %s without a redirect", resp.StatusCode, u)
		}
		return loc
	}
	accept := func(kind, challenge string, body any) string {
		h.t.Helper()
		out := h.admin(http.MethodPut, "/admin/oauth2/auth/requests/"+kind+"/accept?"+kind+"_challenge="+url.QueryEscape(challenge),
			"application/json", body, http.StatusOK)
		var r struct {
			RedirectTo string `json:"redirect_to"`
		}
		json.Unmarshal(out, &r)
		return r.RedirectTo
	}
	q := url.Values{"client_id": {clientID}, "response_type": {"code"}, "redirect_uri": {redirectURI},
		"scope": {strings.Join(scopes, " ")}, "state": {"state-0123456789"}}
	login := follow(h.Public + "/oauth2/auth?" + q.Encode())
	next := accept("login", login.Query().Get("login_challenge"), map[string]any{"subject": "user"})
	consent := follow(next)
	next = accept("consent", consent.Query().Get("consent_challenge"), map[string]any{"grant_scope": scopes})
	back := follow(next)
	code := back.Query().Get("code")
	if code == "" {
		h.t.Fatalf("authorization flow ended at %s without a code", back.Redacted())
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}}
	req, _ := http.NewRequest(http.MethodPost, h.Public+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("code exchange: %v", err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.RefreshToken == "" {
		h.t.Fatalf("code exchange: HTTP %d, no refresh token (%v)", resp.StatusCode, err)
	}
	return tok.RefreshToken
}

// admin sends body as JSON to the admin API and checks the status.
func (h *Hydra) admin(method, path, ctype string, body any, want int) []byte {
	h.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		h.t.Fatal(err)
	}
	// Minutes, not seconds: creating a key set makes Hydra generate an
	// RSA key, which a loaded machine takes its time over.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, h.Admin+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", ctype)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("hydra admin %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		h.t.Fatalf("hydra admin %s %s: HTTP %d, want %d: %s", method, path, resp.StatusCode, want, out)
	}
	return out
}
