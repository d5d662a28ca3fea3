package secrets

import (
	"net/url"
	"strings"
)

// redactRef returns ref fit for logs and the inventory: a password in the
// user-info part is replaced, and so is the value of any query parameter
// whose name suggests a credential. References are not meant to hold
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
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if credentialParam(k) {
				q[k] = []string{"xxxxx"}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
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
