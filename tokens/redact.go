package tokens

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/strongroom/strongroom/internal/redact"
)

// Every type of this package that holds secret material, or a URL that
// may carry one, describes itself in fmt (every verb), slog, JSON and
// text output through the methods below (and [Token]'s own), never
// showing the value. The types that hold none have no such methods:
// [Request], [Claims], [JWK] and [JWKSet] (public keys only: a JWK has no
// field for a private or symmetric member), the options structs other than
// [ClientOptions], and [OAuthError], whose texts are filtered when it is
// made.

const redacted = "[REDACTED]"

// String returns a redacted description of the grant: type, scopes,
// audience, expiry and ID, never the value.
func (g Grant) String() string {
	typ := g.Type
	if typ == "" {
		typ = "Bearer"
	}
	return describe("grant", typ, g.Scopes, g.Audience, g.ExpiresAt, g.ID)
}

// GoString is used by %#v; it is redacted like String.
func (g Grant) GoString() string { return g.String() }

// Format redacts every fmt verb (%v, %+v, %#v, %s, %q, %x, %d, ...).
func (g Grant) Format(f fmt.State, verb rune) { io.WriteString(f, g.String()) }

// LogValue makes slog log the metadata only.
func (g Grant) LogValue() slog.Value {
	return metaValue(g.Type, g.Scopes, g.Audience, g.ExpiresAt, g.ID)
}

// MarshalText returns the redacted description.
func (g Grant) MarshalText() ([]byte, error) { return []byte(g.String()), nil }

// MarshalJSON returns the metadata with the value redacted.
func (g Grant) MarshalJSON() ([]byte, error) {
	return metaJSON(g.Type, g.Scopes, g.Audience, g.ExpiresAt, g.ID)
}

// describe is the redacted one-line description of a token or grant.
func describe(what, typ string, scopes, audience []string, exp time.Time, id string) string {
	s := what + " " + typ + " scopes=[" + strings.Join(scopes, " ") + "]"
	if len(audience) > 0 {
		s += " audience=[" + strings.Join(audience, " ") + "]"
	}
	if exp.IsZero() {
		s += " expires=unknown"
	} else {
		s += " expires=" + exp.UTC().Format(time.RFC3339)
	}
	if id != "" {
		s += " id=" + redact.Printable(id, 64)
	}
	return s + " " + redacted
}

func metaValue(typ string, scopes, audience []string, exp time.Time, id string) slog.Value {
	attrs := []slog.Attr{
		slog.String("type", typ),
		slog.String("scopes", strings.Join(scopes, " ")),
		slog.String("audience", strings.Join(audience, " ")),
		slog.Time("expires", exp),
	}
	if id != "" {
		attrs = append(attrs, slog.String("id", redact.Printable(id, 64)))
	}
	return slog.GroupValue(append(attrs, slog.String("value", redacted))...)
}

func metaJSON(typ string, scopes, audience []string, exp time.Time, id string) ([]byte, error) {
	return json.Marshal(struct {
		Type      string    `json:"type"`
		Scopes    []string  `json:"scopes"`
		Audience  []string  `json:"audience,omitempty"`
		ExpiresAt time.Time `json:"expires_at"`
		ID        string    `json:"id,omitempty"`
		Value     string    `json:"value"`
	}{typ, scopes, audience, exp, id, redacted})
}

// String describes the credential: the method and the name of the secret
// it is read from ("client_secret_basic, secret \"oauth-client-secret\"").
// The store is not shown.
func (a ClientAuth) String() string {
	if a.Name == "" {
		return a.Method.String()
	}
	return a.Method.String() + ", secret " + fmt.Sprintf("%q", a.Name)
}

// GoString is used by %#v; it is String.
func (a ClientAuth) GoString() string { return a.String() }

// Format writes String for every fmt verb.
func (a ClientAuth) Format(f fmt.State, verb rune) { io.WriteString(f, a.String()) }

// LogValue makes slog log the method and the secret's name.
func (a ClientAuth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("method", a.Method.String()), slog.String("secret", a.Name))
}

// MarshalText returns String.
func (a ClientAuth) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// MarshalJSON returns the method and the secret's name.
func (a ClientAuth) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Method string `json:"method"`
		Secret string `json:"secret,omitempty"`
	}{a.Method.String(), a.Name})
}

