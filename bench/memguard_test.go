package bench

import (
	"testing"

	"github.com/awnumar/memguard"
)

// newEnclave seals a 32-byte value into a memguard Enclave.
func newEnclave(b *testing.B) *memguard.Enclave {
	b.Helper()
	enc := memguard.NewEnclave(value32())
	lb, err := enc.Open()
	if err != nil {
		b.Fatal(err)
	}
	checkLen(b, "Enclave.Open", lb.Size())
	lb.Destroy()
	return enc
}

// BenchmarkMemguardEnclaveOpen is how a memguard user reads a sealed
// secret: Enclave.Open into a fresh LockedBuffer, read it, Destroy it.
func BenchmarkMemguardEnclaveOpen(b *testing.B) {
	enc := newEnclave(b)
	b.ReportAllocs()
	var acc byte
	for b.Loop() {
		lb, err := enc.Open()
		if err != nil {
			b.Fatal(err)
		}
		acc = fold(acc, lb.Bytes())
		lb.Destroy()
	}
	sink.Add(uint64(acc))
}

func BenchmarkMemguardEnclaveOpenParallel(b *testing.B) {
	enc := newEnclave(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var acc byte
		for pb.Next() {
			lb, err := enc.Open()
			if err != nil {
				b.Error(err)
				return
			}
			acc = fold(acc, lb.Bytes())
			lb.Destroy()
		}
		sink.Add(uint64(acc))
	})
}

// newLockedBuffer returns an open 32-byte LockedBuffer, destroyed when b ends.
func newLockedBuffer(b *testing.B) *memguard.LockedBuffer {
	b.Helper()
	lb := memguard.NewBufferFromBytes(value32())
	b.Cleanup(lb.Destroy)
	checkLen(b, "LockedBuffer.Bytes", len(lb.Bytes()))
	return lb
}

// BenchmarkMemguardBufferBytes reads a secret kept unsealed in a
// LockedBuffer for the life of the process: the fastest memguard read, at
// the price of one locked page per secret and plaintext always in memory.
func BenchmarkMemguardBufferBytes(b *testing.B) {
	lb := newLockedBuffer(b)
	b.ReportAllocs()
	var acc byte
	for b.Loop() {
		acc = fold(acc, lb.Bytes())
	}
	sink.Add(uint64(acc))
}

func BenchmarkMemguardBufferBytesParallel(b *testing.B) {
	lb := newLockedBuffer(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var acc byte
		for pb.Next() {
			acc = fold(acc, lb.Bytes())
		}
		sink.Add(uint64(acc))
	})
}
