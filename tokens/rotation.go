package tokens

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/strongroom/strongroom/internal/redact"
	// Imported as rot: the tests of this package have a helper named rotate.
	rot "github.com/strongroom/strongroom/rotate"
)

// Rotating a JWTIssuer's signing key with package rotate: a
// SigningKeyGenerator makes the new key in locked memory (the rotation's
// Policy.Generator), and a SigningKeyTarget publishes it in the
// JWTIssuer's JWK Set before the store makes it current, then withdraws
// the old key after the rotation's overlap (strategy rotate.Overlapping).

// SigningKeyGenerator is a secrets.Generator of private signing keys for a
// [JWTIssuer], for the Generator of a rotation's rotate.Policy: each key is
// written as PKCS #8 PEM ("-----BEGIN PRIVATE KEY-----") straight into the
// buffer the store gives it, in locked scratch memory, so that it never
// passes through a Go string. The key's DER is assembled in a buffer of
// its own that is wiped on return. The copy of an ECDSA scalar that
// crypto/ecdh makes to compute the public point is not wiped (as for
// every key Go's crypto parses); an Ed25519 key needs no computing, its
// PKCS #8 form holding the random seed itself.
//
// Each algorithm's PEM has one length, which Size returns: 241 bytes for
// ES256, 306 for ES384, 384 for ES512, 119 for EdDSA. RSA keys, whose
// encodings vary in length, are not made.
//
// The randomness comes from the reader the store passes (crypto/rand):
// an ECDSA scalar is drawn uniformly from [1, n-1] by rejection sampling
// (as in FIPS 186-5, A.2.2), an Ed25519 seed is the 32 bytes read.
type SigningKeyGenerator struct {
	// Algorithm is the JWS algorithm of the keys: "ES256" (ECDSA over
	// P-256), "ES384" (P-384), "ES512" (P-521) or "EdDSA" (Ed25519).
	// Empty: "ES256". Another value makes Size 0, which the store refuses,
	// and Generate fail with ErrInvalid.
	Algorithm string
}

// keyLayout is the PKCS #8 DER of a private key of one algorithm, as
// x509.MarshalPKCS8PrivateKey writes it: prefix, the private scalar (or
// Ed25519 seed), middle, the uncompressed public point (none for
// Ed25519). Only the scalar and the point vary; their lengths are fixed.
type keyLayout struct {
	curve   ecdh.Curve // nil for Ed25519
	prefix  string
	scalar  int
	topMask byte // applied to the scalar's first byte (P-521 has 521 bits)
	middle  string
	point   int
}

func (l keyLayout) derSize() int { return len(l.prefix) + l.scalar + len(l.middle) + l.point }

// layoutFor returns the layout of alg's keys.
func layoutFor(alg string) (keyLayout, bool) {
	switch alg {
	case "", "ES256":
		return keyLayout{curve: ecdh.P256(),
			prefix: "\x30\x81\x87\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07\x04\x6d\x30\x6b\x02\x01\x01\x04\x20",
			scalar: 32, topMask: 0xff, middle: "\xa1\x44\x03\x42\x00", point: 65}, true
	case "ES384":
		return keyLayout{curve: ecdh.P384(),
			prefix: "\x30\x81\xb6\x02\x01\x00\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00\x22\x04\x81\x9e\x30\x81\x9b\x02\x01\x01\x04\x30",
			scalar: 48, topMask: 0xff, middle: "\xa1\x64\x03\x62\x00", point: 97}, true
	case "ES512":
		return keyLayout{curve: ecdh.P521(),
			prefix: "\x30\x81\xee\x02\x01\x00\x30\x10\x06\x07\x2a\x86\x48\xce\x3d\x02\x01\x06\x05\x2b\x81\x04\x00\x23\x04\x81\xd6\x30\x81\xd3\x02\x01\x01\x04\x42",
			scalar: 66, topMask: 0x01, middle: "\xa1\x81\x89\x03\x81\x86\x00", point: 133}, true
	case "EdDSA":
		return keyLayout{prefix: "\x30\x2e\x02\x01\x00\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20", scalar: 32}, true
	}
	return keyLayout{}, false
}

const (
	pemKeyHeader = "-----BEGIN PRIVATE KEY-----\n"
	pemKeyFooter = "-----END PRIVATE KEY-----\n"
	pemLine      = 48 // DER bytes per 64-character line, as encoding/pem writes
	maxKeyDER    = 241
	maxScalarTry = 64 // rejection sampling: P-256 rejects one draw in 2^32
)

