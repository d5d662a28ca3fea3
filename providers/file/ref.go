package file

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/strongroom/strongroom/internal/jsonptr"
	"github.com/strongroom/strongroom/providers"
)

// Scheme is the reference scheme of the provider: "file:...".
const Scheme = "file"

// format is how the content of a file is structured.
type format uint8

const (
	formatRaw format = iota
	formatJSON
	formatDotenv
	formatPEM
)

func (f format) String() string {
	switch f {
	case formatJSON:
		return "json"
	case formatDotenv:
		return "dotenv"
	case formatPEM:
		return "pem"
	}
	return "raw"
}

// parseFormat returns the format called name, as written in a query.
func parseFormat(name string) (format, bool) {
	for f := formatRaw; f <= formatPEM; f++ {
		if f.String() == name {
			return f, true
		}
	}
	return formatRaw, false
}

// formatOfPath returns the format implied by the extension of path.
func formatOfPath(path string) format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return formatJSON
	case ".env":
		return formatDotenv
	case ".pem", ".crt", ".cer", ".key":
		return formatPEM
	}
	return formatRaw
}

// fileRef is a parsed "file:" reference.
type fileRef struct {
	// path is cleaned and uses the OS separator. It is absolute when abs
	// is set, and otherwise local (filepath.IsLocal) and relative to
	// Options.Root.
	path string
	abs  bool
	// format is the one named in the query, or the one implied by the
	// extension.
	format format
	// part is the percent-decoded fragment; "" selects the whole file.
	part string
}

// parseRef parses ref. The grammar:
//
//	ref      = scheme ":" location [ "?" query ] [ "#" fragment ]
//	scheme   = "file" (any case)
//	location = "//" [ "localhost" ] abs-path  (file:///run/secrets/db)
//	         | abs-path                       (file:/run/secrets/db)
//	         | rel-path                       (file:db/password, needs Options.Root)
//	query    = "format=" ( "raw" | "json" | "dotenv" | "pem" )
//	fragment = part selector, percent-encoded
//
// Paths are percent-decoded and must not end in a slash, contain NUL, or
// (relative ones) leave their root through "..".
func parseRef(ref string) (fileRef, error) {
	var r fileRef
	if providers.Scheme(ref) != Scheme {
		return r, refError(ref, "scheme is not file")
	}
	rest, frag, hasFrag := strings.Cut(ref[len("file:"):], "#")
	rest, query, _ := strings.Cut(rest, "?")
	if authority, ok := strings.CutPrefix(rest, "//"); ok {
		host, _, _ := strings.Cut(authority, "/")
		if host != "" && !strings.EqualFold(host, "localhost") {
			return r, refError(ref, "names a remote host")
		}
		rest = authority[len(host):]
		if rest == "" {
			return r, refError(ref, "has no path")
		}
	}
	p, err := url.PathUnescape(rest)
	switch {
	case err != nil:
		return r, refError(ref, "has a malformed percent escape in its path")
	case p == "":
		return r, refError(ref, "has no path")
	case strings.HasSuffix(p, "/"):
		return r, refError(ref, "names a directory")
	case strings.IndexByte(p, 0) >= 0:
		return r, refError(ref, "has a NUL byte in its path")
	}
	if filepath.Separator == '\\' && len(p) >= 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:] // file:///C:/dir/name
	}
	p = filepath.FromSlash(p)
	r.abs = filepath.IsAbs(p)
	if !r.abs && !filepath.IsLocal(p) {
		return r, refError(ref, "has a relative path that leaves its root")
	}
	r.path = filepath.Clean(p)
	if r.path == "." || filepath.Dir(r.path) == r.path {
		return r, refError(ref, "names a directory")
	}

	r.format = formatOfPath(r.path)
	if query != "" {
		var ok bool
		if r.format, ok = parseQuery(query); !ok {
			return r, refError(ref, "has a query other than format=raw, json, dotenv or pem")
		}
	}
	if hasFrag {
		if r.part, err = url.PathUnescape(frag); err != nil {
			return r, refError(ref, "has a malformed percent escape in its fragment")
		}
	}
	if msg := checkPart(r.format, r.part); msg != "" {
		return r, refError(ref, msg)
	}
	return r, nil
}

// parseQuery returns the format named by query, which must be exactly one
// "format=" parameter.
func parseQuery(query string) (format, bool) {
	key, value, _ := strings.Cut(query, "=")
	key, err1 := url.QueryUnescape(key)
	value, err2 := url.QueryUnescape(value)
	if err1 != nil || err2 != nil || key != "format" {
		return formatRaw, false
	}
	return parseFormat(value)
}

// checkPart says what is wrong with part as a selector in a file of format
// f, or returns "".
func checkPart(f format, part string) string {
	if part == "" {
		return ""
	}
	switch f {
	case formatRaw:
		return "selects a part of a raw file (add ?format=json, dotenv or pem)"
	case formatJSON:
		if _, ok := jsonptr.Tokens(part); !ok {
			return "has a malformed JSON pointer (~ must be followed by 0 or 1)"
		}
	case formatDotenv:
		if !isDotenvName([]byte(part)) {
			return "has a fragment that is not a variable name"
		}
	}
	return ""
}

// refError reports that ref is refused. References are configuration, not
// secrets, so the message quotes it.
func refError(ref, why string) error {
	return fmt.Errorf("providers/file: reference %q %s: %w", ref, why, providers.ErrInvalidRef)
}
