package memory

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/strongroom/strongroom/providers"
)

// FuzzRef checks parseRef against a regular expression of the grammar
// (which cannot say "valid UTF-8" itself), and the shape of its errors.
func FuzzRef(f *testing.F) {
	for _, seed := range []string{
		"memory://a", "MEMORY://db/password", "memory://", "memory:a", "memory:/a",
		"memory://a\x00", "memory://\xff", "memory://ünï", "env://a", "", "memory",
	} {
		f.Add(seed)
	}
	grammar := regexp.MustCompile(`^(?i:memory)://[^\x00-\x1f\x7f]+$`)
	f.Fuzz(func(t *testing.T, ref string) {
		name, err := parseRef(ref)
		valid := grammar.MatchString(ref) && utf8.ValidString(ref)
		if valid != (err == nil) {
			t.Fatalf("parseRef(%q): error %v, but the grammar says valid = %v", ref, err, valid)
		}
		if err != nil {
			if msg := err.Error(); !errors.Is(err, providers.ErrInvalidRef) || !strings.HasPrefix(msg, "providers/memory: ") || len(msg) > 100 {
				t.Errorf("parseRef(%q): error %q: want ErrInvalidRef, the prefix, and no copy of the input", ref, msg)
			}
			return
		}
		if got := Ref(name); !strings.EqualFold(got, ref) || got[len(Scheme):] != ref[len(Scheme):] {
			t.Errorf("parseRef(%q) = %q, but Ref gives back %q", ref, name, got)
		}
	})
}
