package file

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func TestParseRef(t *testing.T) {
	for _, c := range []struct {
		ref  string
		want fileRef // zero: an error wrapping ErrInvalidRef
	}{
		{"file:///run/secrets/db", fileRef{path: "/run/secrets/db", abs: true}},
		{"FILE:///run/secrets/db", fileRef{path: "/run/secrets/db", abs: true}},
		{"file://localhost/run/db", fileRef{path: "/run/db", abs: true}},
		{"file:/run/db", fileRef{path: "/run/db", abs: true}},
		{"file:///run//x/../db", fileRef{path: "/run/db", abs: true}},
		{"file:db/password", fileRef{path: "db/password"}},
		{"file:a/../b", fileRef{path: "b"}},
		{"file:my%20secret", fileRef{path: "my secret"}},
		{"file:a%23b", fileRef{path: "a#b"}},
		{"file:app.json", fileRef{path: "app.json", format: formatJSON}},
		{"file:APP.JSON#/db/password", fileRef{path: "APP.JSON", format: formatJSON, part: "/db/password"}},
		{"file:app.json#password", fileRef{path: "app.json", format: formatJSON, part: "password"}},
		{"file:app.json#", fileRef{path: "app.json", format: formatJSON}},
		{"file:app.json#/a~1b/~0c", fileRef{path: "app.json", format: formatJSON, part: "/a~1b/~0c"}},
		{"file:.env#DB_PASSWORD", fileRef{path: ".env", format: formatDotenv, part: "DB_PASSWORD"}},
		{"file:prod.env", fileRef{path: "prod.env", format: formatDotenv}},
		{"file:tls.pem#cert", fileRef{path: "tls.pem", format: formatPEM, part: "cert"}},
		{"file:tls.crt", fileRef{path: "tls.crt", format: formatPEM}},
		{"file:tls.cer", fileRef{path: "tls.cer", format: formatPEM}},
		{"file:tls.key#key", fileRef{path: "tls.key", format: formatPEM, part: "key"}},
		{"file:b.pem#EC%20PARAMETERS", fileRef{path: "b.pem", format: formatPEM, part: "EC PARAMETERS"}},
		{"file:config?format=json#/a", fileRef{path: "config", format: formatJSON, part: "/a"}},
		{"file:x.json?format=raw", fileRef{path: "x.json"}},
		{"file:x?format=dotenv#A", fileRef{path: "x", format: formatDotenv, part: "A"}},
		{"file:x?format=pem", fileRef{path: "x", format: formatPEM}},

		{"", fileRef{}},
		{"file", fileRef{}},
		{"file:", fileRef{}},
		{"file://", fileRef{}},
		{"file:///", fileRef{}},
		{"file:.", fileRef{}},
		{"file:a/..", fileRef{}},
		{"env://X", fileRef{}},
		{"files:x", fileRef{}},
		{"file://host/x", fileRef{}},
		{"file:../x", fileRef{}},
		{"file:a/../../x", fileRef{}},
		{"file:dir/", fileRef{}},
		{"file:%ZZ", fileRef{}},
		{"file:a%00b", fileRef{}},
		{"file:x?format=yaml", fileRef{}},
		{"file:x?format=json&format=pem", fileRef{}},
		{"file:x?other=1", fileRef{}},
		{"file:x?format", fileRef{}},
		{"file:x#part", fileRef{}},
		{"file:x.env#1BAD", fileRef{}},
		{"file:x.env#A-B", fileRef{}},
		{"file:x.json#/a~2", fileRef{}},
		{"file:x.json#/a~", fileRef{}},
		{"file:x.pem#%ZZ", fileRef{}},
	} {
		got, err := parseRef(c.ref)
		if c.want == (fileRef{}) {
			if !errors.Is(err, providers.ErrInvalidRef) {
				t.Errorf("parseRef(%q) = %+v, %v; want ErrInvalidRef", c.ref, got, err)
			}
			continue
		}
		c.want.path = filepath.FromSlash(c.want.path)
		if err != nil || got != c.want {
			t.Errorf("parseRef(%q) = %+v, %v; want %+v", c.ref, got, err, c.want)
		}
	}
}

// canonical writes r back as a reference, with every character that could
// be misread escaped and the format explicit.
func (r fileRef) canonical() string {
	var b strings.Builder
	b.WriteString("file:")
	if r.abs {
		b.WriteString("//")
	}
	b.WriteString(escapeRef(filepath.ToSlash(r.path)))
	b.WriteString("?format=" + r.format.String())
	if r.part != "" {
		b.WriteString("#" + escapeRef(r.part))
	}
	return b.String()
}

func escapeRef(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/!$&'()*+,;=:@", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// FuzzRef checks that parseRef never panics, that what it accepts keeps
// its invariants, and that the canonical form of a parsed reference parses
// to the same thing.
func FuzzRef(f *testing.F) {
	for _, s := range []string{
		"file:///run/secrets/db", "file://localhost/a/b.json#/x/0", "file:a/b.env?format=dotenv#KEY",
		"file:x.pem#EC%20PARAMETERS", "file:../x", "file:a%2Fb", "file:x?format=json#", "file:%C3%A9.key#key",
		"file:/a//b/./c", "File:x.JSON#~01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		r, err := parseRef(ref)
		if err != nil {
			if !errors.Is(err, providers.ErrInvalidRef) {
				t.Fatalf("parseRef(%q): error %v does not wrap ErrInvalidRef", ref, err)
			}
			if !strings.HasPrefix(err.Error(), "providers/file: ") {
				t.Fatalf("parseRef(%q): error %q lacks the prefix", ref, err)
			}
			return
		}
		switch {
		case r.path == "" || strings.IndexByte(r.path, 0) >= 0:
			t.Fatalf("parseRef(%q): bad path %q", ref, r.path)
		case r.abs != filepath.IsAbs(r.path):
			t.Fatalf("parseRef(%q): abs is %v for %q", ref, r.abs, r.path)
		case !r.abs && !filepath.IsLocal(r.path):
			t.Fatalf("parseRef(%q): relative path %q is not local", ref, r.path)
		case filepath.Clean(r.path) != r.path:
			t.Fatalf("parseRef(%q): path %q is not clean", ref, r.path)
		case r.format == formatRaw && r.part != "":
			t.Fatalf("parseRef(%q): raw file with part %q", ref, r.part)
		case r.format == formatDotenv && r.part != "" && !isDotenvName([]byte(r.part)):
			t.Fatalf("parseRef(%q): dotenv part %q is not a name", ref, r.part)
		}
		again, err := parseRef(r.canonical())
		if err != nil || again != r {
			t.Fatalf("parseRef(%q) = %+v; its canonical form %q parses to %+v, %v", ref, r, r.canonical(), again, err)
		}
	})
}
