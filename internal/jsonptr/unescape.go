package jsonptr

import (
	"unicode/utf8"
)

// Unescape returns the decoded bytes of a JSON string literal whose
// contents (without the quotes) are s, in a buffer of exactly the right
// size, so that no partly filled buffer holding secret bytes is left
// behind by append. It decodes as encoding/json does: \uXXXX escapes and
// surrogate pairs become UTF-8, a lone surrogate and each byte of invalid
// UTF-8 become U+FFFD. s must come from a document that json.Valid
// accepts; on anything else it stops at the first malformed escape.
func Unescape(s []byte) []byte {
	out := make([]byte, decodeJSONString(nil, s))
	decodeJSONString(out, s)
	return out
}

// decodeJSONString writes the decoding of s to dst and returns its length;
// with a nil dst it only measures.
func decodeJSONString(dst, s []byte) int {
	n := 0
	emit := func(r rune) {
		if dst != nil {
			n += utf8.EncodeRune(dst[n:], r)
		} else {
			n += utf8.RuneLen(r)
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return n
			}
			if r, ok := SimpleEscape(s[i+1]); ok {
				emit(r)
				i += 2
				continue
			}
			r := hex4(s[i+1:])
			if r < 0 {
				return n
			}
			i += 6
			if isSurrogate(r) {
				if low := lowSurrogate(s[i:]); low >= 0 && r < 0xdc00 {
					r = 0x10000 + (r-0xd800)<<10 + (low - 0xdc00)
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			emit(r)
		case c < utf8.RuneSelf:
			if dst != nil {
				dst[n] = c
			}
			n++
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			emit(r)
			i += size
		}
	}
	return n
}

// SimpleEscape returns the character that the one-letter escape \c stands
// for.
func SimpleEscape(c byte) (rune, bool) {
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	}
	return 0, false
}

// hex4 decodes "uXXXX" at the start of s, or returns -1.
func hex4(s []byte) rune {
	if len(s) < 5 || s[0] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[1:5] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// lowSurrogate decodes a "\uXXXX" escape of a low surrogate at the start of
// s, or returns -1.
func lowSurrogate(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' {
		return -1
	}
	r := hex4(s[1:])
	if r < 0xdc00 || r > 0xdfff {
		return -1
	}
	return r
}

func isSurrogate(r rune) bool { return 0xd800 <= r && r <= 0xdfff }
