package file

import (
	"bytes"

	"github.com/strongroom/strongroom/internal/jsonptr"
)

// A dotenv file is a sequence of lines:
//
//	# a comment, and blank lines, are ignored
//	NAME=unquoted value    # trailing blanks and a comment after a blank are dropped
//	export NAME=value      # "export " is allowed and ignored
//	NAME='literal $value'  # nothing is special between single quotes
//	NAME="a\nb \"c\" \\"   # \n \r \t \" \\ are escapes; any other \x stays as it is
//
// Quoted values may span lines. Names are [A-Za-z_][A-Za-z0-9_]*, and a name
// set twice is an error, since tools disagree on which assignment wins.

// dotenvVar is one assignment in a dotenv file. Its slices point into the
// file's buffer.
type dotenvVar struct {
	name  []byte
	line  int    // where the name is, counting from 1
	quote byte   // 0 (unquoted), '\'' or '"'
	raw   []byte // the value as written, without its quotes
}

// value decodes the value into a new buffer.
func (v dotenvVar) value() []byte {
	if v.quote != '"' {
		return bytes.Clone(v.raw)
	}
	// Escapes only shrink the text, so len(raw) bytes are enough; the rest
	// of the buffer is never written.
	out := make([]byte, len(v.raw))
	n := 0
	for i := 0; i < len(v.raw); i++ {
		c := v.raw[i]
		if c == '\\' && i+1 < len(v.raw) {
			if e, ok := dotenvEscape(v.raw[i+1]); ok {
				c = e
				i++
			}
		}
		out[n] = c
		n++
	}
	return out[:n:n]
}

// dotenvEscape returns the byte that the escape \c stands for between
// double quotes: \n, \r, \t, \" and \\ as in JSON; no other.
func dotenvEscape(c byte) (byte, bool) {
	switch c {
	case 'n', 'r', 't', '"', '\\':
		r, _ := jsonptr.SimpleEscape(c)
		return byte(r), true
	}
	return 0, false
}

// parseDotenv parses data and calls visit for every assignment, in order.
// It stops at the first error, a *contentError that gives a line and
// column only.
func parseDotenv(data []byte, visit func(dotenvVar)) error {
	fail := func(code contentCode, at int) *contentError { return contentErrorAt(formatDotenv, code, data, at) }
	seen := make(map[string]int)
	line := 1
	i := 0
	if bytes.HasPrefix(data, []byte("\ufeff")) {
		i = 3
	}
	for i < len(data) {
		i = skipBlanks(data, i)
		switch {
		case i == len(data):
			return nil
		case data[i] == '\n':
			line++
			i++
			continue
		case bytes.HasPrefix(data[i:], []byte("\r\n")):
			line++
			i += 2
			continue
		case data[i] == '#':
			i = endOfLine(data, i)
			continue
		}
		if rest, ok := bytes.CutPrefix(data[i:], []byte("export")); ok && len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			i = skipBlanks(data, i+len("export"))
		}
		v := dotenvVar{line: line}
		start := i
		for i < len(data) && isNameByte(data[i], i == start) {
			i++
		}
		if i == start {
			return fail(codeBadName, start)
		}
		v.name = data[start:i]
		if i = skipBlanks(data, i); i == len(data) || data[i] != '=' {
			return fail(codeNoEquals, i)
		}
		afterEquals := i + 1
		i = skipBlanks(data, afterEquals)
		if i < len(data) && (data[i] == '\'' || data[i] == '"') {
			v.quote = data[i]
			end := closingQuote(data, i)
			if end < 0 {
				if v.quote == '"' {
					return fail(codeOpenDouble, i)
				}
				return fail(codeOpenSingle, i)
			}
			v.raw = data[i+1 : end]
			line += bytes.Count(v.raw, []byte("\n"))
			if i = skipBlanks(data, end+1); i < len(data) && data[i] == '#' {
				i = endOfLine(data, i)
			}
			if bytes.HasPrefix(data[i:], []byte("\r\n")) {
				i++
			}
			if i < len(data) && data[i] != '\n' {
				return fail(codeAfterQuote, i)
			}
		} else {
			eol := endOfLine(data, i)
			v.raw = bytes.TrimRight(data[i:eol][:commentStart(data[i:eol], i > afterEquals)], " \t\r")
			i = eol
		}
		if first, ok := seen[string(v.name)]; ok {
			e := fail(codeSetTwice, start)
			e.n = first
			return e
		}
		seen[string(v.name)] = v.line
		visit(v)
	}
	return nil
}

// closingQuote returns the offset of the quote that closes the one at
// data[i], or -1.
func closingQuote(data []byte, i int) int {
	q := data[i]
	for j := i + 1; j < len(data); j++ {
		switch {
		case data[j] == q:
			return j
		case q == '"' && data[j] == '\\':
			j++
		}
	}
	return -1
}

// commentStart returns where a comment starts in an unquoted value: at a
// '#' after a blank (or at its first byte when blanks separated it from
// the '='), else len(value).
func commentStart(value []byte, blankBefore bool) int {
	for k, c := range value {
		if c == '#' && (k == 0 && blankBefore || k > 0 && (value[k-1] == ' ' || value[k-1] == '\t')) {
			return k
		}
	}
	return len(value)
}

func skipBlanks(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	return i
}

// endOfLine returns the offset of the next '\n' from i, or len(data).
func endOfLine(data []byte, i int) int {
	if j := bytes.IndexByte(data[i:], '\n'); j >= 0 {
		return i + j
	}
	return len(data)
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// isDotenvName reports whether name is a valid variable name.
func isDotenvName(name []byte) bool {
	for i, c := range name {
		if !isNameByte(c, i == 0) {
			return false
		}
	}
	return len(name) > 0
}

// extractDotenv validates data and returns the value of the variable part,
// in a new buffer, or whole (data itself) when part is "".
func extractDotenv(data []byte, part string) (out []byte, whole bool, err error) {
	var found dotenvVar
	err = parseDotenv(data, func(v dotenvVar) {
		if string(v.name) == part {
			found = v
		}
	})
	switch {
	case err != nil:
		return nil, false, err
	case part == "":
		return nil, true, nil
	case found.name == nil:
		return nil, false, contentErrorOf(formatDotenv, codeNotSet)
	}
	return found.value(), false, nil
}