// pemSize is the length of the PEM of n bytes of DER.
func pemSize(n int) int {
	b := base64.StdEncoding.EncodedLen(n)
	return len(pemKeyHeader) + b + (b+63)/64 + len(pemKeyFooter)
}

// Size returns the length of the PEM of one key: fixed per algorithm (0
// for an algorithm it does not make).
func (g SigningKeyGenerator) Size() int {
	l, ok := layoutFor(g.Algorithm)
	if !ok {
		return 0
	}
	return pemSize(l.derSize())
}

// Generate writes a new private key, PKCS #8 PEM, into dst, which must be
// Size bytes long, with randomness from r. It keeps nothing.
func (g SigningKeyGenerator) Generate(dst []byte, r io.Reader) error {
	const op = "generate key"
	l, ok := layoutFor(g.Algorithm)
	if !ok {
		return invalidf(op, "unsupported algorithm %q (ES256, ES384, ES512 or EdDSA)", redact.Printable(g.Algorithm, 16))
	}
	if want := pemSize(l.derSize()); len(dst) != want {
		return invalidf(op, "a buffer of %d bytes; a %s key takes %d", len(dst), l.name(), want)
	}
	var buf [maxKeyDER]byte
	der := buf[:l.derSize()]
	defer clear(der)
	n := copy(der, l.prefix)
	scalar := der[n : n+l.scalar]
	if l.curve == nil {
		if _, err := io.ReadFull(r, scalar); err != nil {
			return newError(op, nil, fmt.Errorf("reading randomness: %w", err))
		}
	} else {
		point, err := l.drawScalar(scalar, r)
		if err != nil {
			return newError(op, nil, err)
		}
		n += l.scalar
		n += copy(der[n:], l.middle)
		copy(der[n:], point)
	}
	writePEM(dst, der)
	return nil
}

// drawScalar fills scalar with a valid private scalar of l's curve, drawn
// from r by rejection sampling, and returns its public point.
func (l keyLayout) drawScalar(scalar []byte, r io.Reader) ([]byte, error) {
	for range maxScalarTry {
		if _, err := io.ReadFull(r, scalar); err != nil {
			return nil, fmt.Errorf("reading randomness: %w", err)
		}
		scalar[0] &= l.topMask
		key, err := l.curve.NewPrivateKey(scalar) // refuses zero and values not below the order
		if err != nil {
			continue
		}
		return key.PublicKey().Bytes(), nil
	}
	clear(scalar)
	return nil, fmt.Errorf("the random source gave no valid %s scalar in %d draws", l.name(), maxScalarTry)
}

func (l keyLayout) name() string {
	if l.curve == nil {
		return "Ed25519"
	}
	return fmt.Sprint(l.curve)
}

// writePEM writes der as a PEM "PRIVATE KEY" block into dst, which is
// exactly pemSize(len(der)) long, as encoding/pem would.
func writePEM(dst, der []byte) {
	n := copy(dst, pemKeyHeader)
	for len(der) > 0 {
		line := der[:min(pemLine, len(der))]
		base64.StdEncoding.Encode(dst[n:], line)
		n += base64.StdEncoding.EncodedLen(len(line))
		dst[n] = '\n'
		n++
		der = der[len(line):]
	}
	copy(dst[n:], pemKeyFooter)
}

// ThumbprintKeyID is a JWTIssuerOptions.KeyID that gives each key its RFC
// 7638 thumbprint ([Thumbprint]) whatever its version: a kid that every
// process holding the key agrees on, and that is known before the key is
// in the store, as a [SigningKeyTarget] needs. It returns "" for a key of
// a type this package does not sign with (which the JWTIssuer refuses
// anyway).
func ThumbprintKeyID(_ string, pub crypto.PublicKey) string {
	kid, err := Thumbprint(pub)
	if err != nil {
		return ""
	}
	return kid
}

