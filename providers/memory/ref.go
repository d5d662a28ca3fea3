package memory

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/strongroom/strongroom/providers"
)

// Scheme is the reference scheme of the provider: "memory://NAME".
const Scheme = "memory"

// Ref returns the reference of the value called name: "memory://" + name.
func Ref(name string) string {
	return Scheme + "://" + name
}

// parseRef returns the name in ref. Its errors say what is wrong and where,
// without repeating the reference.
func parseRef(ref string) (string, error) {
	if providers.Scheme(ref) != Scheme {
		return "", fmt.Errorf("providers/memory: %w: the scheme is not %q", providers.ErrInvalidRef, Scheme)
	}
	name, ok := strings.CutPrefix(ref[len(Scheme)+1:], "//")
	if !ok {
		return "", fmt.Errorf("providers/memory: %w: want memory://NAME", providers.ErrInvalidRef)
	}
	if name == "" {
		return "", fmt.Errorf("providers/memory: %w: empty name", providers.ErrInvalidRef)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("providers/memory: %w: control character at byte %d", providers.ErrInvalidRef, len(ref)-len(name)+i)
		}
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("providers/memory: %w: the name is not valid UTF-8", providers.ErrInvalidRef)
	}
	return name, nil
}
