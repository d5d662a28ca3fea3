package file

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
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

func TestParseDotenvErrors(t *testing.T) {
	for _, c := range []struct {
		file, want string
	}{
		{"A=1\n=x9Zq\n", "dotenv line 2: invalid variable name"},
		{"A=1\n9BAD=x9Zq\n", "dotenv line 2: invalid variable name"},
		{"A=1\nB-C=x9Zq\n", "dotenv line 2: variable B: expected '=' after the name"},
		{"A=1\nJUST_A_NAME\n", "dotenv line 2: variable JUST_A_NAME: expected '=' after the name"},
		{"export A\n", "dotenv line 1: variable A: expected '=' after the name"},
		{"\n\nA='x9Zq\n\n", "dotenv line 3: variable A: unterminated single-quoted value"},
		{"A=\"x9Zq\\\"\n", "dotenv line 1: variable A: unterminated double-quoted value"},
		{"A=\"x9\nZq\" tail\n", "dotenv line 2: variable A: unexpected text after the closing quote"},
		{"A=1\nB=2\nA=x9Zq\n", "dotenv line 3: variable A: set twice (first on line 1)"},
	} {
		err := parseDotenv([]byte(c.file), func(dotenvVar) {})
		if err == nil || err.Error() != c.want || !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("parseDotenv(%q): got %v, want %q", c.file, err, c.want)
		}
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

// dotenvErrorMessage matches every error message, with the variable name
// replaced by NAME.
var dotenvErrorMessage = regexp.MustCompile(`^dotenv line \d+: (variable NAME: )?(` +
	strings.Join([]string{
		regexp.QuoteMeta(msgBadName), regexp.QuoteMeta(msgNoEquals), regexp.QuoteMeta(msgOpenSingle),
		regexp.QuoteMeta(msgOpenDouble), regexp.QuoteMeta(msgAfterQuote), regexp.QuoteMeta(msgSetTwice) + ` \(first on line \d+\)`,
	}, "|") + `)$`)

// FuzzDotenv checks that the parser never panics, that an unquoted value
// never holds a newline, and that an error carries nothing of the input but
// a variable name (which the error must then say is one).
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
		if err == nil {
			return
		}
		var de *dotenvError
		if !errors.As(err, &de) || !errors.Is(err, providers.ErrInvalid) {
			t.Fatalf("error %v is not a dotenvError wrapping ErrInvalid", err)
		}
		if de.name != "" && (!isDotenvName([]byte(de.name)) || !bytes.Contains(data, []byte(de.name))) {
			t.Fatalf("error names %q, which is not a variable name of the input", de.name)
		}
		if (de.name == "") != (de.msg == msgBadName) {
			t.Fatalf("error %q: a variable name is given exactly when the message is about one", err)
		}
		rest := err.Error()
		if de.name != "" {
			rest = strings.Replace(rest, "variable "+de.name+": ", "variable NAME: ", 1)
		}
		if !dotenvErrorMessage.MatchString(rest) || de.line < 1 || de.line > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("error %q has more than a line number, a message and a name", err)
		}
	})
}
