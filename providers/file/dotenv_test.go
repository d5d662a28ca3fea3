package file

import (
	"bytes"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func TestParseDotenv(t *testing.T) {
	const file = "\ufeff# comment\n" +
		"\n" +
		"   \t\n" +
		"PLAIN=value\n" +
		"SPACED =  spaced value  \n" +
		"export EXPORTED=yes\n" +
		"COMMENTED=abc # a comment\n" +
		"HASH=abc#def\n" +
		"LEADING_HASH= #only a comment\n" +
		"GLUED_HASH=#not a comment\n" +
		"EMPTY=\n" +
		"SINGLE='lit $x \\n \"q\"' # c\n" +
		"DOUBLE=\"a\\nb \\\"q\\\" \\\\ \\t \\x\"\n" +
		"MULTI=\"line1\n" +
		"line2\"\n" +
		"MULTI_SINGLE='x\n" +
		"y'\n" +
		"CRLF=windows\r\n" +
		"export=plain name\n" +
		"_u9=last"
	want := []struct {
		name, value string
		line        int
	}{
		{"PLAIN", "value", 4},
		{"SPACED", "spaced value", 5},
		{"EXPORTED", "yes", 6},
		{"COMMENTED", "abc", 7},
		{"HASH", "abc#def", 8},
		{"LEADING_HASH", "", 9},
		{"GLUED_HASH", "#not a comment", 10},
		{"EMPTY", "", 11},
		{"SINGLE", `lit $x \n "q"`, 12},
		{"DOUBLE", "a\nb \"q\" \\ \t \\x", 13},
		{"MULTI", "line1\nline2", 14},
		{"MULTI_SINGLE", "x\ny", 16},
		{"CRLF", "windows", 18},
		{"export", "plain name", 19},
		{"_u9", "last", 20},
	}
	var got []dotenvVar
	if err := parseDotenv([]byte(file), func(v dotenvVar) { got = append(got, v) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d variables, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if string(g.name) != w.name || string(g.value()) != w.value || g.line != w.line {
			t.Errorf("variable %d: got %s=%q on line %d, want %s=%q on line %d", i, g.name, g.value(), g.line, w.name, w.value, w.line)
		}
	}
}

// TestParseDotenvErrors checks that each error gives the line and column
// of the problem and a fixed message, and quotes nothing of the file: not
// even a variable name (a value mistyped onto a line of its own would be
// taken for one).
func TestParseDotenvErrors(t *testing.T) {
	for _, c := range []struct {
		file, want string
	}{
		{"A=1\n=x9Zq\n", "dotenv line 2, column 1: invalid variable name"},
		{"A=1\n9BAD=x9Zq\n", "dotenv line 2, column 1: invalid variable name"},
		{"A=1\nB-C=x9Zq\n", "dotenv line 2, column 2: expected '=' after the variable name"},
		{"A=1\nhunter2-Zq8\n", "dotenv line 2, column 8: expected '=' after the variable name"},
		{"A=1\nJUST_A_PASSWORD\n", "dotenv line 2, column 16: expected '=' after the variable name"},
		{"A=1\n  Tr0ub4dor_and_3 \n", "dotenv line 2, column 19: expected '=' after the variable name"},
		{"export A\n", "dotenv line 1, column 9: expected '=' after the variable name"},
		{"\n\nA='x9Zq\n\n", "dotenv line 3, column 3: unterminated single-quoted value"},
		{"A=\"x9Zq\\\"\n", "dotenv line 1, column 3: unterminated double-quoted value"},
		{"A=\"x9\nZq\" tail\n", "dotenv line 2, column 5: unexpected text after the closing quote"},
		{"A=1\nB=2\nA=x9Zq\n", "dotenv line 3, column 1: variable set twice (first on line 1)"},
		{"A=1\r\nSECRET_TOKEN\r\n", "dotenv line 2, column 13: expected '=' after the variable name"},
	} {
		t.Run(c.want, func(t *testing.T) {
			err := parseDotenv([]byte(c.file), func(dotenvVar) {})
			if err == nil {
				t.Fatalf("parseDotenv(%q): no error", c.file)
			}
			if got := err.Error(); got != c.want {
				t.Errorf("parseDotenv(%q): got %q, want %q", c.file, got, c.want)
			}
			checkContentError(t, err, []byte(c.file))
			checkNoContent(t, err.Error(), []byte(c.file))
		})
	}
}

func TestExtractDotenv(t *testing.T) {
	data := []byte("A=1\nB=\"two\\nlines\"\n")
	for _, c := range []struct {
		part, want string
		whole      bool
		err        error
	}{
		{"", "", true, nil},
		{"A", "1", false, nil},
		{"B", "two\nlines", false, nil},
		{"C", "", false, providers.ErrNotFound},
	} {
		out, whole, err := extractDotenv(data, c.part)
		if !errors.Is(err, c.err) || whole != c.whole || string(out) != c.want {
			t.Errorf("part %q: got %q, whole %v, %v", c.part, out, whole, err)
		}
	}
}

// FuzzDotenv checks that the parser never panics, that an unquoted value
// never holds a newline, and that an error is built from the fixed
// messages and numbers only, the numbers a position in the input.
func FuzzDotenv(f *testing.F) {
	for _, s := range []string{
		"A=1\n", "export A='x'\n# c\n", "A=\"a\\n\\\"b\"\n", "A= #c\nB=x # y\n", "A='unterminated\n",
		"A=1\nA=2\n", "\ufeffA=1\r\nB=2", "A=\"x\" y\n", "9=1", "A\n", "A='a\nb'\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		var vars []dotenvVar
		err := parseDotenv(data, func(v dotenvVar) { vars = append(vars, v) })
		if !bytes.Equal(data, orig) {
			t.Fatal("parseDotenv modified its input")
		}
		for _, v := range vars {
			value := v.value()
			if v.quote == 0 && bytes.IndexByte(value, '\n') >= 0 {
				t.Fatalf("unquoted value of %s holds a newline: %q", v.name, value)
			}
			if !isDotenvName(v.name) {
				t.Fatalf("invalid name %q accepted", v.name)
			}
			if v.quote != '"' && !bytes.Equal(value, v.raw) {
				t.Fatalf("value of %s: got %q, want the raw %q", v.name, value, v.raw)
			}
		}
		if err != nil {
			checkContentError(t, err, data)
		}
	})
}
