package bench

import (
	"crypto/rand"
	"testing"

	"golang.org/x/crypto/nacl/secretbox"
)

// BenchmarkSecretboxOpenFloor is the floor under Get+Use: secretbox.Open of
// a 32-byte value into a buffer that is reused, as the store seals values
// (XSalsa20-Poly1305), with nothing else. The ratio of
// BenchmarkStrongroomGetUse to it is what the store adds.
func BenchmarkSecretboxOpenFloor(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	rand.Read(key[:])
	rand.Read(nonce[:])
	box := secretbox.Seal(nil, value32(), &nonce, &key)
	out := make([]byte, 0, 64)
	b.ReportAllocs()
	var acc byte
	for b.Loop() {
		v, ok := secretbox.Open(out[:0], box, &nonce, &key)
		if !ok {
			b.Fatal("open failed")
		}
		acc = fold(acc, v)
		clear(v)
	}
	sink.Add(uint64(acc))
}

// BenchmarkSecretboxOpenFloorParallel is the floor in parallel: no state
// is shared but the key, so it shows what the cores give.
func BenchmarkSecretboxOpenFloorParallel(b *testing.B) {
	var key [32]byte
	var nonce [24]byte
	rand.Read(key[:])
	rand.Read(nonce[:])
	box := secretbox.Seal(nil, value32(), &nonce, &key)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		out := make([]byte, 0, 64)
		var acc byte
		for pb.Next() {
			v, ok := secretbox.Open(out[:0], box, &nonce, &key)
			if !ok {
				b.Error("open failed")
				return
			}
			acc = fold(acc, v)
			clear(v)
		}
		sink.Add(uint64(acc))
	})
}
