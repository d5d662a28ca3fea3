package file

import (
	"errors"
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
