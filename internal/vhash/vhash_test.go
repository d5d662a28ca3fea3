package vhash

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

func TestVersion(t *testing.T) {
	h := New()
	long := bytes.Repeat([]byte("0123456789abcdef"), 20)
	versions := make(map[string]string)
	for _, data := range []string{
		"", "\x00", "\x00\x00", "a", "ab", string(long[:63]), string(long[:64]), string(long[:65]),
		string(long[:128]), string(long[:64]) + "\x00", string(long[:64]) + "\x00\x00", string(long),
	} {
		v := h.Version([]byte(data))
		if len(v) != 16 {
			t.Errorf("Version(%d bytes) = %q, want 16 hex digits", len(data), v)
		}
		if again := h.Version([]byte(data)); again != v {
			t.Errorf("Version(%d bytes): %q, then %q", len(data), v, again)
		}
		if other, ok := versions[v]; ok {
			t.Errorf("%q and %q have the same version %q", other, data, v)
		}
		versions[v] = data
	}
	if New().Version([]byte("same")) == h.Version([]byte("same")) {
		t.Error("two Hashers gave the same version: the key must be per Hasher")
	}
}

// TestVersionIsHMAC checks the construction against crypto/hmac over the
// same encoding of the data.
func TestVersionIsHMAC(t *testing.T) {
	h := New()
	var key [32]byte
	for i := range key {
		key[i] = h.inner[i] ^ 0x36
	}
	for _, n := range []int{0, 1, 63, 64, 65, 200} {
		data := bytes.Repeat([]byte{'x'}, n)
		enc := make([]byte, (n+blockSize-1)/blockSize*blockSize+blockSize)
		copy(enc, data)
		enc[len(enc)-blockSize+7] = byte(n) // the length, big-endian in the first 8 bytes; n < 256
		m := hmac.New(sha256.New, key[:])
		m.Write(enc)
		if got, want := h.Version(data), fmt.Sprintf("%x", m.Sum(nil)[:8]); got != want {
			t.Errorf("%d bytes: got %s, HMAC-SHA256 of the encoding gives %s", n, got, want)
		}
	}
}

// BenchmarkVersion measures Version against plain HMAC-SHA256 (what it
// replaced), and the stack wipe on its own.
func BenchmarkVersion(b *testing.B) {
	h := New()
	for _, n := range []int{16, 64, 100, 1024} {
		data := bytes.Repeat([]byte{'s'}, n)
		b.Run(fmt.Sprintf("vhash/%d", n), func(b *testing.B) {
			for b.Loop() {
				h.Version(data)
			}
		})
		b.Run(fmt.Sprintf("hmac/%d", n), func(b *testing.B) {
			for b.Loop() {
				hmacVersion(data)
			}
		})
	}
	b.Run("wipeStack", func(b *testing.B) {
		for b.Loop() {
			wipeStack()
		}
	})
}

// hmacVersion is how versions were computed before: HMAC-SHA256 of the
// data, which leaves the data's last partial block in the freed state.
func hmacVersion(data []byte) string {
	var key [32]byte
	m := hmac.New(sha256.New, key[:])
	m.Write(data)
	var sum [sha256.Size]byte
	return hex.EncodeToString(m.Sum(sum[:0])[:8])
}
