package env

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// refErrorText matches every error text of parseRef: a fixed message, with
// a byte offset in some; nothing of the reference.
var refErrorText = func() *regexp.Regexp {
	var alts []string
	for _, m := range refMessages {
		alts = append(alts, strings.ReplaceAll(regexp.QuoteMeta(m), "%d", `\d+`))
	}
	return regexp.MustCompile(`^providers/env: invalid reference: (` + strings.Join(alts, "|") + `)$`)
}()

// FuzzRef checks parseRef against a regular expression of the grammar, and
// the shape of its results and errors: an error's text is a fixed message
// and a number.
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
			if !refErrorText.MatchString(msg) {
				t.Errorf("parseRef(%q): error %q is not a fixed message with a byte offset", ref, msg)
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

// FuzzFetchErrors fetches an arbitrary value through each way a fetch can
// fail after the lookup (a failing Unsetenv, a closed provider, a context
// that ended) and checks that each error is the same fixed text whatever
// the value.
func FuzzFetchErrors(f *testing.F) {
	for _, s := range []string{"s3cr3t-Zq8", "", "providers/env", "env://A", "\x00\xff"} {
		f.Add(s)
	}
	errSandbox := errors.New("sandbox: read-only environment")
	f.Fuzz(func(t *testing.T, value string) {
		lookup := func(string) (string, bool) { return value, true }
		unsetenv := func(string) error { return errSandbox }
		closed := New(&Options{Lookup: lookup})
		closed.Close()
		ended, cancel := context.WithCancel(context.Background())
		cancel()
		for _, c := range []struct {
			p    *Provider
			ctx  context.Context
			want string
		}{
			{New(&Options{Unset: true, Lookup: lookup, Unsetenv: unsetenv}), context.Background(),
				"providers/env: fetch env://A: unset the variable: permission denied: sandbox: read-only environment"},
			{closed, context.Background(), "providers/env: fetch env://A: provider closed"},
			{New(&Options{Lookup: lookup}), ended, "providers/env: fetch env://A: context canceled"},
		} {
			_, err := c.p.Fetch(c.ctx, "env://A")
			if err == nil || err.Error() != c.want {
				t.Fatalf("Fetch of a value of %d bytes: error %v, want %q", len(value), err, c.want)
			}
		}
	})
}
