package hydra

import (
	"io"

	"github.com/strongroom/strongroom/internal/formenc"
	"github.com/strongroom/strongroom/internal/leak"
	"github.com/strongroom/strongroom/internal/redact"
)

// The JSON Patch that Set sends, around the JSON-encoded secret.
const (
	patchHead = `[{"op":"replace","path":"/client_secret","value":"`
	patchTail = `"}]`
)

// patchBody returns the JSON Patch that replaces the client's secret with
// secret (valid UTF-8), built in one buffer of the exact size, so that no
// buffer that grew leaves a copy behind. The caller wipes it.
func patchBody(secret []byte) []byte {
	b := make([]byte, 0, len(patchHead)+jsonLen(secret)+len(patchTail))
	b = append(b, patchHead...)
	b = appendJSON(b, secret)
	return append(b, patchTail...)
}

// jsonLen is the length of s (valid UTF-8) inside a JSON string.
func jsonLen(s []byte) int {
	n := 0
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			n += 2
		case c < 0x20:
			n += 6
		default:
			n++
		}
	}
	return n
}

// appendJSON appends s (valid UTF-8) escaped for a JSON string: quote,
// backslash and control characters escaped, everything else as it is.
func appendJSON(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return b
}

// scrub makes text from Hydra fit for an error: withheld when it may
// quote the secret in any form it was sent in (as it is, JSON-encoded,
// form-encoded, in a client_secret_basic header), cut to printable ASCII
// otherwise.
func scrub(text, clientID string, secret []byte) string {
	if len(secret) > 0 {
		forms := [][]byte{
			secret,
			appendJSON(make([]byte, 0, jsonLen(secret)), secret),
			formenc.Append(make([]byte, 0, formenc.Len(secret)), secret),
			basicCredential(clientID, secret),
		}
		quoted := leak.Quotes(text, forms...)
		for _, f := range forms[1:] {
			clear(f)
		}
		if quoted {
			return "[message withheld: it may quote the secret]"
		}
	}
	return redact.Printable(text, 500)
}

// maxBody bounds how much of an answer is kept; the rest is read and
// wiped (a client registration or a token answer is a few KiB).
const maxBody = 1 << 20

// readBody reads r to its end and returns what it held, up to maxBody
// bytes; n is the announced length (-1: unknown). A buffer that has to
// grow is wiped before it is dropped, so no copy of a secret it held is
// left behind. The caller wipes the result.
func readBody(r io.Reader, n int64) ([]byte, error) {
	size := 16 << 10
	if n > 0 && n <= maxBody {
		size = int(n) + 1 // one more, to see the end without growing
	}
	buf := make([]byte, size)
	read := 0
	for {
		if read == len(buf) {
			if len(buf) >= maxBody {
				return buf, drain(r)
			}
			grown := make([]byte, min(2*len(buf), maxBody))
			copy(grown, buf)
			clear(buf)
			buf = grown
		}
		m, err := r.Read(buf[read:])
		read += m
		if err == io.EOF {
			return buf[:read], nil
		}
		if err != nil {
			clear(buf)
			return nil, err
		}
	}
}

// drain reads r to its end through a buffer it wipes.
func drain(r io.Reader) error {
	var chunk [4096]byte
	defer clear(chunk[:])
	for {
		_, err := r.Read(chunk[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// byteReader reads a body the caller wipes; unlike a *bytes.Reader, it
// gives net/http no GetBody, so the body is never sent again.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}
