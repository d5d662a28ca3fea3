package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strconv"
)

// maxChain bounds the certificates accepted in one chain or bundle value.
const maxChain = 1000

// parsed is what a PEM value holds: certificates in order and, for a
// bundle, one private key.
type parsed struct {
	certs []*x509.Certificate
	key   crypto.Signer // nil when the value holds no private key
}

// scan walks the PEM blocks of data, strictly: every "-----BEGIN" must
// start a block that decodes (pem.Decode alone skips broken blocks in
// silence), and there must be at least one. Text between blocks is
// allowed. fn sees each block's type and decoded bytes, which are wiped
// after it returns unless they are a certificate's (which
// x509.ParseCertificate keeps); its index counts from 1.
func scan(data []byte, fn func(index int, typ string, der []byte) error) error {
	begin := []byte("-----BEGIN")
	n := 0
	for rest := data; ; {
		start := bytes.Index(rest, begin)
		if start < 0 {
			break
		}
		b, after := pem.Decode(rest[start:])
		offset := len(data) - len(rest) + start
		if b == nil {
			return reason("PEM block %d (byte offset %d) is malformed or truncated", n+1, offset)
		}
		// pem.Decode skips a broken block to the next good one: the block
		// it returns must end before any other BEGIN line.
		if end := len(rest[start:]) - len(after); bytes.Contains(rest[start+1:start+end], begin) {
			clear(b.Bytes) // it might be a key
			return reason("PEM block %d (byte offset %d) is malformed or truncated", n+1, offset)
		}
		n++
		if len(b.Headers) > 0 && isPrivateKey(b.Type) {
			clear(b.Bytes)
			return reason("PEM block %d is an encrypted private key, which is not supported", n)
		}
		err := fn(n, b.Type, b.Bytes)
		if b.Type != "CERTIFICATE" {
			clear(b.Bytes)
		}
		if err != nil {
			return err
		}
		rest = after
	}
	if n == 0 {
		return reason("no PEM block")
	}
	return nil
}

// isPrivateKey reports whether typ is a private key block type.
func isPrivateKey(typ string) bool {
	return typ == "PRIVATE KEY" || typ == "RSA PRIVATE KEY" || typ == "EC PRIVATE KEY"
}

// want says what parsePEM looks for in a PEM value.
type want int

const (
	certsOnly     want = iota // one or more certificates; key blocks skipped, unparsed
	certsAndKey               // one or more certificates and exactly one private key
	certsMaybeKey             // one or more certificates and at most one private key, parsed
	keyOnly                   // exactly one private key; certificate blocks skipped
	trustOnly                 // one or more certificates and no private key
)

// parsePEM parses the CERTIFICATE blocks of data, in order, and its private
// key block, as w says. Other block types are ignored (an "EC PARAMETERS"
// block, say). Its errors give block numbers and public certificate facts,
// never key bytes.
func parsePEM(data []byte, w want) (*parsed, error) {
	p := &parsed{}
	keys := 0
	err := scan(data, func(i int, typ string, der []byte) error {
		switch {
		case typ == "CERTIFICATE" && w != keyOnly:
			if len(p.certs) == maxChain {
				return reason("more than %d certificates", maxChain)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return reason("PEM block %d: certificate does not parse: %v", i, err)
			}
			p.certs = append(p.certs, c)
		case isPrivateKey(typ) && w == trustOnly:
			return reason("PEM block %d: a trust bundle must not hold a private key", i)
		case isPrivateKey(typ) && w != certsOnly:
			if keys++; keys > 1 {
				return reason("PEM block %d: a second private key, want one", i)
			}
			k, err := parseKey(typ, der)
			if err != nil {
				return reason("PEM block %d: %s", i, err.(*keyError).msg)
			}
			p.key = k
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case w != keyOnly && len(p.certs) == 0:
		return nil, reason("no CERTIFICATE block")
	case (w == certsAndKey || w == keyOnly) && p.key == nil:
		return nil, reason("no private key block (PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	return p, nil
}

// keyError explains a private key that does not parse, without the text of
// the parser's error (which could, in principle, quote key bytes).
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }

// parseKey parses one private key block: PKCS #8, PKCS #1 or SEC 1.
func parseKey(typ string, der []byte) (crypto.Signer, error) {
	var k any
	var err error
	switch typ {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(der)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	}
	if err != nil {
		return nil, &keyError{typ + " does not parse"}
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case *rsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, &keyError{typ + " holds a key of an unsupported algorithm"}
}

// matches reports whether key is the private half of cert's public key.
func matches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(key.Public())
}

// algorithm names a public key's algorithm and size: "ECDSA P-256",
// "RSA 2048", "Ed25519".
func algorithm(pub any) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return "RSA " + strconv.Itoa(k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return "unknown"
}
