package secretsmanager

import (
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/internal/jsonptr"
	"github.com/strongroom/strongroom/providers"
)

// Scheme is the reference scheme of the provider: "awssm:NAME-or-ARN".
const Scheme = "awssm"

// ref is a parsed reference.
type ref struct {
	id      string // secret name or ARN
	stage   string // VersionStage, or ""
	version string // VersionId, or ""
	pointer string // JSON pointer or top-level member name, or ""
}

// plain reports whether r names the secret itself: no stage, version or
// pointer, as Write, WriteIf, Delete and Revoke need.
func (r ref) plain() bool { return r.stage == "" && r.version == "" && r.pointer == "" }

// parseRef parses "awssm:ID[?stage=S|?version=V][#POINTER]". ID is a
// secret name or ARN: 1 to 2048 of the characters AWS allows in names and
// ARNs (letters, digits, / _ + = . @ - and ':').
func parseRef(s string) (ref, error) {
	if providers.Scheme(s) != Scheme {
		return ref{}, refError(s, "does not have the scheme "+Scheme)
	}
	rest := s[len(Scheme)+1:]
	var r ref
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		r.pointer = rest[i+1:]
		rest = rest[:i]
		if r.pointer == "" {
			return ref{}, refError(s, "has an empty fragment")
		}
		if _, ok := jsonptr.Tokens(r.pointer); !ok {
			return ref{}, refError(s, "has a malformed JSON pointer (~ must be followed by 0 or 1)")
		}
		for i := 0; i < len(r.pointer); i++ {
			if c := r.pointer[i]; c < 0x20 || c == 0x7f {
				return ref{}, refError(s, "has a control character in its fragment")
			}
		}
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		q := rest[i+1:]
		rest = rest[:i]
		key, value, _ := strings.Cut(q, "=")
		if !validToken(value, 256) {
			return ref{}, refError(s, "has a malformed query (want stage=S or version=ID)")
		}
		switch key {
		case "stage":
			r.stage = value
		case "version":
			r.version = value
		default:
			return ref{}, refError(s, "has a malformed query (want stage=S or version=ID)")
		}
	}
	if len(rest) == 0 || len(rest) > 2048 || strings.HasPrefix(rest, "/") {
		return ref{}, refError(s, "does not name a secret")
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !isIDChar(c) {
			return ref{}, refError(s, "has a character not allowed in a secret name or ARN")
		}
	}
	if strings.HasPrefix(rest, "arn:") && !strings.Contains(rest, ":secret:") {
		return ref{}, refError(s, "is an ARN but not of a secret")
	}
	r.id = rest
	return r, nil
}

func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("/_+=.@-:", c) >= 0
}

// validToken reports whether v is a stage name or version id: 1 to max of
// letters, digits, '_' and '-'.
func validToken(v string, max int) bool {
	if v == "" || len(v) > max {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
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

// Ref returns the reference of the secret called nameOrARN.
func Ref(nameOrARN string) string { return Scheme + ":" + nameOrARN }
