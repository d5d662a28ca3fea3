// Package redact makes references and URLs fit for errors, logs and the
// inventory, for every package that shows one: the store's references,
// a certificate issuer's directory URL.
package redact

import (
	"net/url"
	"strings"
)

// Ref returns ref (a secret reference or any URL) fit for logs and the inventory: the user-info part
// is replaced, and so is the value of any query or fragment parameter whose
// name suggests a credential. References are not meant to hold
// secrets, but some backends' URLs do.
func Ref(ref string) string {
	u, err := url.Parse(ref)
	if err != nil {
		// Unparseable: keep only the scheme, which picked the provider.
		if i := strings.IndexByte(ref, ':'); i > 0 {
			return ref[:i] + ":[unparseable reference]"
		}
		return "[unparseable reference]"
	}
	if u.User != nil {
		// A user name can be a token ("https://TOKEN@host/"): hide it all.
		u.User = url.User("xxxxx")
	}
	u.RawQuery = params(u.RawQuery)
	if strings.Contains(u.Fragment, "=") { // "#access_token=..."
		u.Fragment = params(u.Fragment)
		u.RawFragment = ""
	}
	return u.String()
}

// params replaces the values of credential-like parameters in a
// query string.
func params(raw string) string {
	if raw == "" {
		return raw
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "xxxxx"
	}
	changed := false
	for k := range q {
		if credential(k) {
			q[k] = []string{"xxxxx"}
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}

// credential reports whether a parameter's name suggests a credential.
func credential(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"token", "secret", "password", "passwd", "key", "credential", "auth", "signature", "sig"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
