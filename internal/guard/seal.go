package guard

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
)

const nonceSize = 24

// Sealed is one value encrypted under a Guard's key. It holds no plaintext
// and may live on the ordinary heap.
type Sealed struct {
	box []byte // nonce, then secretbox output (tag and ciphertext)
}

// Destroy wipes the ciphertext. Opening s afterwards fails.
func (s *Sealed) Destroy() {
	clear(s.box)
	s.box = nil
}

// SealTo is Seal into dst, for a Sealed held inside another struct.
func (g *Guard) SealTo(dst *Sealed, plaintext []byte) error {
	box, err := g.seal(plaintext)
	if err != nil {
		return err
	}
	dst.box = box
	return nil
}

// Seal encrypts plaintext under a fresh random nonce. It does not modify or
// keep plaintext; the caller wipes it.
func (g *Guard) Seal(plaintext []byte) (*Sealed, error) {
	box, err := g.seal(plaintext)
	if err != nil {
		return nil, err
	}
	return &Sealed{box: box}, nil
}

func (g *Guard) seal(plaintext []byte) ([]byte, error) {
	box := make([]byte, nonceSize, nonceSize+len(plaintext)+secretbox.Overhead)
	if _, err := rand.Read(box); err != nil {
		return nil, fmt.Errorf("guard: reading nonce: %w", err)
	}
	key := g.keyPtr
	if key == nil {
		return nil, ErrClosed
	}
	return secretbox.Seal(box, plaintext, (*[nonceSize]byte)(box), key), nil
}

// Open decrypts s into scratch memory, calls fn with the plaintext, then
// wipes the scratch memory, also when fn panics. fn must not keep or copy
// the slice. The caller must not call Open after, or concurrently with,
// Close. Open returns fn's error, or an error wrapping ErrCorrupt,
// ErrClosed or ErrLockedMemory.
func (g *Guard) Open(s *Sealed, fn func(plaintext []byte) error) error {
	if len(s.box) < nonceSize+secretbox.Overhead {
		return ErrCorrupt
	}
	n := len(s.box) - nonceSize - secretbox.Overhead
	buf, c, r, err := g.take(n)
	if err != nil {
		return err
	}
	defer g.give(buf, n, c, r)
	out, ok := secretbox.Open(buf[:0], s.box[nonceSize:], (*[nonceSize]byte)(s.box), g.keyPtr)
	if !ok {
		return ErrCorrupt
	}
	return fn(out)
}
