package jsonptr

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

var errorText = regexp.MustCompile(`^JSON: [a-z' ]+( at byte [0-9]+)?$`)

// checkError fails unless err is an *Error with a fixed message, an
// offset inside doc, and the sentinel its code names.
func checkError(t testing.TB, err error, doc []byte) {
	t.Helper()
	var je *Error
	if !errors.As(err, &je) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if !errorText.MatchString(je.Error()) {
		t.Fatalf("error %q is not a fixed message with a number", je.Error())
	}
	if je.Offset > len(doc) {
		t.Fatalf("error %q: offset past the document (%d bytes)", je.Error(), len(doc))
	}
	if je.Code == NoValue != errors.Is(err, providers.ErrNotFound) || je.Code != NoValue != errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("error %q (code %d) wraps the wrong sentinel", je.Error(), je.Code)
	}
}

func TestUnescape(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{``, ""},
		{`plain`, "plain"},
		{`\"\\\/\b\f\n\r\t`, "\"\\/\b\f\n\r\t"},
		{`\u0041\u00e9\u20AC`, "Aé€"},
		{`\ud83d\ude00`, "\U0001F600"},
		{`\ud83d`, "\uFFFD"},
		{`\ude00\ud83d`, "\uFFFD\uFFFD"},
		{`\ud83d\u0041`, "\uFFFDA"},
		{`\ud83dx`, "\uFFFDx"},
		{"\xff", "\uFFFD"},
		{"a\xed\xa0\x80b", "a\uFFFD\uFFFD\uFFFDb"},
		{"é", "é"},
	} {
		got := Unescape([]byte(c.in))
		if string(got) != c.want || len(got) != cap(got) {
			t.Errorf("Unescape(%q) = %q (cap %d), want %q", c.in, got, cap(got), c.want)
		}
	}
}

// FuzzJSON checks extraction against encoding/json: a valid document and
// a part that selects a value give that value (a string unescaped as
// encoding/json decodes it, anything else as JSON text that decodes to the
// same thing); a part that selects nothing gives ErrNotFound; an invalid
// document gives ErrInvalid; every error is built from the fixed messages
// and numbers only, the numbers a position in the document.
func FuzzJSON(f *testing.F) {
	for _, s := range []struct{ doc, part string }{
		{`{"a":"b"}`, "a"},
		{`{"db":{"password":"p\u0061ss\ud83d\ude00"}}`, "/db/password"},
		{`{"a":[1,{"b":"c"},"\n"]}`, "/a/1/b"},
		{`{"a":[1,{"b":"c"},"\n"]}`, "/a/2"},
		{`{"a~b/c":1.5e3}`, "/a~0b~1c"},
		{`[true, null, -0.0]`, "/1"},
		{`{"a":"x","a":"y"}`, "a"},
		{`{"a": "unterminated`, ""},
		{` { "k" : { } } `, "/k"},
		{`{"\u00e9":"\ud800"}`, "é"},
	} {
		f.Add([]byte(s.doc), s.part)
	}
	f.Fuzz(func(t *testing.T, doc []byte, part string) {
		if _, ok := Tokens(part); !ok {
			return // references with such a pointer are refused
		}
		orig := bytes.Clone(doc)
		out, whole, err := Select(doc, part)
		if !bytes.Equal(doc, orig) {
			t.Fatal("Select modified the document")
		}
		if err != nil {
			checkError(t, err, doc)
		}
		if !json.Valid(doc) {
			if !errors.Is(err, providers.ErrInvalid) {
				t.Fatalf("invalid document: got error %v", err)
			}
			return
		}
		var je *Error
		if errors.As(err, &je) && je.Code == Duplicate {
			return // a duplicate member name on the path, which encoding/json allows
		}
		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var root any
		if err := dec.Decode(&root); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if part == "" {
			if err != nil || !whole {
				t.Fatalf("whole document: whole %v, %v", whole, err)
			}
			return
		}
		tokens, _ := Tokens(part)
		want, found := navigate(root, tokens)
		if !found {
			if !errors.Is(err, providers.ErrNotFound) {
				t.Fatalf("part %q selects nothing, got %q, %v", part, out, err)
			}
			return
		}
		if err != nil || whole {
			t.Fatalf("part %q: whole %v, %v; want %#v", part, whole, err, want)
		}
		if s, ok := want.(string); ok {
			if string(out) != s {
				t.Fatalf("part %q: got %q, encoding/json decodes %q", part, out, s)
			}
			return
		}
		dec = json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var got any
		if err := dec.Decode(&got); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("part %q: got %q (%v), want %#v", part, out, err, want)
		}
	})
}

// navigate follows tokens through a value that encoding/json decoded.
func navigate(v any, tokens []string) (any, bool) {
	for _, tok := range tokens {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			n, err := strconv.Atoi(tok)
			if err != nil || n < 0 || n >= len(x) || strconv.Itoa(n) != tok {
				return nil, false
			}
			v = x[n]
		default:
			return nil, false
		}
	}
	return v, true
}

// FuzzJSONString checks the string unescaper against encoding/json, that
// it never panics nor over-allocates on any input, and that selecting the
// string from a document fails, when it does, with an error built from
// the fixed messages and numbers only.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{`a`, `\u00e9`, `\ud83d\ude00`, `\ud83d`, `\udc00\ud800\udc00`, "\xff\xfe", `\"\\\/\b\f\n\r\t`, `\u12`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		got := Unescape(s)
		if len(got) != cap(got) {
			t.Fatalf("Unescape(%q): length %d, capacity %d", s, len(got), cap(got))
		}
		doc := append(append([]byte{'"'}, s...), '"')
		member := append(append([]byte(`{"k":`), doc...), '}')
		if _, _, err := Select(member, "k"); err != nil {
			checkError(t, err, member)
		}
		if !json.Valid(doc) {
			return
		}
		var want string
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if string(got) != want {
			t.Fatalf("Unescape(%q) = %q, encoding/json gives %q", s, got, want)
		}
	})
}
