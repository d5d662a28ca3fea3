package file

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// contentErrorText matches every text a *contentError can have: a format,
// maybe a line and column, a fixed message and maybe a number. Nothing in
// it can come from the input but digits.
var contentErrorText = func() *regexp.Regexp {
	var alts []string
	for _, m := range contentMessages {
		alt := regexp.QuoteMeta(m.text)
		if m.number != "" {
			alt += strings.ReplaceAll(regexp.QuoteMeta(m.number), "%d", `[1-9]\d*`)
		}
		alts = append(alts, alt)
	}
	return regexp.MustCompile(`^(dotenv|JSON|PEM)( line [1-9]\d*, column [1-9]\d*)?: (` + strings.Join(alts, "|") + `)$`)
}()

// vocabulary is every text a *contentError can show, with its digits
// removed.
var vocabulary = func() []string {
	var v []string
	for _, f := range []format{formatDotenv, formatJSON, formatPEM} {
		for code := range numContentCodes {
			for _, line := range []int{0, 1} { // without a position, and with one
				v = append(v, stripDigits((&contentError{format: f, code: code, line: line, col: line}).Error()))
			}
		}
	}
	return v
}()

func stripDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if '0' <= r && r <= '9' {
			return -1
		}
		return r
	}, s)
}

// quotedRun returns a run of 4 bytes of input that msg contains outside
// the fixed vocabulary, or "". Digits are left to contentErrorText, which
// allows them in numbers only.
func quotedRun(msg string, input []byte) string {
	stripped := stripDigits(msg)
	for i := 0; i+4 <= len(input); i++ {
		w := string(input[i : i+4])
		if strings.ContainsAny(w, "0123456789") || !strings.Contains(stripped, w) {
			continue
		}
		inVocabulary := false
		for _, v := range vocabulary {
			if strings.Contains(v, w) {
				inVocabulary = true
				break
			}
		}
		if !inVocabulary {
			return w
		}
	}
	return ""
}

// checkContentError fails the test unless err is a *contentError about
// input whose text is built from the fixed messages and numbers only, and
// whose line and column lie in input.
func checkContentError(t testing.TB, err error, input []byte) {
	t.Helper()
	var ce *contentError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *contentError", err, err)
	}
	if !errors.Is(err, providers.ErrInvalid) && !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("error %q wraps neither ErrInvalid nor ErrNotFound", err)
	}
	msg := ce.Error()
	if !contentErrorText.MatchString(msg) {
		t.Fatalf("error %q is not a fixed message with numbers", msg)
	}
	if w := quotedRun(msg, input); w != "" {
		t.Fatalf("error %q quotes %q from the input", msg, w)
	}
	if ce.line > 0 {
		lines := bytes.Split(input, []byte("\n"))
		if ce.line > len(lines) || ce.col > len(lines[ce.line-1])+1 {
			t.Fatalf("error %q: the input has no such position", msg)
		}
	}
}

