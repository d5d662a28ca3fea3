package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"

	"github.com/golang-jwt/jwt/v5"
	"github.com/strongroom/strongroom/internal/redact"
)

// parsePrivateKey reads a PEM private key: PKCS #8, PKCS #1 (RSA) or SEC 1
// (EC). Errors never quote the input.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, invalidf("key", "no PEM block found")
	}
	defer clear(block.Bytes)
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, invalidf("key", "PEM block %q is not a private key", redact.Printable(block.Type, 40))
	}
	if err != nil {
		return nil, invalidf("key", "cannot parse the %s", block.Type)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, invalidf("key", "unsupported private key type %T", key)
	}
	if _, err := algFor(signer.Public()); err != nil {
		return nil, err
	}
	return signer, nil
}

// parsePublicKey reads a PEM public key (PKIX), certificate, or private key
// (whose public half it returns).
func parsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, invalidf("key", "no PEM block found")
	}
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, invalidf("key", "cannot parse the PUBLIC KEY")
		}
		if _, err := algFor(pub); err != nil {
			return nil, err
		}
		return pub, nil
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, invalidf("key", "cannot parse the CERTIFICATE")
		}
		if _, err := algFor(cert.PublicKey); err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	signer, err := parsePrivateKey(data)
	if err != nil {
		return nil, err
	}
	return signer.Public(), nil
}

// algFor is the one JWS algorithm a key is used with here: RS256 for RSA
// (2048 bits or more), ES256/ES384/ES512 by curve, EdDSA for Ed25519. One
// algorithm per key type is what keeps a verifier from being talked into
// another (RFC 8725 section 3.1).
func algFor(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", invalidf("key", "RSA key of %d bits; 2048 or more required", k.N.BitLen())
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
		return "", invalidf("key", "unsupported elliptic curve")
	case ed25519.PublicKey:
		return "EdDSA", nil
	}
	return "", invalidf("key", "unsupported key type %T", pub)
}

// keyFits reports whether alg may be verified with pub: the same family,
// and for ECDSA the curve the algorithm names. An RSA key accepts RS* and
// PS*, never an HMAC algorithm.
func keyFits(alg string, pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return k.N.BitLen() >= 2048
		}
	case *ecdsa.PublicKey:
		want, err := algFor(k)
		return err == nil && want == alg
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// signingMethod maps an algorithm name to golang-jwt's method.
func signingMethod(alg string) jwt.SigningMethod {
	switch alg {
	case "RS256":
		return jwt.SigningMethodRS256
	case "ES256":
		return jwt.SigningMethodES256
	case "ES384":
		return jwt.SigningMethodES384
	case "ES512":
		return jwt.SigningMethodES512
	case "EdDSA":
		return jwt.SigningMethodEdDSA
	}
	return nil
}

// JWK is one JSON Web Key (RFC 7517): a public key only. It has no field
// for a private key's members ("d", "p", "q", "dp", "dq", "qi") or a
// symmetric key's "k": decoding a JWK that carries them drops them, so a
// JWK never holds secret material and prints and marshals as it is.
type JWK struct {
	Kty string `json:"kty"`           // key type: "RSA", "EC" or "OKP"
	Kid string `json:"kid,omitempty"` // key ID
	Use string `json:"use,omitempty"` // "sig"
	Alg string `json:"alg,omitempty"` // the one algorithm the key is for
	N   string `json:"n,omitempty"`   // RSA modulus, base64url
	E   string `json:"e,omitempty"`   // RSA exponent, base64url
	Crv string `json:"crv,omitempty"` // curve: "P-256", "P-384", "P-521", "Ed25519"
	X   string `json:"x,omitempty"`   // EC or OKP x coordinate, base64url
	Y   string `json:"y,omitempty"`   // EC y coordinate, base64url
}

// JWKSet is a JSON Web Key Set, as served at a JWKS URL.
type JWKSet struct {
	Keys []JWK `json:"keys"` // the keys, current first
}

var b64 = base64.RawURLEncoding

