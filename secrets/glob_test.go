package secrets

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "payments/db", true},
		{"payments/*", "payments/db", true},
		{"payments/*", "payments/eu/db", true},
		{"payments/*", "payments", false},
		{"payments/*", "search/key", false},
		{"db-?", "db-1", true},
		{"db-?", "db-12", false},
		{"*-key", "api-key", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

// FuzzMatch checks match against a regular expression built from the
// pattern.
func FuzzMatch(f *testing.F) {
	f.Add("payments/*", "payments/db")
	f.Add("a*b?c", "aXbYc")
	f.Add("**?*", "x")
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 64 || len(name) > 64 {
			return
		}
		var re strings.Builder
		re.WriteString(`^`)
		for _, c := range []byte(pattern) {
			switch c {
			case '*':
				re.WriteString(`(?s:.*)`)
			case '?':
				re.WriteString(`(?s:.)`)
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		if !isASCII(pattern) || !isASCII(name) {
			_ = match(pattern, name) // bytes, not runes: must only not panic or hang
			return
		}
		want := regexp.MustCompile(re.String()).MatchString(name)
		if got := match(pattern, name); got != want {
			t.Errorf("match(%q, %q) = %v, regexp says %v", pattern, name, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
