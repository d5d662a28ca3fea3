package file

import (
	"errors"

	"github.com/strongroom/strongroom/internal/jsonptr"
)

// extractJSON validates doc and returns the value that part selects, as
// [jsonptr.Select] does (the walk, shared with other providers, lives
// there), with its errors turned into *contentError, which give a line and
// column only.
func extractJSON(doc []byte, part string) (out []byte, whole bool, err error) {
	out, whole, err = jsonptr.Select(doc, part)
	var je *jsonptr.Error
	if !errors.As(err, &je) {
		return out, whole, err
	}
	code := codeJSONSyntax
	switch je.Code {
	case jsonptr.Duplicate:
		code = codeJSONDuplicate
	case jsonptr.NoValue:
		code = codeJSONNoValue
	}
	if je.Offset < 0 {
		return nil, false, contentErrorOf(formatJSON, code)
	}
	return nil, false, contentErrorAt(formatJSON, code, doc, je.Offset)
}
