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

// refCode says what is wrong with a reference; each has one fixed message.
type refCode uint8

const (
	refWrongScheme refCode = iota
	refEmptyName
	refLeadingDigit
	refBadByte
)

var refMessages = [...]string{
	refWrongScheme:  `the scheme is not "env"`,
	refEmptyName:    "empty variable name",
	refLeadingDigit: "the variable name starts with a digit at byte %d",
	refBadByte:      "byte %d is not a letter, digit or underscore",
}

// refError reports a malformed reference by a fixed message and a byte
// offset. It has no field that can hold text, so it cannot repeat the
// reference (which may be a value pasted in the wrong place).
type refError struct {
	code refCode
	at   int // the byte offset that refMessages[code] shows, if it shows one
}

func (e *refError) Error() string {
	msg := refMessages[e.code]
	if strings.Contains(msg, "%d") {
		msg = fmt.Sprintf(msg, e.at)
	}
	return "providers/env: " + providers.ErrInvalidRef.Error() + ": " + msg
}

// Unwrap returns [providers.ErrInvalidRef].
func (e *refError) Unwrap() error { return providers.ErrInvalidRef }

// parseRef returns the variable name in ref. Its errors say what is wrong
// and at which byte, without repeating the reference.
func parseRef(ref string) (string, error) {
	if providers.Scheme(ref) != Scheme {
		return "", &refError{code: refWrongScheme}
	}
	start := len(Scheme) + 1
	if strings.HasPrefix(ref[start:], "//") {
		start += 2
	}
	name := ref[start:]
	if name == "" {
		return "", &refError{code: refEmptyName}
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9':
			if i == 0 {
				return "", &refError{code: refLeadingDigit, at: start}
			}
		default:
			return "", &refError{code: refBadByte, at: start + i}
		}
	}
	return name, nil
}
