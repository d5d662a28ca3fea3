package kms

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/strongroom/strongroom/providers"
)

// parse splits ref into the inner reference and the encryption context:
// the scheme must be c's, and the "kms-context" query parameter (the only
// "kms-" parameter there is) is taken out of the inner reference's query.
func (c *core) parse(ref string) (innerRef string, ec map[string]string, err error) {
	if providers.Scheme(ref) != c.scheme {
		return "", nil, fmt.Errorf(prefix+"%w: the scheme is not %s", providers.ErrInvalidRef, c.scheme)
	}
	return ParseRef(ref)
}

// ParseRef splits a "kms+SCHEME:..." reference into the inner reference
// ("SCHEME:...") and the encryption context its "kms-context" parameter
// gives (nil when it has none). See the package documentation for the
// syntax. Errors wrap providers.ErrInvalidRef.
func ParseRef(ref string) (innerRef string, encryptionContext map[string]string, err error) {
	// The inner scheme must be valid on its own: "kms+0:x" is a valid
	// scheme, but "0:x" has none.
	if !strings.HasPrefix(providers.Scheme(ref), "kms+") || providers.Scheme(ref[len("kms+"):]) == "" {
		return "", nil, fmt.Errorf(prefix+"%w: the scheme is not kms+SCHEME", providers.ErrInvalidRef)
	}
	inner := ref[len("kms+"):]
	rest, frag := inner, ""
	if i := strings.IndexByte(inner, '#'); i >= 0 {
		rest, frag = inner[:i], inner[i:]
	}
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		return inner, nil, nil
	}
	var kept []string
	found := false
	for _, p := range strings.Split(rest[q+1:], "&") {
		name, value, _ := strings.Cut(p, "=")
		if !strings.HasPrefix(strings.ToLower(name), "kms-") {
			kept = append(kept, p)
			continue
		}
		if name != "kms-context" {
			return "", nil, fmt.Errorf(prefix+"%w: unknown parameter (the only kms- parameter is kms-context)", providers.ErrInvalidRef)
		}
		if found {
			return "", nil, fmt.Errorf(prefix+"%w: kms-context given twice", providers.ErrInvalidRef)
		}
		found = true
		if encryptionContext, err = parseContext(value); err != nil {
			return "", nil, err
		}
	}
	innerRef = rest[:q]
	if len(kept) > 0 {
		innerRef += "?" + strings.Join(kept, "&")
	}
	return innerRef + frag, encryptionContext, nil
}

// parseContext parses "k:v,k2:v2", each key and value percent-decoded.
func parseContext(s string) (map[string]string, error) {
	ec := make(map[string]string)
	for i, pair := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(pair, ":")
		var err1, err2 error
		k, err1 = url.PathUnescape(k)
		v, err2 = url.PathUnescape(v)
		switch {
		case !ok:
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d has no ':'", providers.ErrInvalidRef, i+1)
		case err1 != nil || err2 != nil:
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d has a bad percent-escape", providers.ErrInvalidRef, i+1)
		case k == "" || v == "":
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d has an empty key or value", providers.ErrInvalidRef, i+1)
		}
		if _, dup := ec[k]; dup {
			return nil, fmt.Errorf(prefix+"%w: kms-context pair %d repeats a key", providers.ErrInvalidRef, i+1)
		}
		ec[k] = v
	}
	return ec, nil
}

// FormatContext returns the kms-context parameter value for ec ("k:v,..."
// in key order, each key and value percent-encoded).
func FormatContext(ec map[string]string) string {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = escape(k) + ":" + escape(ec[k])
	}
	return strings.Join(parts, ",")
}

func escape(s string) string {
	return strings.NewReplacer(",", "%2C", ":", "%3A", "&", "%26", "#", "%23").Replace(url.PathEscape(s))
}
