package secrets

import (
	"net/url"
	"strings"
)

// redactRef returns ref fit for logs and the inventory: the user-info part
// is replaced, and so is the value of any query or fragment parameter whose
// name suggests a credential. References are not meant to hold
// secrets, but some backends' URLs do.
func redactRef(ref string) string {
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
	u.RawQuery = redactParams(u.RawQuery)
	if strings.Contains(u.Fragment, "=") { // "#access_token=..."
		u.Fragment = redactParams(u.Fragment)
		u.RawFragment = ""
	}
	return u.String()
}

// redactParams replaces the values of credential-like parameters in a
// query string.
func redactParams(raw string) string {
	if raw == "" {
		return raw
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "xxxxx"
	}
	changed := false
	for k := range q {
		if credentialParam(k) {
			q[k] = []string{"xxxxx"}
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}

func credentialParam(name string) bool {
	name = strings.ToLower(name)
	for _, w := range []string{"token", "secret", "password", "passwd", "key", "credential", "auth", "signature", "sig"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
