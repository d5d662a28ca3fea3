// Package vhash derives version identifiers from secret content with a keyed
// hash, for providers whose backend has no version of its own.
//
// An unkeyed hash of a short password is a dictionary attack waiting to
// happen once it reaches a log or a metrics system, so the key is random per
// Hasher (in practice per provider instance, hence per process): equal data
// gives equal versions inside the process and nothing an outsider can test
// guesses against.
//
// A Hasher is safe for concurrent use and returns no errors. Versions are
// 64 bits of HMAC-SHA256: collisions are negligible for versions of one
// secret.
package vhash

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// Hasher computes versions. It is safe for concurrent use.
type Hasher struct {
	key [32]byte
}

// New returns a Hasher with a fresh random key.
func New() *Hasher {
	h := new(Hasher)
	rand.Read(h.key[:]) // crypto/rand.Read never fails on supported platforms.
	return h
}

// Version returns a 16-hex-digit version for data.
func (h *Hasher) Version(data []byte) string {
	m := hmac.New(sha256.New, h.key[:])
	m.Write(data)
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:8])
}