// SigningKeyTarget is a rotate.Target for the signing key of a
// [JWTIssuer], with the rotate.Overlapping strategy: the JWTIssuer's JWK
// Set is where the key is valid, for every verifier that fetches it. A
// rotation goes:
//
//   - Set publishes the new key's public half in the JWK Set (after the
//     keys from the store), while the JWTIssuer goes on signing with the
//     old key: verifiers that cache the JWK Set can learn the new key
//     before any token needs it.
//   - Test fetches the JWK Set as the JWTIssuer serves it over HTTP, finds
//     the new key there under the kid it will sign with, and verifies a
//     token signed with it, against that set and against the JWTIssuer.
//   - The rotator promotes the key (writes it to the store): the JWTIssuer
//     signs with it from then on (after JWTIssuerOptions.PublishAhead,
//     counted from Set), and publishes the old key beside it.
//   - After the rotation's overlap, Retire withdraws every key but the new
//     one: a token the old key signed no longer verifies.
//
// A failed Set or Test rolls the rotation back, and Retire with the old
// key withdraws the pending one. Every method is idempotent.
//
// # Key IDs
//
// The new key is published before it has a version in the store, so its
// kid must not depend on the version: [NewSigningKeyTarget] requires
// JWTIssuerOptions.KeyID, such as [ThumbprintKeyID], and refuses one that
// gives a key a different kid per version or two keys one kid (it tries
// two P-256 keys, and Set checks each new key too). The JWTIssuer's
// default kid, the version, would change at promotion, and a token signed
// then would name a kid the verifiers' cached set lacks.
//
// # Overlap
//
// Retire withdraws the old key at once, however recently the JWTIssuer
// signed with it: give the rotation's Policy.Overlap at least
// [SigningKeyTarget.MinOverlap] (PublishAhead plus the JWTIssuer's
// Overlap, the window the JWTIssuer itself would keep it published), and
// the key's Spec.Overlap in the store at least as long, for the JWTIssuer
// to sign with the previous key during PublishAhead and for the rotator to
// roll back after promotion. An emergency rotation (rotate.Rotator's
// Emergency) retires the old key as soon as the new one is promoted; from
// then on the JWTIssuer signs with the new key, whatever PublishAhead
// says.
//
// # Several processes
//
// What Set publishes lives in this process's JWTIssuer: the one whose
// rotator runs the rotation. A JWK Set served by several processes should
// be served by the JWTIssuer of the process that rotates, or the others
// learn the new key only at promotion (and then publish it PublishAhead
// before they sign with it, as for any new version). A process that
// takes over a rotation between Set and Test (after a crash, say) has not
// published the key, so Test fails there and the rotation is rolled back,
// to be tried again.
//
// It is safe for concurrent use; what it publishes is kept in the
// JWTIssuer, under its lock.
type SigningKeyTarget struct {
	i *JWTIssuer
}

var _ rot.Target = (*SigningKeyTarget)(nil)

// NewSigningKeyTarget returns the target that rotates issuer's signing
// key. It fails with ErrInvalid when issuer is nil or its
// JWTIssuerOptions.KeyID is nil, depends on the version, or gives two
// keys one kid.
func NewSigningKeyTarget(issuer *JWTIssuer) (*SigningKeyTarget, error) {
	const op = "new signing key target"
	if issuer == nil {
		return nil, invalidf(op, "a JWTIssuer is required")
	}
	if issuer.opts.KeyID == nil {
		return nil, invalidf(op, "the JWTIssuer's kid is the key's version, which a new key has only once promoted: set JWTIssuerOptions.KeyID to one that depends on the public key alone, such as ThumbprintKeyID")
	}
	a, b := probeKeys()
	if err := stableKeyID(issuer.opts.KeyID, a); err != nil {
		return nil, newError(op, ErrInvalid, err)
	}
	if issuer.opts.KeyID("", a) == issuer.opts.KeyID("", b) {
		return nil, invalidf(op, "JWTIssuerOptions.KeyID gives two keys the same kid")
	}
	return &SigningKeyTarget{i: issuer}, nil
}

// probeKeys returns two P-256 public keys (of the scalars 1 and 2).
func probeKeys() (crypto.PublicKey, crypto.PublicKey) {
	var out [2]crypto.PublicKey
	for n := range out {
		scalar := make([]byte, 32)
		scalar[31] = byte(n + 1)
		k, err := ecdh.P256().NewPrivateKey(scalar)
		if err != nil {
			panic(err)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k.PublicKey().Bytes())
		if err != nil {
			panic(err)
		}
		out[n] = pub
	}
	return out[0], out[1]
}

// stableKeyID checks that f gives pub one non-empty kid whatever the
// version.
func stableKeyID(f func(string, crypto.PublicKey) string, pub crypto.PublicKey) error {
	kid := f("", pub)
	if kid == "" {
		return errors.New("JWTIssuerOptions.KeyID gives an empty kid")
	}
	if f("1", pub) != kid || f("2", pub) != kid {
		return errors.New("JWTIssuerOptions.KeyID depends on the key's version: a new key is published before it has one; derive the kid from the public key alone (ThumbprintKeyID)")
	}
	return nil
}