// NewJWK describes pub as a public signing JWK with key ID kid, for
// registering a private_key_jwt client's key with a server or publishing
// a key. It fails with ErrInvalid for a key type this package does not
// sign with.
func NewJWK(kid string, pub crypto.PublicKey) (JWK, error) {
	alg, err := algFor(pub)
	if err != nil {
		return JWK{}, err
	}
	j := JWK{Kid: kid, Use: "sig", Alg: alg}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64.EncodeToString(k.N.Bytes()), b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		ecdh, err := k.ECDH()
		if err != nil {
			return JWK{}, invalidf("key", "EC key: %v", err)
		}
		raw := ecdh.Bytes() // 0x04 || X || Y
		size := (len(raw) - 1) / 2
		j.Kty, j.Crv = "EC", k.Curve.Params().Name
		j.X, j.Y = b64.EncodeToString(raw[1:1+size]), b64.EncodeToString(raw[1+size:])
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64.EncodeToString(k)
	}
	return j, nil
}

// PublicKey decodes the key. It fails with ErrInvalid for symmetric keys,
// unknown types and curves, malformed members, and RSA keys under 2048
// bits.
func (j JWK) PublicKey() (crypto.PublicKey, error) {
	dec := func(s string) ([]byte, error) { return b64.DecodeString(s) }
	var pub crypto.PublicKey
	switch j.Kty {
	case "RSA":
		n, err1 := dec(j.N)
		e, err2 := dec(j.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 || len(n) == 0 {
			return nil, invalidf("jwk", "malformed RSA key %q", redact.Printable(j.Kid, 64))
		}
		ei := new(big.Int).SetBytes(e)
		if ei.Int64() < 3 || ei.Int64()%2 == 0 {
			return nil, invalidf("jwk", "RSA key %q has a bad exponent", redact.Printable(j.Kid, 64))
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ei.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch j.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, invalidf("jwk", "unsupported curve %q", redact.Printable(j.Crv, 16))
		}
		x, err1 := dec(j.X)
		y, err2 := dec(j.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, invalidf("jwk", "malformed EC key %q", redact.Printable(j.Kid, 64))
		}
		raw := append(append([]byte{4}, x...), y...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, invalidf("jwk", "EC key %q is not on its curve", redact.Printable(j.Kid, 64))
		}
		pub = k
	case "OKP":
		x, err := dec(j.X)
		if j.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, invalidf("jwk", "malformed or unsupported OKP key %q", redact.Printable(j.Kid, 64))
		}
		pub = ed25519.PublicKey(x)
	default:
		return nil, invalidf("jwk", "unsupported key type %q", redact.Printable(j.Kty, 16))
	}
	if _, err := algFor(pub); err != nil {
		return nil, err
	}
	if j.Alg != "" && !keyFits(j.Alg, pub) {
		return nil, invalidf("jwk", "key %q declares alg %q, which does not fit its type", redact.Printable(j.Kid, 64), redact.Printable(j.Alg, 16))
	}
	return pub, nil
}

// parseJWKSet decodes a JWK Set, keeping the usable signing keys by kid and
// skipping the rest (symmetric keys, encryption keys, unknown types). Keys
// without a kid are skipped too: lookups are by kid.
func parseJWKSet(data []byte) (map[string]jwkEntry, error) {
	var set JWKSet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, invalidf("jwks", "malformed JWK Set (%d bytes)", len(data))
	}
	keys := make(map[string]jwkEntry, len(set.Keys))
	for _, j := range set.Keys {
		if j.Kid == "" || (j.Use != "" && j.Use != "sig") {
			continue
		}
		pub, err := j.PublicKey()
		if err != nil {
			continue
		}
		keys[j.Kid] = jwkEntry{pub: pub, alg: j.Alg}
	}
	return keys, nil
}

type jwkEntry struct {
	pub crypto.PublicKey
	alg string // declared; "" if none
}

// Thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// pub: a key ID that is the same in every process that holds the key.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	j, err := NewJWK("", pub)
	if err != nil {
		return "", err
	}
	var canon string
	switch j.Kty {
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, j.E, j.N)
	case "EC":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, j.Crv, j.X, j.Y)
	case "OKP":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, j.Crv, j.X)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:]), nil
}
