package env

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// FuzzRef checks parseRef against a regular expression of the grammar, and
// the shape of its results and errors.
func FuzzRef(f *testing.F) {
	for _, seed := range []string{
		"env://DB_PASSWORD", "env:DB_PASSWORD", "ENV://x", "env:_", "env:", "env://",
		"env:///A", "env://1A", "env://A-B", "env://A\x00B", "env://ÄB", "file://A", "",
		"env:////", "e:A", "env//A", "env://A://B",
	} {
		f.Add(seed)
	}
	grammar := regexp.MustCompile(`^(?i:env):(//)?[A-Za-z_][A-Za-z0-9_]*$`)
	f.Fuzz(func(t *testing.T, ref string) {
		name, err := parseRef(ref)
		if valid := grammar.MatchString(ref); valid != (err == nil) {
			t.Fatalf("parseRef(%q): error %v, but the grammar says valid = %v", ref, err, valid)
		}
		if err != nil {
			if name != "" {
				t.Errorf("parseRef(%q) returned the name %q with the error %v", ref, name, err)
			}
			msg := err.Error()
			if !errors.Is(err, providers.ErrInvalidRef) || !strings.HasPrefix(msg, "providers/env: ") {
				t.Errorf("parseRef(%q): error %q: want the package prefix and ErrInvalidRef", ref, msg)
			}
			if len(msg) > 100 {
				t.Errorf("parseRef(%q): error of %d bytes: it must describe the problem, not repeat the input", ref, len(msg))
			}
			return
		}
		if rest := ref[len(Scheme)+1:]; rest != name && rest != "//"+name {
			t.Errorf("parseRef(%q) = %q, which is not what follows the scheme", ref, name)
		}
		for _, again := range []string{Ref(name), Scheme + ":" + name} {
			if got, err := parseRef(again); got != name || err != nil {
				t.Errorf("parseRef(%q) = %q, %v; want %q, as for %q", again, got, err, name, ref)
			}
		}
	})
}