// key parses a credential's private key and describes its public half as
// the JWTIssuer will publish it.
func (t *SigningKeyTarget) key(secret []byte) (crypto.Signer, *publicKey, error) {
	signer, err := parsePrivateKey(secret)
	if err != nil {
		return nil, nil, err
	}
	pub := signer.Public()
	if err := stableKeyID(t.i.opts.KeyID, pub); err != nil {
		return nil, nil, newError("key", ErrInvalid, err)
	}
	kid := t.i.opts.KeyID("", pub)
	jwk, err := NewJWK(kid, pub)
	if err != nil {
		return nil, nil, err
	}
	return signer, &publicKey{kid: kid, pub: pub, jwk: jwk}, nil
}

// Set publishes the public half of c's private key (PEM, as the
// JWTIssuer reads it) in the JWTIssuer's JWK Set, under the kid the
// JWTIssuer will sign with once the key is promoted. Publishing a key
// already published does nothing. It fails with ErrInvalid for a secret
// that is not a private key the JWTIssuer signs with (its errors never
// quote it), or when another key has the kid, and with ErrClosed once the
// JWTIssuer is closed.
func (t *SigningKeyTarget) Set(ctx context.Context, c rot.Credential) error {
	const op = "signing key set"
	if err := ctx.Err(); err != nil {
		return newError(op, nil, err)
	}
	_, pk, err := t.key(c.Secret)
	if err != nil {
		return newError(op, nil, err)
	}
	i := t.i
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return newError(op, ErrClosed, nil)
	}
	for _, k := range slices.Concat(i.keys, i.staged) {
		if k.kid == pk.kid && !samePublic(k.pub, pk.pub) {
			return invalidf(op, "kid %q is published for another key: JWTIssuerOptions.KeyID must tell keys apart", redact.Printable(pk.kid, 64))
		}
	}
	if i.stagedKey(pk.kid, pk.pub) != nil {
		return nil
	}
	pk.since = i.clock.Now()
	i.staged = append(i.staged, pk)
	return nil
}

// rotationTestAudience is the audience of the token Test signs: no
// service accepts it.
const rotationTestAudience = "urn:strongroom:tokens:signing-key-test"

// Test checks that c's key is published as a verifier sees it: it reads
// the JWK Set the JWTIssuer serves over HTTP (its ServeHTTP, in process)
// and decodes it as [RemoteKeys] would, finds the key there under its kid
// with the JWTIssuer's algorithm for it, and verifies a token signed with
// it (for an audience no service accepts) both against that set and
// against the JWTIssuer as a [KeySet]. An error means the key must not be
// promoted: one for a key not published matches ErrUnknownKey.
func (t *SigningKeyTarget) Test(ctx context.Context, c rot.Credential) error {
	const op = "signing key test"
	signer, pk, err := t.key(c.Secret)
	if err != nil {
		return newError(op, nil, err)
	}
	if t.i.isClosed() {
		return newError(op, ErrClosed, nil)
	}
	served, err := t.served(ctx)
	if err != nil {
		return newError(op, nil, err)
	}
	e, ok := served[pk.kid]
	switch {
	case !ok:
		return newError(op, ErrUnknownKey, fmt.Errorf("the JWK Set served has no key %q", redact.Printable(pk.kid, 64)))
	case !samePublic(e.pub, pk.pub):
		return invalidf(op, "the JWK Set served has another key as %q", redact.Printable(pk.kid, 64))
	case e.alg != pk.jwk.Alg:
		return invalidf(op, "the JWK Set served declares key %q for %q, not %q", redact.Printable(pk.kid, 64), redact.Printable(e.alg, 16), pk.jwk.Alg)
	}
	g, err := t.i.sign(signer, pk, Request{Audience: []string{rotationTestAudience}})
	if err != nil {
		return newError(op, nil, err)
	}
	token := string(g.Value)
	clear(g.Value)
	for _, ks := range []struct {
		name string
		keys KeySet
	}{{"the JWK Set served", served}, {"the JWTIssuer", t.i}} {
		v, err := NewVerifier(ks.keys, t.i.issuer, rotationTestAudience, &VerifierOptions{Clock: t.i.clock, Algorithms: []string{pk.jwk.Alg}})
		if err != nil {
			return newError(op, nil, err)
		}
		if _, err := v.Verify(ctx, token); err != nil {
			return newError(op, nil, fmt.Errorf("a token signed with key %q does not verify against %s: %w", redact.Printable(pk.kid, 64), ks.name, err))
		}
	}
	return nil
}

