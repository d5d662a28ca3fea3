package providers

import (
	"strings"
	"testing"
)

func TestScheme(t *testing.T) {
	tests := []struct{ ref, want string }{
		{"file:///x", "file"},
		{"FILE:x", "file"},
		{"env://A", "env"},
		{"a+b-c.d:x", "a+b-c.d"},
		{"1abc:x", ""},
		{":x", ""},
		{"noscheme", ""},
		{"/abs/path", ""},
		{"c:\\windows", "c"},
	}
	for _, tt := range tests {
		if got := Scheme(tt.ref); got != tt.want {
			t.Errorf("Scheme(%q) = %q, want %q", tt.ref, got, tt.want)
		}
	}
}

// FuzzScheme checks Scheme against RFC 3986's grammar for a scheme.
func FuzzScheme(f *testing.F) {
	f.Add("file:///x")
	f.Add("Env:A")
	f.Fuzz(func(t *testing.T, ref string) {
		got := Scheme(ref)
		i := strings.IndexByte(ref, ':')
		want := ""
		if i > 0 && validScheme(ref[:i]) {
			want = strings.ToLower(ref[:i])
		}
		if got != want {
			t.Errorf("Scheme(%q) = %q, want %q", ref, got, want)
		}
	})
}

func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func TestValueRedacts(t *testing.T) {
	v := Value{Data: []byte("hunter2-secret"), Version: "7"}
	for _, out := range []string{v.String(), v.GoString()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("Value printed its data: %s", out)
		}
	}
	v.Wipe()
	if v.Data != nil {
		t.Error("Wipe left Data")
	}
}
