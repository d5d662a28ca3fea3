package certs

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/strongroom/strongroom/internal/guard"
)

// vault seals private keys for [sealedSigner]s: a guard of the Source's
// own, so that a sealed key outlives the store's version of it (the store
// wipes a superseded version after its overlap window, while a refused
// rotation may keep the old certificate in service for much longer).
type vault struct {
	mu     sync.RWMutex // read-held by Open, so that close waits for signatures under way
	g      *guard.Guard
	closed bool
}

func newVault(allowUnlocked bool) (*vault, error) {
	g, err := guard.New(&guard.Options{MaxLocked: 64 << 10, AllowUnlocked: allowUnlocked})
	if err != nil {
		return nil, err
	}
	return &vault{g: g}, nil
}

// signer seals key, of the certificate called cert, and returns a
// crypto.Signer that opens it for each signature.
func (v *vault) signer(cert string, key crypto.Signer) (*sealedSigner, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, &keyError{"private key cannot be sealed"}
	}
	defer clear(der)
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, &Error{Op: "seal", Certificate: cert, Kind: ErrClosed}
	}
	sealed, err := v.g.Seal(der)
	if err != nil {
		return nil, err
	}
	return &sealedSigner{v: v, cert: cert, pub: key.Public(), sealed: sealed}, nil
}

func (v *vault) close() {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.closed {
		v.closed = true
		v.g.Close()
	}
}

// sealedSigner is a crypto.Signer whose private key stays sealed between
// signatures: Sign opens it into locked scratch memory, parses it, signs
// and drops the parsed key. See Pair.SealedKey for what that buys and what
// it costs.
type sealedSigner struct {
	v      *vault
	cert   string // the certificate's name, for errors
	pub    crypto.PublicKey
	sealed *guard.Sealed
}

// Public returns the public key.
func (s *sealedSigner) Public() crypto.PublicKey { return s.pub }

// Sign opens the sealed key and signs digest with it.
func (s *sealedSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.v.mu.RLock()
	defer s.v.mu.RUnlock()
	if s.v.closed {
		return nil, &Error{Op: "sign", Certificate: s.cert, Kind: ErrClosed}
	}
	var sig []byte
	err := s.v.g.Open(s.sealed, func(der []byte) error {
		k, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return &keyError{"sealed private key does not parse"}
		}
		sig, err = k.(crypto.Signer).Sign(rand, digest, opts)
		return err
	})
	return sig, err
}

// String redacts the key.
func (s *sealedSigner) String() string { return "certs sealed signer [REDACTED]" }

// Format redacts every fmt verb.
func (s *sealedSigner) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// LogValue redacts the signer in slog records.
func (s *sealedSigner) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the signer in JSON.
func (s *sealedSigner) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }

// redacted wraps a parsed private key for service, so that the
// *tls.Certificate the hooks return never prints it: an
// ed25519.PrivateKey is a []byte that %v prints in full, and a
// *ecdsa.PrivateKey or *rsa.PrivateKey printed on its own shows its
// private numbers. The wrapper is a crypto.Signer (and, for RSA, a
// crypto.Decrypter, which TLS 1.2's RSA key exchange needs) that
// redacts itself in fmt, slog and JSON.
func redacted(key crypto.Signer) crypto.Signer {
	if d, ok := key.(crypto.Decrypter); ok {
		return &heapDecrypter{heapKey{key}, d}
	}
	return &heapKey{key}
}

// heapKey is a private key on the Go heap, in service; see redacted.
type heapKey struct{ k crypto.Signer }

// Public returns the public key.
func (h *heapKey) Public() crypto.PublicKey { return h.k.Public() }

// Sign signs digest with the key.
func (h *heapKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.k.Sign(rand, digest, opts)
}

// String redacts the key.
func (h *heapKey) String() string { return "certs private key [REDACTED]" }

// Format redacts every fmt verb.
func (h *heapKey) Format(f fmt.State, _ rune) { io.WriteString(f, h.String()) }

// LogValue redacts the key in slog records.
func (h *heapKey) LogValue() slog.Value { return slog.StringValue(h.String()) }

// MarshalJSON redacts the key in JSON.
func (h *heapKey) MarshalJSON() ([]byte, error) { return []byte(`"[REDACTED]"`), nil }

// heapDecrypter is a heapKey that also decrypts (an RSA key).
type heapDecrypter struct {
	heapKey
	d crypto.Decrypter
}

// Decrypt decrypts msg with the key.
func (h *heapDecrypter) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return h.d.Decrypt(rand, msg, opts)
}

// Format redacts every fmt verb.
func (h *heapDecrypter) Format(f fmt.State, _ rune) { io.WriteString(f, h.String()) }