// served returns the JWK Set the JWTIssuer serves, decoded as a remote
// verifier decodes it.
func (t *SigningKeyTarget) served(ctx context.Context) (jwkKeys, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	if err != nil {
		return nil, err
	}
	var w jwksRecorder
	t.i.ServeHTTP(&w, req)
	if w.code != http.StatusOK {
		return nil, fmt.Errorf("the JWK Set is not served: HTTP %d", w.code)
	}
	if ct := w.header.Get("Content-Type"); ct != "application/jwk-set+json" {
		return nil, fmt.Errorf("the JWK Set is served as %q", redact.Printable(ct, 64))
	}
	keys, err := parseJWKSet(w.body.Bytes())
	return jwkKeys(keys), err
}

// Retire withdraws from the JWTIssuer's JWK Set every key but keep's: the
// keys Set published and the previous versions from the store alike,
// whatever is left of their windows. The key the JWTIssuer signs with
// (the store's current version, read first) always stays published: after
// a completed or rolled-back rotation, it is keep. Retiring again does
// nothing more. It fails with ErrInvalid when keep is not a private key,
// and with the store's error when the current version cannot be read.
func (t *SigningKeyTarget) Retire(ctx context.Context, keep rot.Credential) error {
	const op = "signing key retire"
	_, pk, err := t.key(keep.Secret)
	if err != nil {
		return newError(op, nil, err)
	}
	i := t.i
	if i.isClosed() {
		return newError(op, ErrClosed, nil)
	}
	// The promotion's event may not have reached the JWTIssuer yet.
	if err := i.load(ctx); err != nil {
		return newError(op, nil, err)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	var latest *publicKey
	if len(i.keys) > 0 {
		latest = i.keys[0]
	}
	i.keys = slices.DeleteFunc(i.keys, func(k *publicKey) bool { return k != latest && k.kid != pk.kid })
	i.staged = slices.DeleteFunc(i.staged, func(k *publicKey) bool {
		return k.kid != pk.kid || slices.ContainsFunc(i.keys, func(s *publicKey) bool { return s.kid == k.kid })
	})
	return nil
}

// MinOverlap is the least Policy.Overlap for a rotation with this target:
// the JWTIssuer's PublishAhead plus its Overlap, the longest it signs with
// the old key after the new one is promoted plus the window it would keep
// the old key published itself, so that Retire never withdraws a key an
// unexpired token needs.
func (t *SigningKeyTarget) MinOverlap() time.Duration {
	return t.i.opts.PublishAhead + t.i.opts.Overlap
}

// stagedKey returns the key Set published with kid, if it is pub. i.mu is
// held.
func (i *JWTIssuer) stagedKey(kid string, pub crypto.PublicKey) *publicKey {
	for _, k := range i.staged {
		if k.kid == kid && samePublic(k.pub, pub) {
			return k
		}
	}
	return nil
}

// samePublic reports whether two public keys are the same key.
func samePublic(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// jwkKeys is a decoded JWK Set as a KeySet, declared algorithms included.
type jwkKeys map[string]jwkEntry

func (k jwkKeys) Key(ctx context.Context, kid string) (crypto.PublicKey, error) {
	pub, _, err := k.keyAlg(ctx, kid)
	return pub, err
}

func (k jwkKeys) keyAlg(_ context.Context, kid string) (crypto.PublicKey, string, error) {
	e, ok := k[kid]
	if !ok {
		return nil, "", newError("key", ErrUnknownKey, nil)
	}
	return e.pub, e.alg, nil
}

// jwksRecorder is the http.ResponseWriter Test reads the served JWK Set
// from.
type jwksRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (w *jwksRecorder) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *jwksRecorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *jwksRecorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// String describes the target: its JWTIssuer.
func (t *SigningKeyTarget) String() string {
	if t == nil {
		return "<nil>"
	}
	return "tokens.SigningKeyTarget for " + t.i.String()
}

// GoString is String, for %#v.
func (t *SigningKeyTarget) GoString() string { return t.String() }

// Format writes String for every fmt verb.
func (t *SigningKeyTarget) Format(f fmt.State, _ rune) { io.WriteString(f, t.String()) }

// LogValue makes slog log what String shows.
func (t *SigningKeyTarget) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalText returns String.
func (t *SigningKeyTarget) MarshalText() ([]byte, error) { return []byte(t.String()), nil }
