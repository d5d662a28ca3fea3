package env

import (
	"fmt"
	"strings"

	"github.com/strongroom/strongroom/providers"
)

// Scheme is the reference scheme of the provider: "env://NAME" or
// "env:NAME".
const Scheme = "env"

// Ref returns the reference of the variable called name: "env://" + name.
func Ref(name string) string {
	return Scheme + "://" + name
}

// parseRef returns the variable name in ref. Its errors say what is wrong
// and at which byte, without repeating the reference.
func parseRef(ref string) (string, error) {
	if providers.Scheme(ref) != Scheme {
		return "", fmt.Errorf("providers/env: %w: the scheme is not %q", providers.ErrInvalidRef, Scheme)
	}
	start := len(Scheme) + 1
	if strings.HasPrefix(ref[start:], "//") {
		start += 2
	}
	name := ref[start:]
	if name == "" {
		return "", fmt.Errorf("providers/env: %w: empty variable name", providers.ErrInvalidRef)
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9':
			if i == 0 {
				return "", fmt.Errorf("providers/env: %w: the variable name starts with a digit at byte %d", providers.ErrInvalidRef, start)
			}
		default:
			return "", fmt.Errorf("providers/env: %w: byte %d is not a letter, digit or underscore", providers.ErrInvalidRef, start+i)
		}
	}
	return name, nil
}
