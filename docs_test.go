package strongroom_test

import (
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/scanner"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/internal/redacttest"
)

// notGo are the code blocks of package docs that are not Go (a table of
// references, say), by package directory and first line. Any other block
// must parse as Go statements, and be checked.
var notGo = map[string][]string{
	"providers/file": {"file:///run/secrets/db                    the whole file (absolute path)"},
}

// TestDocCodeIsChecked: every Go code block of the README and of every
// package's documentation appears, line by line and in order (comments
// and spacing aside), in the body of one Example function, so that it
// compiles and, where the Example has an Output, runs as shown. Adapting
// the snippet to run (defining what it calls, checking errors) adds lines
// around it; it never changes one of its lines.
func TestDocCodeIsChecked(t *testing.T) {
	examples, funcs := exampleBodies(t)
	if len(examples) == 0 {
		t.Fatal("no Example functions found")
	}
	check := func(where, code string) {
		want := goLines(code)
		if len(want) == 0 {
			t.Errorf("%s: empty code block", where)
			return
		}
		corpus := examples
		if parsesAsFile(code) {
			corpus = funcs // a whole test function, say
		}
		for _, ex := range corpus {
			if isSubsequence(want, ex.lines) {
				return
			}
		}
		t.Errorf("%s: no Example holds this code block line by line (closest: %s):\n%s", where, closest(want, corpus), code)
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedGo(string(readme))
	if len(blocks) == 0 {
		t.Error("README.md: no ```go blocks found")
	}
	for i, b := range blocks {
		if !parsesAsStatements(b) && !parsesAsFile(b) {
			t.Errorf("README.md block %d does not parse as Go:\n%s", i+1, b)
			continue
		}
		check(fmt.Sprintf("README.md block %d", i+1), b)
	}

	dirs, err := redacttest.ReadDir(".", "bench", "examples")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, dir := range dirs {
		for i, b := range docCode(t, dir) {
			seen++
			if !parsesAsStatements(b) && !parsesAsFile(b) {
				first, _, _ := strings.Cut(b, "\n")
				if !slices.Contains(notGo[dir], first) {
					t.Errorf("%s: doc code block %d is not Go and not listed in notGo:\n%s", dir, i+1, b)
				}
				continue
			}
			check(fmt.Sprintf("%s doc block %d", dir, i+1), b)
		}
	}
	if seen == 0 {
		t.Error("no code blocks found in package docs")
	}
}

// fencedGo returns the bodies of the ```go blocks of a Markdown text.
func fencedGo(md string) []string {
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```go\n(.*?)^```").FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// docCode returns the code blocks of the package doc comment in dir.
func docCode(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc == nil {
			continue
		}
		var p comment.Parser
		for _, b := range p.Parse(f.Doc.Text()).Content {
			if c, ok := b.(*comment.Code); ok {
				out = append(out, c.Text)
			}
		}
	}
	return out
}

// parsesAsStatements reports whether code parses as the body of a function.
func parsesAsStatements(code string) bool {
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+code+"\n}\n", 0)
	return err == nil
}

// parsesAsFile reports whether code parses as top-level declarations.
func parsesAsFile(code string) bool {
	_, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+code, 0)
	return err == nil
}

// goLines returns code's lines as token sequences: comments dropped,
// spacing normalised, blank lines skipped.
func goLines(code string) []string {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(code))
	var s scanner.Scanner
	s.Init(file, []byte(code), nil, 0)
	var lines []string
	var cur []string
	line := 0
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue
		}
		if l := fset.Position(pos).Line; l != line {
			if len(cur) > 0 {
				lines = append(lines, strings.Join(cur, " "))
			}
			cur, line = nil, l
		}
		if lit == "" {
			lit = tok.String()
		}
		cur = append(cur, lit)
	}
	if len(cur) > 0 {
		lines = append(lines, strings.Join(cur, " "))
	}
	return lines
}

type example struct {
	name  string
	lines []string
}

// exampleBodies returns the bodies of every Example function in the
// module's test files, and the whole of every function there, as goLines.
func exampleBodies(t *testing.T) (examples, funcs []example) {
	t.Helper()
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bench" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			name := path + ":" + fn.Name.Name
			whole := src[fset.Position(fn.Pos()).Offset:fset.Position(fn.End()).Offset]
			funcs = append(funcs, example{name: name, lines: goLines(string(whole))})
			if fn.Recv != nil || !strings.HasPrefix(fn.Name.Name, "Example") {
				continue
			}
			body := src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset]
			examples = append(examples, example{name: name, lines: goLines(string(body))})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return examples, funcs
}

// isSubsequence reports whether want appears in have in order.
func isSubsequence(want, have []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

// closest names the Example holding most of want's lines, and the first
// of them it lacks.
func closest(want []string, examples []example) string {
	best, most, lacks := "", -1, ""
	for _, ex := range examples {
		n, missing := 0, ""
		for _, w := range want {
			if slices.Contains(ex.lines, w) {
				n++
			} else if missing == "" {
				missing = w
			}
		}
		if n > most {
			best, most, lacks = ex.name, n, missing
		}
	}
	if lacks == "" {
		return best + ", which holds every line but not in this order"
	}
	return best + ", which lacks the line " + lacks
}
