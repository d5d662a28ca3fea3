package tokens

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// A token response carries the access token and the refresh token as
// JSON strings. encoding/json would copy each into a Go string or a
// json.RawMessage that nobody can wipe, so scanTokenResponse finds the
// members of the response object itself and decodes those two strings
// straight into buffers of their own, which the caller wipes; the other
// members (token_type, expires_in, scope) carry nothing secret and are
// left to encoding/json.

// tokenFields are the members of a token response object. access and
// refresh are decoded (nil when absent or null); the others are the raw
// JSON values in the body (nil when absent).
type tokenFields struct {
	access, refresh             []byte
	accessBad, refreshBad       bool // present, but neither a string nor null
	tokenType, expiresIn, scope []byte
}

// wipe clears the decoded tokens.
func (f *tokenFields) wipe() {
	clear(f.access)
	clear(f.refresh)
	f.access, f.refresh = nil, nil
}

var errMalformed = errors.New("malformed JSON")

// scanTokenResponse finds the members of the JSON object body. It fails
// with errMalformed when body is not valid JSON or not an object. A member
// named twice counts once, the last time (as encoding/json decides);
// names are matched exactly, escapes decoded. It keeps no copy of a token
// but the two it returns.
func scanTokenResponse(body []byte) (tokenFields, error) {
	var f tokenFields
	if !json.Valid(body) { // checks without copying
		return f, errMalformed
	}
	i := skipSpace(body, 0)
	if body[i] != '{' {
		return f, errMalformed
	}
	i = skipSpace(body, i+1)
	for body[i] != '}' {
		// body is valid JSON: a member is a string, ':', a value, then ','
		// or '}'.
		kEnd := stringEnd(body, i)
		key := body[i:kEnd]
		i = skipSpace(body, kEnd)
		i = skipSpace(body, i+1) // ':'
		vEnd := valueEnd(body, i)
		value := body[i:vEnd]
		switch {
		case nameIs(key, "access_token"):
			clear(f.access)
			f.access, f.accessBad = decodeToken(value)
		case nameIs(key, "refresh_token"):
			clear(f.refresh)
			f.refresh, f.refreshBad = decodeToken(value)
		case nameIs(key, "token_type"):
			f.tokenType = value
		case nameIs(key, "expires_in"):
			f.expiresIn = value
		case nameIs(key, "scope"):
			f.scope = value
		}
		i = skipSpace(body, vEnd)
		if body[i] == ',' {
			i = skipSpace(body, i+1)
		}
	}
	return f, nil
}

// decodeToken decodes a JSON string value into a new slice of exactly its
// length; bad reports a value that is neither a string nor null.
func decodeToken(value []byte) (token []byte, bad bool) {
	switch {
	case value[0] == '"':
		return unquote(value), false
	case string(value) == "null":
		return nil, false
	}
	return nil, true
}

// nameIs reports whether the JSON string key (quotes included) decodes to
// name. Names are short and not secret; one with escapes is decoded.
func nameIs(key []byte, name string) bool {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == name
	}
	d := unquote(key)
	return string(d) == name
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string that starts at
// b[i] (a '"'), in valid JSON.
func stringEnd(b []byte, i int) int {
	for i++; ; i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
}

// valueEnd returns the index just past the JSON value that starts at b[i],
// in valid JSON.
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for ; ; i++ {
			switch b[i] {
			case '"':
				i = stringEnd(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// unquote decodes the valid JSON string s (quotes included) as
// encoding/json does (invalid UTF-8 and unpaired surrogates become
// U+FFFD) into a new slice of exactly the decoded length: it measures
// first, so that no partial copy is ever left behind by a growing buffer.
func unquote(s []byte) []byte {
	s = s[1 : len(s)-1]
	n := 0
	walkString(s, func(b []byte, r rune) {
		if b != nil {
			n += len(b)
		} else {
			n += utf8.RuneLen(r)
		}
	})
	out := make([]byte, 0, n)
	walkString(s, func(b []byte, r rune) {
		if b != nil {
			out = append(out, b...)
		} else {
			out = utf8.AppendRune(out, r)
		}
	})
	return out
}

// walkString calls emit for each piece of the decoded string s (a JSON
// string's inside, valid): bytes copied as they are, or a rune.
func walkString(s []byte, emit func(b []byte, r rune)) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch s[i+1] {
			case 'b':
				emit(nil, '\b')
			case 'f':
				emit(nil, '\f')
			case 'n':
				emit(nil, '\n')
			case 'r':
				emit(nil, '\r')
			case 't':
				emit(nil, '\t')
			case 'u':
				r := hex4(s[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if d := utf16.DecodeRune(r, hex4(s[i+2:i+6])); d != unicode.ReplacementChar {
							emit(nil, d)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				emit(nil, r)
				continue
			default: // '"', '\\', '/'
				emit(s[i+1:i+2], 0)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
				j++
			}
			emit(s[i:j], 0)
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				emit(nil, utf8.RuneError)
			} else {
				emit(s[i:i+size], 0)
			}
			i += size
		}
	}
}

// hex4 decodes four hex digits (valid JSON guarantees them).
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
