// Package redact makes references and URLs fit for errors, logs, fmt
// output and the inventory, for every package that shows one: the store's
// references, a certificate issuer's directory URL, a token endpoint. It
// also lists what it withholds, so that an error quoting those parts some
// other way (a backend's message, the HTTP stack's) can be scrubbed too.
//
// Two policies, one per kind of string:
//
//   - [Ref], for secret references: user information is withheld, and the
//     values of query and fragment parameters whose names suggest a
//     credential ("token", "sig", "api_key"...). Other parameters stay:
//     "?version=3" or "?stage=AWSPREVIOUS" is what an operator needs to see.
//   - [URL], for endpoints a client sends requests to: user information,
//     an opaque part, and every query and fragment value are withheld
//     (names kept), since an endpoint's parameters are set by whoever hands
//     out the URL and nothing says which carry a credential.
package redact

import (
	"net/url"
	"slices"
	"strings"
)

// Hidden replaces what is withheld.
const Hidden = "xxxxx"

// Ref returns ref (a secret reference, or any URL) fit for logs and the
// inventory: its user information is replaced, and so is the value of any
// query or fragment parameter whose name suggests a credential. A
// reference that does not parse keeps only its scheme.
func Ref(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		if i := strings.IndexByte(ref, ':'); i > 0 {
			return ref[:i] + ":[unparseable reference]"
		}
		return "[unparseable reference]"
	}
	if u.User != nil {
		// A user name can be a token ("https://TOKEN@host/"): hide it all.
		u.User = url.User(Hidden)
	}
	u.RawQuery = params(u.RawQuery, false)
	if strings.Contains(u.Fragment, "=") { // "#access_token=..."
		u.Fragment = params(u.EscapedFragment(), false)
		u.RawFragment = ""
	}
	return u.String()
}

// URL returns u fit for messages: its user information (user name
// included: an API key often travels as one), its opaque part, and the
// value of every query and fragment parameter replaced, the parameter
// names kept, cut to 200 bytes of printable ASCII.
func URL(u *url.URL) string { return Printable(FullURL(u), 200) }

// FullURL is URL before the cut.
func FullURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		c.User = url.User(Hidden)
	}
	if c.Opaque != "" {
		c.Opaque = Hidden
	}
	c.RawQuery = params(c.RawQuery, true)
	c.ForceQuery = false
	if c.Fragment != "" || c.RawFragment != "" {
		c.Fragment, c.RawFragment = params(c.EscapedFragment(), true), ""
	}
	return c.String()
}

// URLString is URL for a URL held as a string; one that does not parse is
// withheld whole.
func URLString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[URL withheld: it does not parse]"
	}
	return URL(u)
}

// params replaces the value of each "name=value" of a query (or fragment)
// with Hidden: every value when all is set, else those whose names suggest
// a credential. A part without '=' is a value on its own, replaced whole
// when all is set. Empty values stay empty; the order of the parts stays.
func params(raw string, all bool) string {
	if raw == "" {
		return ""
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		name, value, ok := strings.Cut(p, "=")
		switch {
		case !ok && p != "" && all:
			parts[i] = Hidden
		case ok && value != "" && (all || credential(name)):
			parts[i] = name + "=" + Hidden
		}
	}
	return strings.Join(parts, "&")
}

// credential reports whether a parameter's name (raw, as in a query)
// suggests a credential.
func credential(name string) bool {
	if dec, err := url.QueryUnescape(name); err == nil {
		name = dec
	}
	name = strings.ToLower(name)
	for _, w := range []string{"token", "secret", "password", "passwd", "key", "credential", "auth", "signature", "sig"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// RefParts returns the parts of ref that Ref withholds, as they appear in
// ref and decoded, longest first; URLParts those that URL withholds. A
// string that does not parse is one part, whole. An error that quotes one
// of them quotes the credential, however it got there.
func RefParts(ref string) []string { return parts(ref, false) }

// URLParts returns the parts of raw that URL withholds (see [RefParts]).
func URLParts(raw string) []string { return parts(raw, true) }

func parts(raw string, all bool) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return []string{raw}
	}
	var out []string
	add := func(s ...string) {
		for _, p := range s {
			if p != "" {
				out = append(out, p)
			}
		}
	}
	if u.User != nil {
		p, _ := u.User.Password()
		add(u.User.String(), u.User.Username(), p)
	}
	if all {
		add(u.Opaque)
	}
	for _, part := range []string{u.RawQuery, u.EscapedFragment()} {
		for _, p := range strings.Split(part, "&") {
			name, v, ok := strings.Cut(p, "=")
			if !ok {
				name, v = "", p
			}
			if !all && (!ok || !credential(name)) {
				continue
			}
			dec, err := url.QueryUnescape(v)
			if err != nil {
				dec = v
			}
			add(v, dec)
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// MinPart is the shortest withheld part looked for in other text: shorter
// ones would match innocent text ("dial tcp 127.0.0.1:1").
const MinPart = 4

// Quotes reports whether s contains one of parts of MinPart bytes or more.
func Quotes(s string, parts []string) bool {
	for _, p := range parts {
		if len(p) >= MinPart && strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// Printable returns s cut to n bytes, each byte outside printable ASCII
// (the character set RFC 6749 allows in error fields) replaced by '?', so
// that text from a server cannot forge log lines.
func Printable(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
