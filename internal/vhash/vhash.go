// Package vhash derives version identifiers from secret content with a keyed
// hash, for providers whose backend has no version of its own.
//
// An unkeyed hash of a short password is a dictionary attack waiting to
// happen once it reaches a log or a metrics system, so the key is random per
// Hasher (in practice per provider instance, hence per process): equal data
// gives equal versions inside the process and nothing an outsider can test
// guesses against.
//
// # Concurrency
//
// A Hasher is safe for concurrent use and returns no errors.
//
// # Security
//
// Versions are 64 bits of HMAC-SHA256 over an encoding of the data (its
// whole 64-byte blocks, its last partial block padded with zeros, and its
// length): collisions are negligible for versions of one secret.
//
// The encoding exists so that no byte of the data is left in memory that
// is not wiped. SHA-256 copies whatever does not fill a block into its own
// buffer, which is never wiped (with crypto/hmac, the whole of a value
// shorter than 64 bytes stayed on the heap), so only whole blocks are
// handed to it: those of the caller's slice, which it reads in place, and
// the last partial block from a buffer that is wiped after use. The
// message words SHA-256 code keeps on the stack (the code without
// assembly does; the SHA-NI and AVX2 code on amd64 do not) are
// overwritten by the length block hashed after them through the same
// calls, and the stack below Version is zeroed after hashing in case a
// compiler lays the frames out otherwise; that costs about 70 ns a call.
//
// What this cannot rule out: copies in CPU registers (the SHA-NI code
// leaves message words in vector registers until the next blocks, which
// carry no data, replace them; a signal in between saves them to memory),
// and a goroutine stack that the runtime moves during the call (the stack
// is grown before hashing so that the wipe does not move it, but a
// garbage collection may shrink it), whose old copy is freed unwiped.
package vhash

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// blockSize is SHA-256's block size: Write copies nothing of a slice whose
// length is a multiple of it, when nothing is buffered before.
const blockSize = sha256.BlockSize

// Hasher computes versions. It is safe for concurrent use.
type Hasher struct {
	inner, outer [blockSize]byte // the key XOR HMAC's ipad and opad
}

// New returns a Hasher with a fresh random key.
func New() *Hasher {
	h := new(Hasher)
	var key [32]byte
	rand.Read(key[:]) // crypto/rand.Read never fails on supported platforms.
	for i := range blockSize {
		var k byte
		if i < len(key) {
			k = key[i]
		}
		h.inner[i] = k ^ 0x36
		h.outer[i] = k ^ 0x5c
	}
	clear(key[:])
	return h
}

// Version returns a 16-hex-digit version for data. It keeps no copy of
// data, and leaves none behind (see the package documentation).
func (h *Hasher) Version(data []byte) string {
	wipeStack() // grows the stack now, if it must grow, rather than after hashing
	sum := h.innerSum(data)
	wipeStack()

	outer := sha256.New()
	outer.Write(h.outer[:])
	outer.Write(sum[:])
	var out [sha256.Size]byte
	return hex.EncodeToString(outer.Sum(out[:0])[:8])
}

// innerSum is HMAC's inner hash of the encoding of data: the whole
// blocks, the partial block padded with zeros (absent when there is
// none), and a block that holds the length.
func (h *Hasher) innerSum(data []byte) [sha256.Size]byte {
	d := sha256.New()
	d.Write(h.inner[:])
	whole := len(data) &^ (blockSize - 1)
	d.Write(data[:whole])
	if whole < len(data) {
		tail := new([blockSize]byte)
		copy(tail[:], data[whole:])
		d.Write(tail[:])
		clear(tail[:])
	}
	var length [blockSize]byte
	binary.BigEndian.PutUint64(length[:], uint64(len(data)))
	d.Write(length[:])
	var sum [sha256.Size]byte
	d.Sum(sum[:0])
	return sum
}

// stackWipeSize is how much of the stack below Version's frame wipeStack
// overwrites: far more than the SHA-256 calls use (a few hundred bytes
// for the generic code's message schedule).
const stackWipeSize = 4 << 10

// wipeStack overwrites the stackWipeSize bytes of stack below its
// caller's frame with zeros, by zeroing a local array there.
//
//go:noinline
func wipeStack() {
	var buf [stackWipeSize]byte
	keep(buf[:])
}

// keep makes its argument look used, so that the array of wipeStack is
// zeroed rather than optimised away.
//
//go:noinline
func keep(b []byte) byte { return b[len(b)-1] }
