package file

import (
	"bytes"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func TestExtractPEM(t *testing.T) {
	cert, key := testPEM(t)
	cert2, key2 := testPEM(t)
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})
	noNewline := bytes.TrimSuffix(cert2, []byte("\n"))
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	bundle := join([]byte("subject=CN = strongroom test\n"), cert, params, key, []byte("issuer text\n"), noNewline)

	for _, c := range []struct {
		name string
		data []byte
		part string
		want []byte // nil: whole
		err  error
	}{
		{"whole", bundle, "", nil, nil},
		{"certs in order", bundle, "cert", join(cert, cert2), nil},
		{"key", bundle, "key", key, nil},
		{"exact type", bundle, "EC PARAMETERS", params, nil},
		{"exact certificate type", bundle, "CERTIFICATE", join(cert, cert2), nil},
		{"rsa key type", bytes.ReplaceAll(key, []byte("PRIVATE KEY"), []byte("RSA PRIVATE KEY")), "key", bytes.ReplaceAll(key, []byte("PRIVATE KEY"), []byte("RSA PRIVATE KEY")), nil},
		{"no such type", bundle, "DH PARAMETERS", nil, providers.ErrNotFound},
		{"no cert", key, "cert", nil, providers.ErrNotFound},
		{"no key", cert, "key", nil, providers.ErrNotFound},
		{"two keys", join(key, key2), "key", nil, providers.ErrInvalid},
		{"no block", []byte("just text\n"), "", nil, providers.ErrInvalid},
		{"empty", nil, "", nil, providers.ErrInvalid},
		{"truncated last block", join(cert, key[:len(key)/2]), "cert", nil, providers.ErrInvalid},
		{"truncated first block", join(cert[:len(cert)/2], key), "key", nil, providers.ErrInvalid},
		{"bad base64", join(bytes.Replace(cert, []byte("MII"), []byte("M!I"), 1), key), "key", nil, providers.ErrInvalid},
		{"BEGIN mid-line", join(cert, []byte("x-----BEGIN X-----\n")), "", nil, providers.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			orig := bytes.Clone(c.data)
			out, whole, err := extractPEM(c.data, c.part)
			if !bytes.Equal(c.data, orig) {
				t.Fatal("the file was modified")
			}
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("got %v, want %v", err, c.err)
				}
				checkContentError(t, err, c.data)
				checkNoContent(t, err.Error(), c.data)
				return
			}
			if err != nil || whole != (c.want == nil) || !bytes.Equal(out, c.want) {
				t.Fatalf("got %q, whole %v, %v; want %q", out, whole, err, c.want)
			}
		})
	}
}

// FuzzPEM checks that selection never panics, that what it selects is PEM
// that encoding/pem decodes back into blocks of the selected type and
// nothing else, and that an error is built from the fixed messages and
// numbers only, the numbers a position in the file.
func FuzzPEM(f *testing.F) {
	cert, key := testPEM(f)
	for _, s := range []struct {
		data []byte
		part string
	}{
		{append(bytes.Clone(cert), key...), "cert"},
		{append(bytes.Clone(cert), key...), "key"},
		{append([]byte("text\n"), cert...), "CERTIFICATE"},
		{cert[:len(cert)/2], ""},
		{[]byte("-----BEGIN A-----\nQUJD\n-----END A-----\n-----BEGIN B-----\n-----END B-----"), "B"},
		{[]byte("-----BEGIN A-----\nk: v\n\nQUJD\n-----END A-----\n"), "A"},
	} {
		f.Add(s.data, s.part)
	}
	f.Fuzz(func(t *testing.T, data []byte, part string) {
		orig := bytes.Clone(data)
		out, whole, err := extractPEM(data, part)
		if !bytes.Equal(data, orig) {
			t.Fatal("extractPEM modified its input")
		}
		if err != nil {
			checkContentError(t, err, data)
			return
		}
		if whole {
			return
		}
		n := 0
		for rest := out; ; n++ {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				if len(bytes.TrimSpace(rest)) != 0 {
					t.Fatalf("part %q: %q left over after %d blocks", part, rest, n)
				}
				break
			}
			if !(part == "cert" && b.Type == "CERTIFICATE" || part == "key" && isPrivateKey(b.Type) || b.Type == part) {
				t.Fatalf("part %q selected a block of type %q", part, b.Type)
			}
		}
		if n == 0 || part == "key" && n != 1 {
			t.Fatalf("part %q: %d blocks selected", part, n)
		}
	})
}
