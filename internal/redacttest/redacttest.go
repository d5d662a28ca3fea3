// Package redacttest renders values every way a program could print or log
// them (every fmt verb, slog's text and JSON handlers, encoding/json, text
// marshalling, an error's whole Unwrap chain) and looks for secret
// material in what comes out, in the encodings it could take there. The
// redaction tests of every package use it, so that they agree on what
// "never shows" means.
package redacttest

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Verbs are the fmt verbs Render applies, with flags and widths that take
// other paths through fmt.
var Verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.4s", "%-8v"}

// Forms returns the ways secret could show in rendered output: itself,
// hex (both cases), base64 (standard and URL alphabets, at each of the
// three alignments a value can take inside a longer one), the decimal
// bytes fmt prints for a []byte, and percent-encoding. The base64 forms
// are trimmed where their last characters depend on what follows.
func Forms(secret []byte) []string {
	out := []string{
		string(secret),
		hex.EncodeToString(secret),
		strings.ToUpper(hex.EncodeToString(secret)),
		strings.Trim(fmt.Sprint(secret), "[]"),
		url.QueryEscape(string(secret)),
	}
	for i := 0; i < 3 && len(secret)-i >= 9; i++ {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawURLEncoding} {
			s := enc.EncodeToString(secret[i:])
			out = append(out, s[:len(s)-4])
		}
	}
	return out
}

// Render shows v every way a program could print or log it.
func Render(v any) string {
	var out bytes.Buffer
	for _, verb := range Verbs {
		fmt.Fprintf(&out, verb+"\n", v)
	}
	fmt.Fprintln(&out, v)
	slog.New(slog.NewTextHandler(&out, nil)).Info("value", "v", v)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("value", "v", v)
	if j, err := json.Marshal(v); err == nil {
		out.Write(j)
	} else {
		fmt.Fprintf(&out, "json: %v\n", err)
	}
	if m, ok := v.(encoding.TextMarshaler); ok {
		b, _ := m.MarshalText()
		out.Write(b)
	}
	if err, ok := v.(error); ok {
		for _, e := range Chain(err) {
			fmt.Fprintf(&out, "%s\n%#v\n%+v\n", e.Error(), e, e)
		}
	}
	return out.String()
}

// Chain returns err and every error it wraps, depth first.
func Chain(err error) []error {
	if err == nil {
		return nil
	}
	out := []error{err}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		out = append(out, Chain(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			out = append(out, Chain(e)...)
		}
	}
	return out
}

// ExportedTypes lists the exported types declared in the non-test Go files
// of the package in dir, sorted.
func ExportedTypes(dir string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var names []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				if n := s.(*ast.TypeSpec).Name.Name; ast.IsExported(n) {
					names = append(names, n)
				}
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// Check fails t for each exported type of the package in dir that has no
// entry in samples, and for each sample whose rendering (Render) shows
// one of forms. Each sample should hold secret material wherever its type
// can hold any; a type that cannot still gets a sample, so that a later
// change that lets it hold some is rendered.
func Check(t testing.TB, dir string, samples map[string][]any, forms []string) {
	t.Helper()
	types, err := ExportedTypes(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(types) == 0 {
		t.Errorf("%s: no exported types found: is the directory right?", dir)
	}
	for _, name := range types {
		if len(samples[name]) == 0 {
			t.Errorf("%s: exported type %s has no sample: add one holding secret material wherever it can hold any", dir, name)
		}
	}
	for name, vals := range samples {
		if !slices.Contains(types, name) {
			t.Errorf("%s: sample for %s, which the package does not declare", dir, name)
		}
		for i, v := range vals {
			out := Render(v)
			if f := Find(out, forms); f != "" {
				t.Errorf("%s.%s (sample %d, %T) shows secret material (%q):\n%s", filepath.Base(dir), name, i, v, f, out)
			}
			if msg := Reflective(v); msg != "" {
				t.Errorf("%s.%s (sample %d, %T) %s", filepath.Base(dir), name, i, v, msg)
			}
		}
	}
}

// Reflective says how printing v with fmt would read state that other
// goroutines write, or "" when it would not. fmt prints a value without a
// Format or String method field by field, and for verbs such as %s and
// %q it also prints what a pointer field points to ("%!s(*T=&{...})"),
// however deep; a lock or an atomic reached that way is read while its
// owner writes it, a data race in the program that prints. A type that
// holds live state implements fmt.Formatter, which also keeps internals
// out of the output.
func Reflective(v any) string {
	if v == nil {
		return ""
	}
	if _, ok := v.(fmt.Formatter); ok {
		return ""
	}
	if p := liveState(reflect.TypeOf(v), true, map[reflect.Type]bool{}); p != "" {
		return fmt.Sprintf("reaches %s, which fmt prints field by field (a data race with its writers): implement fmt.Formatter", p)
	}
	return ""
}

var formatter = reflect.TypeFor[fmt.Formatter]()

// liveState names the first lock or atomic that fmt would reach printing
// a value of type t reflectively, or "". Methods are called only on what
// fmt reaches through exported fields (open).
func liveState(t reflect.Type, open bool, seen map[reflect.Type]bool) string {
	if open && t.Implements(formatter) {
		return ""
	}
	if seen[t] {
		return ""
	}
	seen[t] = true
	if p := t.PkgPath(); (p == "sync" || p == "sync/atomic") && t.Kind() == reflect.Struct {
		return t.String()
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if p := liveState(f.Type, open && f.IsExported(), seen); p != "" {
				return t.String() + "." + f.Name + ": " + p
			}
		}
	case reflect.Pointer, reflect.Array, reflect.Slice:
		return liveState(t.Elem(), open, seen)
	case reflect.Map:
		if p := liveState(t.Key(), open, seen); p != "" {
			return p
		}
		return liveState(t.Elem(), open, seen)
	}
	return ""
}

// Find returns the first of forms that out contains, or "".
func Find(out string, forms []string) string {
	for _, f := range forms {
		if f != "" && strings.Contains(out, f) {
			return f
		}
	}
	return ""
}

// ReadDir lists the Go package directories under root (itself included)
// that hold non-test Go files, skipping those whose path relative to root
// starts with one of skip and hidden directories; paths are relative.
func ReadDir(root string, skip ...string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			for _, s := range skip {
				if rel == s || strings.HasPrefix(rel, s+string(filepath.Separator)) {
					return filepath.SkipDir
				}
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && rel != "." {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dir := filepath.Dir(rel)
			if len(dirs) == 0 || dirs[len(dirs)-1] != dir {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	return slices.Compact(dirs), err
}
