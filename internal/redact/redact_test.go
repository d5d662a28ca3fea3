package redact

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"file:///run/secrets/db", "file:///run/secrets/db"},
		{"vault://app:s3cret@vault:8200/kv/db", "vault://xxxxx@vault:8200/kv/db"},
		{"https://ghp_TOKEN@vault.example/x", "https://xxxxx@vault.example/x"},
		{"https://h/x#access_token=SECRET2&x=1", "https://h/x#access_token=xxxxx&x=1"},
		{"https://host/x?token=abc&region=eu", "https://host/x?token=xxxxx&region=eu"},
		{"env://API_KEY", "env://API_KEY"},
		{"vault://[bad", "vault:[unparseable reference]"},
	}
	for _, tt := range tests {
		if got := Ref(tt.in); got != tt.want {
			t.Errorf("Ref(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRef checks that a password in a reference's user-info never
// survives redaction, whatever else the reference holds.
func FuzzRef(f *testing.F) {
	f.Add("vault://app:s3cret@vault:8200/kv/db")
	f.Add("https://host/x?token=abc&sig=def")
	f.Add("file:app.json#/a/b")
	f.Fuzz(func(t *testing.T, ref string) {
		out := Ref(ref)
		u, err := url.Parse(ref)
		if err != nil {
			if !strings.HasSuffix(out, "[unparseable reference]") || strings.Count(out, ":") > 1 {
				t.Errorf("unparseable %q gave %q", ref, out)
			}
			return
		}
		if u.User != nil {
			if v, err := url.Parse(out); err == nil && v.User != nil && v.User.String() != "xxxxx" {
				t.Errorf("user-info survived: %q -> %q", ref, out)
			}
		}
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("redacted %q is no longer a URL: %q", ref, out)
		}
		for _, part := range []string{v.RawQuery, v.EscapedFragment()} {
			if part == v.EscapedFragment() && !strings.Contains(u.Fragment, "=") {
				continue // a fragment without parameters ("#/json/pointer") stays
			}
			for _, p := range strings.Split(part, "&") {
				if name, value, ok := strings.Cut(p, "="); ok && credential(name) && value != "" && value != Hidden {
					t.Fatalf("redacting %q left %q in %q", ref, p, out)
				}
			}
		}
	})
}

func TestParts(t *testing.T) {
	for _, c := range []struct {
		in       string
		ref, url []string
	}{
		{"file:///run/secrets/db", nil, nil},
		{"vault://app:s3cret@vault/kv?token=abc%2Fdef&region=eu", []string{"app:s3cret", "abc%2Fdef", "abc/def", "s3cret", "app"}, []string{"app:s3cret", "abc%2Fdef", "abc/def", "s3cret", "app", "eu"}},
		{"https://h/x#access_token=t0k&x=1", []string{"t0k"}, []string{"t0k", "1"}},
		{"https:opaque", nil, []string{"opaque"}},
		{"vault://[bad", []string{"vault://[bad"}, []string{"vault://[bad"}},
	} {
		if got := RefParts(c.in); !slices.Equal(got, c.ref) {
			t.Errorf("RefParts(%q) = %q, want %q", c.in, got, c.ref)
		}
		if got := URLParts(c.in); !slices.Equal(got, c.url) {
			t.Errorf("URLParts(%q) = %q, want %q", c.in, got, c.url)
		}
	}
}

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"https://auth.test/token", "https://auth.test/token"},
		{"https://auth.test/token?api_key=k&tenant=eu&empty=", "https://auth.test/token?api_key=xxxxx&tenant=xxxxx&empty="},
		{"https://user:pw@auth.test/t?bare", "https://xxxxx@auth.test/t?xxxxx"},
		{"https://auth.test/cb#access_token=t&state=s", "https://auth.test/cb#access_token=xxxxx&state=xxxxx"},
		{"https://auth.test/cb#tokenvalue", "https://auth.test/cb#xxxxx"},
		{"https:opaque-secret", "https:xxxxx"},
		{"https://[bad", "[URL withheld: it does not parse]"},
	} {
		if got := URLString(c.in); got != c.want {
			t.Errorf("URLString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzURL: whatever the URL, its redacted form holds nothing but
// "xxxxx" (or nothing) where the URL had user information, an opaque part,
// a query or fragment value; and a URL that does not parse is withheld
// whole.
func FuzzURL(f *testing.F) {
	f.Add("https://u:p@h/x?token=abcdef&sig=ghijkl#frag=mnopqr")
	f.Add("https://h/x?bare-secret-value")
	f.Add("https:opaque-secret-value")
	f.Add("http://h/%zz?x=1")
	f.Add("A000000000000#0000#")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			if out := URLString(raw); out != "[URL withheld: it does not parse]" {
				t.Fatalf("%q does not parse, yet gave %q", raw, out)
			}
			return
		}
		out := FullURL(u)
		v, err := url.Parse(out)
		if err != nil {
			t.Fatalf("redacted %q to %q, which does not parse: %v", raw, out, err)
		}
		hidden := func(s string) bool { return s == "" || s == Hidden }
		if v.User != nil && v.User.String() != Hidden || !hidden(v.Opaque) {
			t.Fatalf("redacting %q left user information or an opaque part: %q", raw, out)
		}
		for _, part := range []string{v.RawQuery, v.EscapedFragment()} {
			for _, p := range strings.Split(part, "&") {
				if _, value, ok := strings.Cut(p, "="); ok && !hidden(value) || !ok && !hidden(p) {
					t.Fatalf("redacting %q left %q in %q", raw, p, out)
				}
			}
		}
	})
}
