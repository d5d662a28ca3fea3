package kms

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/strongroom/strongroom/providers"
)

func TestParseRef(t *testing.T) {
	for _, c := range []struct{ ref, inner, ec string }{
		{"kms+memory://a", "memory://a", ""},
		{"kms+file:///x/y?kms-context=app:web,env:prod", "file:///x/y", "app:web,env:prod"},
		{"kms+awssm:db?stage=AWSPREVIOUS&kms-context=a%3Ab:c%2Cd#/pw", "awssm:db?stage=AWSPREVIOUS#/pw", "a%3Ab:c%2Cd"},
	} {
		inner, ec, err := ParseRef(c.ref)
		if err != nil || inner != c.inner || FormatContext(ec) != c.ec {
			t.Errorf("%s: %q %v %v", c.ref, inner, ec, err)
		}
	}
	for _, ref := range []string{"memory://a", "kms+:x", "kms+memory://a?kms-context=", "kms+memory://a?kms-context=k",
		"kms+memory://a?kms-context=k:v,k:w", "kms+memory://a?kms-key=x", "kms+memory://a?kms-context=k:v&kms-context=j:w",
		"kms+memory://a?kms-context=k:%zz", "kms+0:x", "kms+-a:x"} {
		if _, _, err := ParseRef(ref); !errors.Is(err, providers.ErrInvalidRef) {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

// withContext returns "kms+" + inner with the kms-context parameter ctx
// added as the last query parameter.
func withContext(inner, ctx string) string {
	rest, frag := inner, ""
	if i := strings.IndexByte(inner, '#'); i >= 0 {
		rest, frag = inner[:i], inner[i:]
	}
	sep := "?"
	if strings.Contains(rest, "?") {
		sep = "&"
	}
	return "kms+" + rest + sep + "kms-context=" + ctx + frag
}

// FuzzParseRef checks, for any reference: a refusal wraps
// providers.ErrInvalidRef, starts with the package prefix and is printable
// text; an accepted one gives an inner reference of the inner scheme that
// has no kms- parameter left (it parses again to itself, with no context),
// and a context that FormatContext writes so that it parses back equal,
// also when put back into the reference.
func FuzzParseRef(f *testing.F) {
	for _, s := range []string{
		"kms+memory://a", "kms+file:///x/y?kms-context=app:web,env:prod",
		"kms+awssm:db?stage=AWSPREVIOUS&kms-context=a%3Ab:c%2Cd#/pw",
		"kms+env://A?kms-context=k:v%23w&x=1#f", "kms+memory://a?", "kms+memory://a?kms-context=k:v,k:v",
		"kms+memory://a?KMS-Context=k:v", "kms+memory://a?kms-context=k:%zz", "kms+:x", "memory://a",
		"kms+memory://a?kms-context=%E2%82%AC:%FF&kms-context=j:w",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		inner, ec, err := ParseRef(ref)
		if err != nil {
			if !errors.Is(err, providers.ErrInvalidRef) || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("refusal %v: not an ErrInvalidRef with the package prefix", err)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return !unicode.IsPrint(r) }) {
				t.Fatalf("refusal %q: not printable text", msg)
			}
			return
		}
		if got, want := providers.Scheme(inner), strings.TrimPrefix(providers.Scheme(ref), "kms+"); got != want {
			t.Fatalf("inner reference %q has scheme %q, want %q", inner, got, want)
		}
		again, ec2, err := ParseRef("kms+" + inner)
		if err != nil || again != inner || ec2 != nil {
			t.Fatalf("inner reference %q does not parse to itself: %q %v %v", inner, again, ec2, err)
		}
		if ec == nil {
			return
		}
		formatted := FormatContext(ec)
		back, err := parseContext(formatted)
		if err != nil || !maps.Equal(back, ec) {
			t.Fatalf("context %q formatted as %q parses to %q, %v", ec, formatted, back, err)
		}
		again, back, err = ParseRef(withContext(inner, formatted))
		if err != nil || again != inner || !maps.Equal(back, ec) {
			t.Fatalf("%q rebuilt as %q: %q %q %v", ref, withContext(inner, formatted), again, back, err)
		}
	})
}

// FuzzFormatContext checks that any context of non-empty keys and values
// survives FormatContext and parsing, whatever bytes it holds.
func FuzzFormatContext(f *testing.F) {
	f.Add("app", "web", "k,:&#%", "v=?/ \xff")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		ec := map[string]string{}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}} {
			if kv[0] != "" && kv[1] != "" {
				ec[kv[0]] = kv[1]
			}
		}
		if len(ec) == 0 {
			return
		}
		formatted := FormatContext(ec)
		_, back, err := ParseRef("kms+memory://a?kms-context=" + formatted + "#/x")
		if err != nil || !maps.Equal(back, ec) {
			t.Fatalf("%q formatted as %q parses to %q, %v", ec, formatted, back, err)
		}
	})
}
