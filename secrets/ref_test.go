package secrets

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedactRef(t *testing.T) {
	tests := []struct{ in, want string }{
		{"file:///run/secrets/db", "file:///run/secrets/db"},
		{"vault://app:s3cret@vault:8200/kv/db", "vault://xxxxx@vault:8200/kv/db"},
		{"https://ghp_TOKEN@vault.example/x", "https://xxxxx@vault.example/x"},
		{"https://h/x#access_token=SECRET2&x=1", "https://h/x#access_token=xxxxx&x=1"},
		{"https://host/x?token=abc&region=eu", "https://host/x?region=eu&token=xxxxx"},
		{"env://API_KEY", "env://API_KEY"},
		{"vault://[bad", "vault:[unparseable reference]"},
	}
	for _, tt := range tests {
		if got := redactRef(tt.in); got != tt.want {
			t.Errorf("redactRef(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzRedactRef checks that a password in a reference's user-info never
// survives redaction, whatever else the reference holds.
func FuzzRedactRef(f *testing.F) {
	f.Add("vault://app:s3cret@vault:8200/kv/db")
	f.Add("https://host/x?token=abc&sig=def")
	f.Add("file:app.json#/a/b")
	f.Fuzz(func(t *testing.T, ref string) {
		out := redactRef(ref)
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
		if _, err := url.Parse(out); err != nil {
			t.Errorf("redacted %q is no longer a URL: %q", ref, out)
		}
	})
}
