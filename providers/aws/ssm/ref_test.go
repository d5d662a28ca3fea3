package ssm

import (
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func TestParseRef(t *testing.T) {
	deep := "/" + strings.Repeat("l/", 14) + "name" // 15 levels
	long := "/" + strings.Repeat("a", maxName-1)
	for _, c := range []struct {
		in   string
		want ref
	}{
		{"ssm:db", ref{name: "db"}},
		{"SSM:/db", ref{name: "/db"}},
		{"ssm:/prod/db/password", ref{name: "/prod/db/password"}},
		{"ssm:/prod/db?version=3", ref{name: "/prod/db", version: 3}},
		{"ssm:/prod/db?version=9223372036854775807", ref{name: "/prod/db", version: 1<<63 - 1}},
		{"ssm:/prod/db?label=Blue_1.x-y", ref{name: "/prod/db", label: "Blue_1.x-y"}},
		{"ssm:/prod/db?label=as", ref{name: "/prod/db", label: "as"}},
		{"ssm:/prod/db#/password", ref{name: "/prod/db", pointer: "/password"}},
		{"ssm:/prod/db?version=2#password", ref{name: "/prod/db", version: 2, pointer: "password"}},
		{"ssm:" + deep, ref{name: deep}},
		{"ssm:" + long, ref{name: long}},
	} {
		got, err := parseRef(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseRef(%.40q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{
		"ssm:", "ssm:/", "ssm:a/b", "ssm:/a//b", "ssm:/a/", "ssm:a b", "ssm:a:1", "ssm:a@b", "ssm:é",
		"ssm:" + deep + "/more", "ssm:" + long + "a",
		"ssm:a?", "ssm:a?version", "ssm:a?version=", "ssm:a?version=0", "ssm:a?version=01", "ssm:a?version=+1",
		"ssm:a?version=9223372036854775808", "ssm:a?label=", "ssm:a?label=1x", "ssm:a?label=awsX", "ssm:a?label=SSM",
		"ssm:a?label=" + strings.Repeat("x", maxLabel+1), "ssm:a?label=a/b", "ssm:a?Version=1", "ssm:a?version=1&label=x",
		"ssm:a#", "ssm:a#/~", "ssm:a#/x\x7f", "awssm:a", "a",
	} {
		if r, err := parseRef(in); !errors.Is(err, providers.ErrInvalidRef) {
			t.Errorf("parseRef(%.40q) = %+v, %v; want ErrInvalidRef", in, r, err)
		}
	}
}

func TestSelector(t *testing.T) {
	for _, c := range []struct {
		r    ref
		want string
	}{
		{ref{name: "/a/b"}, "/a/b"},
		{ref{name: "/a/b", version: 12}, "/a/b:12"},
		{ref{name: "a", label: "blue"}, "a:blue"},
	} {
		if got := c.r.selector(); got != c.want {
			t.Errorf("%+v.selector() = %q, want %q", c.r, got, c.want)
		}
	}
	for in, want := range map[string]string{"x": "x", "/x": "x", "/a/b": "/a/b"} {
		if got := key(in); got != want {
			t.Errorf("key(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRef checks that parseRef never panics, refuses with ErrInvalidRef
// only, and that what it accepts is a name AWS allows (characters, length,
// hierarchy) with at most one of a version and a label, whose selector
// parses back to the same name.
func FuzzRef(f *testing.F) {
	for _, s := range []string{"ssm:a", "ssm:/prod/db?version=3#/password", "ssm:/a/b?label=blue",
		"ssm:/a//b", "SSM:a?version=01", "ssm:a#", "ssm:a b", "ssm:/" + strings.Repeat("x/", 15) + "y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseRef(s)
		if err != nil {
			if !errors.Is(err, providers.ErrInvalidRef) || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("parseRef(%q): %v", s, err)
			}
			return
		}
		if r.name == "" || len(r.name) > maxName || r.version < 0 || (r.version > 0 && r.label != "") {
			t.Fatalf("parseRef(%q) accepted %+v", s, r)
		}
		for i := 0; i < len(r.name); i++ {
			if !isNameChar(r.name[i]) && r.name[i] != '/' {
				t.Fatalf("parseRef(%q): name %q has byte %#x", s, r.name, r.name[i])
			}
		}
		if strings.Contains(r.name, "/") && (r.name[0] != '/' || strings.HasSuffix(r.name, "/") ||
			strings.Contains(r.name, "//") || strings.Count(r.name, "/") > maxLevels) {
			t.Fatalf("parseRef(%q) accepted the hierarchy %q", s, r.name)
		}
		name, _, _ := strings.Cut(r.selector(), ":")
		if name != r.name {
			t.Fatalf("parseRef(%q): selector %q does not start with the name %q", s, r.selector(), r.name)
		}
		if k := key(r.name); strings.Count(k, "/") > 0 && k[0] != '/' {
			t.Fatalf("parseRef(%q): key %q", s, k)
		}
	})
}
