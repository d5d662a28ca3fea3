package file

import (
	"bytes"
	"fmt"

	"github.com/strongroom/strongroom/providers"
)

// contentCode says why a file's content was refused. Each code has one
// fixed message; see contentMessages.
type contentCode uint8

const (
	// dotenv
	codeBadName contentCode = iota
	codeNoEquals
	codeOpenSingle
	codeOpenDouble
	codeAfterQuote
	codeSetTwice
	codeNotSet
	// JSON
	codeJSONSyntax
	codeJSONDuplicate
	codeJSONNoValue
	// PEM
	codePEMMalformed
	codePEMNoBlock
	codePEMKeys
	codePEMNotSelected

	numContentCodes
)

// contentMessages are the only texts a contentError shows, besides its
// format's name and numbers.
var contentMessages = [numContentCodes]struct {
	text     string
	notFound bool   // wraps providers.ErrNotFound rather than ErrInvalid
	number   string // how contentError.n is shown, a format with one %d; "" for none
}{
	codeBadName:        {text: "invalid variable name"},
	codeNoEquals:       {text: "expected '=' after the variable name"},
	codeOpenSingle:     {text: "unterminated single-quoted value"},
	codeOpenDouble:     {text: "unterminated double-quoted value"},
	codeAfterQuote:     {text: "unexpected text after the closing quote"},
	codeSetTwice:       {text: "variable set twice", number: " (first on line %d)"},
	codeNotSet:         {text: "the file does not set the variable", notFound: true},
	codeJSONSyntax:     {text: "syntax error"},
	codeJSONDuplicate:  {text: "duplicate member name on the pointer's path"},
	codeJSONNoValue:    {text: "no value at the pointer", notFound: true},
	codePEMMalformed:   {text: "malformed or truncated block"},
	codePEMNoBlock:     {text: "no block"},
	codePEMKeys:        {text: "more than one private key", number: " (%d found)"},
	codePEMNotSelected: {text: "no block of the selected type", notFound: true},
}

// contentError reports why the content of a file (or data given to Write)
// was refused. It holds a format, a code and numbers only: no field can
// hold text, so no parser can put bytes of the file into an error, not
// even a variable or member name. What the reference selects is added by
// the caller, from the reference.
type contentError struct {
	format    format
	code      contentCode
	line, col int // where, counting from 1 (columns in bytes); 0: not about one place
	n         int // shown by the code's number format
}

// contentErrorAt returns the error code at byte offset off of data. Only
// newlines of data are looked at, to count lines and columns.
func contentErrorAt(f format, code contentCode, data []byte, off int) *contentError {
	off = min(max(off, 0), len(data))
	lineStart := bytes.LastIndexByte(data[:off], '\n') + 1
	return &contentError{
		format: f,
		code:   code,
		line:   bytes.Count(data[:lineStart], []byte("\n")) + 1,
		col:    off - lineStart + 1,
	}
}

// contentErrorOf returns the error code about the whole file.
func contentErrorOf(f format, code contentCode) *contentError {
	return &contentError{format: f, code: code}
}

func (e *contentError) Error() string {
	m := contentMessages[e.code]
	s := e.format.label()
	if e.line > 0 {
		s += fmt.Sprintf(" line %d, column %d", e.line, e.col)
	}
	s += ": " + m.text
	if m.number != "" {
		s += fmt.Sprintf(m.number, e.n)
	}
	return s
}

// Unwrap returns [providers.ErrNotFound] for a part the file does not
// have, and [providers.ErrInvalid] for content that does not parse.
func (e *contentError) Unwrap() error {
	if contentMessages[e.code].notFound {
		return providers.ErrNotFound
	}
	return providers.ErrInvalid
}

// label is the format's name in messages.
func (f format) label() string {
	switch f {
	case formatJSON:
		return "JSON"
	case formatPEM:
		return "PEM"
	}
	return f.String()
}