// String describes the options that may matter in a log: the revocation
// URL (redacted: its query values and user information withheld), the
// names of the extra parameters (not their values), the audience
// parameter, and whether the refresh token grant is used.
func (o ClientOptions) String() string {
	var b strings.Builder
	b.WriteString("tokens.ClientOptions{")
	if o.RevocationURL != "" {
		b.WriteString("RevocationURL: " + redact.URLString(o.RevocationURL) + ", ")
	}
	if len(o.Params) > 0 {
		b.WriteString("Params: [" + strings.Join(paramNames(o.Params), " ") + "], ")
	}
	if o.AudienceParam != "" {
		b.WriteString("AudienceParam: " + o.AudienceParam + ", ")
	}
	if o.RefreshToken != "" {
		b.WriteString("refresh token grant, ")
	}
	return strings.TrimSuffix(b.String(), ", ") + "}"
}

func paramNames(v url.Values) []string {
	names := make([]string, 0, len(v))
	for k := range v {
		names = append(names, redact.Printable(k, 64))
	}
	slices.Sort(names)
	return names
}

// GoString is used by %#v; it is String.
func (o ClientOptions) GoString() string { return o.String() }

// Format writes String for every fmt verb.
func (o ClientOptions) Format(f fmt.State, verb rune) { io.WriteString(f, o.String()) }

// LogValue makes slog log what String shows.
func (o ClientOptions) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalText returns String.
func (o ClientOptions) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// MarshalJSON returns String as a JSON string.
func (o ClientOptions) MarshalJSON() ([]byte, error) { return json.Marshal(o.String()) }

// String describes the Client: its token endpoint (redacted: query values
// and user information withheld), client ID and authentication method.
func (c *Client) String() string {
	if c == nil {
		return "<nil>"
	}
	return "tokens.Client " + redact.URLString(c.tokenURL) + " client " + fmt.Sprintf("%q", c.clientID) + " (" + c.auth.String() + ")"
}

// GoString is used by %#v; it is String.
func (c *Client) GoString() string { return c.String() }

// Format writes String for every fmt verb.
func (c *Client) Format(f fmt.State, verb rune) { io.WriteString(f, c.String()) }

// LogValue makes slog log what String shows.
func (c *Client) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalText returns String.
func (c *Client) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// MarshalJSON returns String as a JSON string.
func (c *Client) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// String describes the key set: its URL, redacted (query values and user
// information withheld).
func (j *RemoteKeys) String() string {
	if j == nil {
		return "<nil>"
	}
	return "tokens.RemoteKeys " + j.shown
}

// GoString is used by %#v; it is String.
func (j *RemoteKeys) GoString() string { return j.String() }

// Format writes String for every fmt verb.
func (j *RemoteKeys) Format(f fmt.State, verb rune) { io.WriteString(f, j.String()) }

// LogValue makes slog log what String shows.
func (j *RemoteKeys) LogValue() slog.Value { return slog.StringValue(j.String()) }

// MarshalText returns String.
func (j *RemoteKeys) MarshalText() ([]byte, error) { return []byte(j.String()), nil }

// MarshalJSON returns String as a JSON string.
func (j *RemoteKeys) MarshalJSON() ([]byte, error) { return json.Marshal(j.String()) }

// The types below hold live state (locks, a held token) that fmt would
// otherwise print field by field, racing with their writers. Each shows a
// short description instead.

// String describes the Cache: the number of requests it holds.
func (c *Cache) String() string {
	if c == nil {
		return "<nil>"
	}
	if c.closed.Load() {
		return "tokens.Cache{closed}"
	}
	n := 0
	c.entries.Range(func(_, _ any) bool { n++; return true })
	return fmt.Sprintf("tokens.Cache{%d requests}", n)
}

// Format writes String for every fmt verb.
func (c *Cache) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

func (s *cacheSource) String() string { return "tokens.Source " + s.req.String() }

func (s *cacheSource) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// String describes the JWTIssuer: its issuer and signing key's name.
func (i *JWTIssuer) String() string {
	if i == nil {
		return "<nil>"
	}
	return fmt.Sprintf("tokens.JWTIssuer %q key %q", i.issuer, i.keyName)
}

// Format writes String for every fmt verb.
func (i *JWTIssuer) Format(f fmt.State, _ rune) { io.WriteString(f, i.String()) }

// String describes the StoreKeys: the names of its secrets.
func (k *StoreKeys) String() string {
	if k == nil {
		return "<nil>"
	}
	return fmt.Sprintf("tokens.StoreKeys%q", k.Names)
}

// Format writes String for every fmt verb.
func (k *StoreKeys) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }
