// Package jsonptr selects one value of a JSON document with a JSON Pointer
// (RFC 6901, "/db/password") or a top-level member name ("password"),
// without copying the document: the only copy of secret bytes is the
// selected value. The file provider ("file:x.json#/db/password") and the
// AWS Secrets Manager provider ("awssm:name#/db/password") share it.
//
// # Errors
//
// Errors are [*Error]: a code and a byte offset, never text of the
// document (not even a member name). They wrap [providers.ErrInvalid], or
// [providers.ErrNotFound] when the pointer selects nothing.
//
// # Concurrency
//
// Every function is safe for concurrent use; none keeps its arguments.
package jsonptr

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/strongroom/strongroom/providers"
)

// Code says why a document or a selection was refused.
type Code uint8

const (
	// Syntax: the document is not valid JSON.
	Syntax Code = iota + 1
	// Duplicate: an object on the pointer's path has the selected member
	// name twice (parsers disagree on which one wins).
	Duplicate
	// NoValue: the pointer selects nothing.
	NoValue
)

// Error reports why [Select] refused a document. It holds no text of the
// document.
type Error struct {
	Code Code
	// Offset is the byte offset in the document the error is about, or -1.
	Offset int
}

func (e *Error) Error() string {
	var s string
	switch e.Code {
	case Syntax:
		s = "syntax error"
	case Duplicate:
		s = "duplicate member name on the pointer's path"
	default:
		s = "no value at the pointer"
	}
	if e.Offset >= 0 {
		s += " at byte " + strconv.Itoa(e.Offset)
	}
	return "JSON: " + s
}

// Unwrap returns [providers.ErrNotFound] for [NoValue], else
// [providers.ErrInvalid].
func (e *Error) Unwrap() error {
	if e.Code == NoValue {
		return providers.ErrNotFound
	}
	return providers.ErrInvalid
}

// Select validates doc and returns the value that part selects (see
// [Tokens]). A string value comes back unescaped, any other value as its
// JSON text, both in a new buffer; with part "" the result is whole (doc
// itself, not copied). doc is not modified. A part that [Tokens] refuses
// selects nothing.
func Select(doc []byte, part string) (out []byte, whole bool, err error) {
	if !json.Valid(doc) {
		return nil, false, syntaxError(doc)
	}
	if part == "" {
		return nil, true, nil
	}
	tokens, ok := Tokens(part)
	if !ok {
		return nil, false, &Error{Code: NoValue, Offset: -1}
	}
	start, err := locateJSON(doc, tokens)
	if err != nil {
		return nil, false, err
	}
	if start < 0 {
		return nil, false, &Error{Code: NoValue, Offset: -1}
	}
	v := doc[start:skipJSONValue(doc, start)]
	if v[0] == '"' {
		return Unescape(v[1 : len(v)-1]), false, nil
	}
	return bytes.Clone(v), false, nil
}

// syntaxError says where doc is not valid JSON.
func syntaxError(doc []byte) error {
	var syntax *json.SyntaxError
	// Unmarshal checks the whole document before it decodes anything, so
	// an invalid one is never copied.
	if err := json.Unmarshal(doc, &struct{}{}); errors.As(err, &syntax) {
		return &Error{Code: Syntax, Offset: int(syntax.Offset)}
	}
	return &Error{Code: Syntax, Offset: -1}
}

// Tokens splits part into reference tokens: the unescaped segments
// of a JSON Pointer (RFC 6901) when part starts with '/', else part itself
// as one top-level key. It reports false for a '~' not followed by 0 or 1.
func Tokens(part string) ([]string, bool) {
	if !strings.HasPrefix(part, "/") {
		return []string{part}, true
	}
	tokens := strings.Split(part[1:], "/")
	for i, t := range tokens {
		for j := 0; j < len(t); j++ {
			if t[j] == '~' && (j+1 == len(t) || (t[j+1] != '0' && t[j+1] != '1')) {
				return nil, false
			}
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, true
}

// locateJSON returns the offset of the value that tokens select in doc,
// which json.Valid accepts, or -1 when there is none. A member name that
// appears twice in an object on the path is refused: parsers disagree on
// which one wins.
func locateJSON(doc []byte, tokens []string) (int, error) {
	i := skipJSONSpace(doc, 0)
	for _, tok := range tokens {
		var err error
		switch doc[i] {
		case '{':
			i, err = findJSONMember(doc, i, tok)
		case '[':
			i = findJSONElement(doc, i, tok)
		default:
			i = -1
		}
		if err != nil || i < 0 {
			return -1, err
		}
	}
	return i, nil
}

// findJSONMember returns the offset of the value of member key in the
// object at doc[i].
func findJSONMember(doc []byte, i int, key string) (int, error) {
	found := -1
	for i = skipJSONSpace(doc, i+1); doc[i] != '}'; {
		name := i
		i = skipJSONString(doc, i)
		match := jsonNameIs(doc[name+1:i-1], key)
		i = skipJSONSpace(doc, skipJSONSpace(doc, i)+1) // past ':'
		if match {
			if found >= 0 {
				return -1, &Error{Code: Duplicate, Offset: name}
			}
			found = i
		}
		if i = skipJSONSpace(doc, skipJSONValue(doc, i)); doc[i] == ',' {
			i = skipJSONSpace(doc, i+1)
		}
	}
	return found, nil
}

// findJSONElement returns the offset of element tok (a decimal index
// without leading zeros) of the array at doc[i], or -1.
func findJSONElement(doc []byte, i int, tok string) int {
	n, err := strconv.Atoi(tok)
	if err != nil || n < 0 || strconv.Itoa(n) != tok {
		return -1
	}
	for i = skipJSONSpace(doc, i+1); doc[i] != ']'; n-- {
		if n == 0 {
			return i
		}
		if i = skipJSONSpace(doc, skipJSONValue(doc, i)); doc[i] == ',' {
			i = skipJSONSpace(doc, i+1)
		}
	}
	return -1
}

// jsonNameIs reports whether the raw member name (between its quotes)
// decodes to key.
func jsonNameIs(raw []byte, key string) bool {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw) == key
	}
	return string(Unescape(raw)) == key
}

func skipJSONSpace(doc []byte, i int) int {
	for i < len(doc) && (doc[i] == ' ' || doc[i] == '\t' || doc[i] == '\n' || doc[i] == '\r') {
		i++
	}
	return i
}

// skipJSONString returns the offset just past the string that starts at
// doc[i].
func skipJSONString(doc []byte, i int) int {
	for i++; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(doc)
}

// skipJSONValue returns the offset just past the value that starts at
// doc[i], in a document that json.Valid accepts.
func skipJSONValue(doc []byte, i int) int {
	switch doc[i] {
	case '"':
		return skipJSONString(doc, i)
	case '{', '[':
		depth := 0
		for i < len(doc) {
			switch doc[i] {
			case '"':
				i = skipJSONString(doc, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(doc)
	}
	for i < len(doc) && !strings.ContainsRune(",}] \t\n\r", rune(doc[i])) {
		i++
	}
	return i
}
