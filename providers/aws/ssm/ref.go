package ssm

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/strongroom/strongroom/internal/jsonptr"
	"github.com/strongroom/strongroom/providers"
)

// Scheme is the reference scheme of the provider: "ssm:NAME".
const Scheme = "ssm"

// Limits of parameter names and labels, as AWS states them.
const (
	// maxName is the longest name AWS lets a caller give: the API takes
	// 2048 characters, of which it keeps 1037 for its own use.
	maxName = 1011
	// maxLevels is the deepest hierarchy AWS allows.
	maxLevels = 15
	// maxLabel is the longest label.
	maxLabel = 100
)

// ref is a parsed reference.
type ref struct {
	name    string // the parameter's name, as written
	version int64  // a version number, or 0
	label   string // a label, or ""
	pointer string // JSON pointer or top-level member name, or ""
}

// plain reports whether r names the parameter itself: no version, label
// or pointer, as Write and Delete need.
func (r ref) plain() bool { return r.version == 0 && r.label == "" && r.pointer == "" }

// selector is the Name GetParameter takes for r: "name", "name:N" or
// "name:label" (a label never starts with a digit, so the two cannot be
// confused).
func (r ref) selector() string {
	switch {
	case r.version > 0:
		return r.name + ":" + strconv.FormatInt(r.version, 10)
	case r.label != "":
		return r.name + ":" + r.label
	}
	return r.name
}

// key is the name the provider files what it knows of a parameter under:
// AWS takes "/x" and "x" for the same parameter (a name of one level may
// be written either way), so the leading '/' of such a name is dropped.
func key(name string) string {
	if k := strings.TrimPrefix(name, "/"); !strings.Contains(k, "/") {
		return k
	}
	return name
}

// spellings are the names a filter on the parameter filed under k must
// list to find it however it was created: both forms for a name of one
// level.
func spellings(k string) []string {
	if strings.HasPrefix(k, "/") {
		return []string{k}
	}
	return []string{k, "/" + k}
}

// parseRef parses "ssm:NAME[?version=N|?label=L][#POINTER]".
//
// NAME is 1 to 1011 of the characters AWS allows (letters, digits, '_',
// '.', '-'), and '/' between the levels of a hierarchy: a name with a '/'
// starts with one, has no empty level, does not end with one, and has at
// most 15 levels. N is a version number (a positive integer, no leading
// zero); L is a label: 1 to 100 letters, digits, '_', '.' or '-', not
// starting with a digit, nor with "aws" or "ssm" in any case. POINTER is
// a JSON pointer ("/db/password") or a top-level member name.
func parseRef(s string) (ref, error) {
	if providers.Scheme(s) != Scheme {
		return ref{}, refError(s, "does not have the scheme "+Scheme)
	}
	var r ref
	rest, fragment, hasFragment := strings.Cut(s[len(Scheme)+1:], "#")
	if hasFragment {
		if why := checkPointer(fragment); why != "" {
			return ref{}, refError(s, why)
		}
		r.pointer = fragment
	}
	rest, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery {
		k, v, _ := strings.Cut(query, "=")
		switch {
		case k == "version" && validVersion(v):
			r.version, _ = strconv.ParseInt(v, 10, 64)
		case k == "label" && validLabel(v):
			r.label = v
		default:
			return ref{}, refError(s, "has a malformed query (want version=N, N a positive integer, or label=L)")
		}
	}
	if why := checkName(rest); why != "" {
		return ref{}, refError(s, why)
	}
	r.name = rest
	return r, nil
}

// checkName says why name is not a parameter name, or "".
func checkName(name string) string {
	if name == "" || len(name) > maxName {
		return fmt.Sprintf("does not name a parameter (1 to %d characters)", maxName)
	}
	for i := 0; i < len(name); i++ {
		if !isNameChar(name[i]) && name[i] != '/' {
			return "has a character not allowed in a parameter name (letters, digits, _ . - and /)"
		}
	}
	if !strings.Contains(name, "/") {
		return ""
	}
	if name[0] != '/' {
		return "names a parameter in a hierarchy without the leading '/'"
	}
	levels := strings.Split(name[1:], "/")
	if len(levels) > maxLevels {
		return fmt.Sprintf("has a hierarchy deeper than %d levels", maxLevels)
	}
	for _, l := range levels {
		if l == "" {
			return "has an empty level in its hierarchy"
		}
	}
	return ""
}

// checkPointer says why a fragment is not a JSON pointer or member name,
// or "".
func checkPointer(p string) string {
	if p == "" {
		return "has an empty fragment"
	}
	if _, ok := jsonptr.Tokens(p); !ok {
		return "has a malformed JSON pointer (~ must be followed by 0 or 1)"
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f {
			return "has a control character in its fragment"
		}
	}
	return ""
}

func isNameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-'
}

// validVersion reports whether v is a positive int64 in decimal, without
// a sign or a leading zero.
func validVersion(v string) bool {
	if v == "" || v[0] == '0' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseInt(v, 10, 64)
	return err == nil
}

// validLabel reports whether l is a label AWS allows.
func validLabel(l string) bool {
	if l == "" || len(l) > maxLabel || '0' <= l[0] && l[0] <= '9' {
		return false
	}
	if p := strings.ToLower(l[:min(3, len(l))]); p == "aws" || p == "ssm" {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !isNameChar(l[i]) {
			return false
		}
	}
	return true
}

// refError reports that ref is refused. References are configuration, not
// secrets, so the message quotes it (escaped).
func refError(s, why string) error {
	return fmt.Errorf("%sreference %q %s: %w", prefix, s, why, providers.ErrInvalidRef)
}

// Ref returns the reference of the parameter called name ("/app/db" or
// "db").
func Ref(name string) string { return Scheme + ":" + name }