func TestContentErrorText(t *testing.T) {
	for _, c := range []struct {
		err  *contentError
		want string
	}{
		{contentErrorAt(formatDotenv, codeNoEquals, []byte("A=1\nB C\n"), 6), "dotenv line 2, column 3: expected '=' after the variable name"},
		{contentErrorAt(formatJSON, codeJSONSyntax, []byte("{\n\n  x"), 5), "JSON line 3, column 3: syntax error"},
		{contentErrorAt(formatJSON, codeJSONSyntax, []byte("{"), 1), "JSON line 1, column 2: syntax error"},
		{&contentError{format: formatDotenv, code: codeSetTwice, line: 3, col: 1, n: 1}, "dotenv line 3, column 1: variable set twice (first on line 1)"},
		{&contentError{format: formatPEM, code: codePEMKeys, line: 9, col: 1, n: 2}, "PEM line 9, column 1: more than one private key (2 found)"},
		{contentErrorOf(formatPEM, codePEMNoBlock), "PEM: no block"},
		{contentErrorOf(formatDotenv, codeNotSet), "dotenv: the file does not set the variable"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
		if !contentErrorText.MatchString(c.err.Error()) {
			t.Errorf("%q does not match the pattern the fuzz targets check", c.err.Error())
		}
	}
	for code, m := range contentMessages {
		want := providers.ErrInvalid
		if m.notFound {
			want = providers.ErrNotFound
		}
		if err := contentErrorOf(formatJSON, contentCode(code)); !errors.Is(err, want) || m.text == "" {
			t.Errorf("code %d: %q does not wrap %v", code, err, want)
		}
	}
}

func TestQuotedRun(t *testing.T) {
	for _, c := range []struct {
		msg, input, want string
	}{
		{"dotenv line 2, column 1: expected '=' after the variable name", "A=1\nhunter2\n", ""},
		{"dotenv line 2, column 1: variable hunter2: expected '='", "A=1\nhunter2\n", "hunt"},
		{"dotenv line 2, column 1: expected '=' after the variable name", "variable\n", ""},
		{"JSON line 1, column 1: syntax error 1234", "1234", ""}, // digits are the pattern's business
		{"PEM: no block", "EM: ", ""}, // the message's own words
	} {
		if got := quotedRun(c.msg, []byte(c.input)); got != c.want {
			t.Errorf("quotedRun(%q, %q) = %q, want %q", c.msg, c.input, got, c.want)
		}
	}
}

// TestFetchErrorsQuoteNoContent fetches files that do not parse, from real
// files, and checks that each error is the selection (from the reference)
// followed by a fixed message and numbers: a token alone on a dotenv line
// (a value pasted without its name) is not quoted as a variable name.
func TestFetchErrorsQuoteNoContent(t *testing.T) {
	root := t.TempDir()
	cert, key := testPEM(t)
	p := newProvider(t, &Options{Root: root})
	for _, c := range []struct {
		name, part string
		content    []byte
		err        error
	}{
		{"a.env", "", []byte("A=1\nhunter2-Zq8vX\n"), providers.ErrInvalid},
		{"b.env", "A", []byte("A=1\nTr0ub4dor_and_3\n"), providers.ErrInvalid},
		{"c.env", "A", []byte("A=1\nPASSWORD_IS_Xq7=1\nPASSWORD_IS_Xq7=2\n"), providers.ErrInvalid},
		{"d.env", "A", []byte("A='Wk3#pQ8!vZ\n"), providers.ErrInvalid},
		{"e.env", "A", []byte("A=\"Wk3#pQ8\" !vZ\n"), providers.ErrInvalid},
		{"f.env", "B", []byte("A=Wk3#pQ8!vZ\n"), providers.ErrNotFound},
		{"g.json", "", []byte(`{"token": Hv7kP2xQ9mW4}`), providers.ErrInvalid},
		{"h.json", "/db/user", []byte(`{"db": {"user": "Zq8vX", "user": "Hv7kP2xQ9"}}`), providers.ErrInvalid},
		{"i.json", "/db/pass", []byte(`{"db": {"user": "Zq8vX"}}`), providers.ErrNotFound},
		{"j.pem", "key", bytes.Join([][]byte{key, key}, nil), providers.ErrInvalid},
		{"k.pem", "", append(bytes.Clone(cert), "-----BEGIN Hv7kP2xQ9-----\n"...), providers.ErrInvalid},
		{"l.pem", "", []byte("Hv7kP2xQ9mW4 is not PEM\n"), providers.ErrInvalid},
		{"m.pem", "key", cert, providers.ErrNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(root, c.name)
			writeFile(t, path, c.content)
			ref := "file:" + c.name
			selection := path
			if c.part != "" {
				ref += "#" + c.part
				selection += "#" + c.part
			}
			_, err := p.Fetch(t.Context(), ref)
			if !errors.Is(err, c.err) {
				t.Fatalf("Fetch(%q): %v, want %v", ref, err, c.err)
			}
			msg, ok := strings.CutPrefix(err.Error(), "providers/file: "+selection+": ")
			if !ok {
				t.Fatalf("error %q does not start with the selection %q", err, selection)
			}
			if !contentErrorText.MatchString(msg) {
				t.Errorf("error %q: after the selection, want a fixed message and numbers", err)
			}
			checkContentError(t, err, c.content)
			checkNoContent(t, msg, c.content)
		})
	}
}
