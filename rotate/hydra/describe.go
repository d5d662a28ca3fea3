package hydra

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/internal/redact"
)

// A Target and Options hold no secret, but URLs that might carry one in a
// query; they describe themselves with every URL redacted, in fmt (every
// verb), slog and text output, so that a program never prints one whole.

// String describes the target: the client ID and the admin URL, redacted.
func (t Target) String() string {
	return "hydra.Target client=" + strconv.Quote(redact.Printable(t.clientID, 100)) + " admin=" + redact.URLString(t.admin)
}

// GoString is String, for %#v.
func (t Target) GoString() string { return t.String() }

// Format writes String for every fmt verb.
func (t Target) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// LogValue makes slog log the client ID and the redacted admin URL.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(slog.String("client", t.clientID), slog.String("admin", redact.URLString(t.admin)))
}

// MarshalText returns String.
func (t Target) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// String describes the options with the token URL redacted.
func (o Options) String() string {
	s := "hydra.Options"
	if o.TokenURL != "" {
		s += " token=" + redact.URLString(o.TokenURL)
	}
	if o.AuthMethod != "" {
		s += " auth=" + redact.Printable(o.AuthMethod, 40)
	}
	if len(o.Scopes) > 0 {
		s += " scopes=[" + redact.Printable(strings.Join(o.Scopes, " "), 200) + "]"
	}
	if o.HTTPClient != nil {
		s += " http-client=set"
	}
	return s
}

// GoString is String, for %#v.
func (o Options) GoString() string { return o.String() }

// Format writes String for every fmt verb.
func (o Options) Format(f fmt.State, _ rune) { io.WriteString(f, o.String()) }

// LogValue makes slog log the description.
func (o Options) LogValue() slog.Value { return slog.StringValue(o.String()) }

// MarshalText returns String.
func (o Options) MarshalText() ([]byte, error) { return []byte(o.String()), nil }
