package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func TestExtractJSON(t *testing.T) {
	const doc = `{
		"password": "top\"secret\\n\u00e9\ud83d\ude00",
		"db": {"user": "app", "pass": "p\u0061ss", "port": 5432, "opts": {"tls": true}},
		"list": ["zero", {"k": "one"}, null],
		"a/b": "slash", "m~n": "tilde", "": "empty name",
		"esc\u0061ped": "by escape"
	}`
	for _, c := range []struct {
		part string
		want string
		err  error
	}{
		{"password", "top\"secret\\n\u00e9\U0001F600", nil},
		{"/password", "top\"secret\\n\u00e9\U0001F600", nil},
		{"/db/pass", "pass", nil},
		{"/db/port", "5432", nil},
		{"/db/opts", `{"tls": true}`, nil},
		{"/db/opts/tls", "true", nil},
		{"/list/0", "zero", nil},
		{"/list/1/k", "one", nil},
		{"/list/2", "null", nil},
		{"/a~1b", "slash", nil},
		{"/m~0n", "tilde", nil},
		{"/", "empty name", nil},
		{"escaped", "by escape", nil},
		{"db", `{"user": "app", "pass": "p\u0061ss", "port": 5432, "opts": {"tls": true}}`, nil},
		{"/list/3", "", providers.ErrNotFound},
		{"/list/01", "", providers.ErrNotFound},
		{"/list/-", "", providers.ErrNotFound},
		{"/db/pass/x", "", providers.ErrNotFound},
		{"missing", "", providers.ErrNotFound},
		{"/db/missing", "", providers.ErrNotFound},
		{"/password/0", "", providers.ErrNotFound},
	} {
		buf := []byte(doc)
		out, whole, err := extractJSON(buf, c.part)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("part %q: got %q, %v; want error %v", c.part, out, err, c.err)
			}
			continue
		}
		if err != nil || whole || string(out) != c.want {
			t.Errorf("part %q: got %q, whole %v, %v; want %q", c.part, out, whole, err, c.want)
		}
		if string(buf) != doc {
			t.Errorf("part %q: the document was modified", c.part)
		}
	}
}

func TestExtractJSONRefuses(t *testing.T) {
	for _, c := range []struct {
		doc, part string
		err       error
	}{
		{`{"a": "x", "a": "y"}`, "a", providers.ErrInvalid},
		{`{"a": {"b": 1}, "\u0061": {"b": 2}}`, "/a/b", providers.ErrInvalid},
		{`{"password": "hunter2-Zq8", `, "", providers.ErrInvalid},
		{`{"password": "hunter2-Zq8"} trailing`, "password", providers.ErrInvalid},
		{``, "", providers.ErrInvalid},
		{`[1, 2]`, "password", providers.ErrNotFound},
		{`"just a string"`, "password", providers.ErrNotFound},
	} {
		_, _, err := extractJSON([]byte(c.doc), c.part)
		if !errors.Is(err, c.err) {
			t.Errorf("extractJSON(%q, %q): %v, want %v", c.doc, c.part, err, c.err)
			continue
		}
		checkContentError(t, err, []byte(c.doc))
		checkNoContent(t, err.Error(), []byte(c.doc))
	}
	_, whole, err := extractJSON([]byte(`{"a": "x", "a": "y"}`), "")
	if err != nil || !whole {
		t.Errorf("whole document with a duplicate name off the path: whole %v, %v", whole, err)
	}
}

func TestUnescapeJSON(t *testing.T) {
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
		got := unescapeJSON([]byte(c.in))
		if string(got) != c.want || len(got) != cap(got) {
			t.Errorf("unescapeJSON(%q) = %q (cap %d), want %q", c.in, got, cap(got), c.want)
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
		if checkPart(formatJSON, part) != "" {
			return // parseRef refuses such a fragment
		}
		orig := bytes.Clone(doc)
		out, whole, err := extractJSON(doc, part)
		if !bytes.Equal(doc, orig) {
			t.Fatal("extractJSON modified the document")
		}
		if err != nil {
			checkContentError(t, err, doc)
		}
		if !json.Valid(doc) {
			if !errors.Is(err, providers.ErrInvalid) {
				t.Fatalf("invalid document: got error %v", err)
			}
			return
		}
		var ce *contentError
		if errors.As(err, &ce) && ce.code == codeJSONDuplicate {
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
		tokens, _ := pointerTokens(part)
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
		got := unescapeJSON(s)
		if len(got) != cap(got) {
			t.Fatalf("unescapeJSON(%q): length %d, capacity %d", s, len(got), cap(got))
		}
		doc := append(append([]byte{'"'}, s...), '"')
		member := append(append([]byte(`{"k":`), doc...), '}')
		if _, _, err := extractJSON(member, "k"); err != nil {
			checkContentError(t, err, member)
		}
		if !json.Valid(doc) {
			return
		}
		var want string
		if err := json.Unmarshal(doc, &want); err != nil {
			t.Fatalf("oracle: %v", err)
		}
		if string(got) != want {
			t.Fatalf("unescapeJSON(%q) = %q, encoding/json gives %q", s, got, want)
		}
	})
}
