package bench

import (
	"sync"
	"testing"
)

// lockedMap is the baseline: secrets as plaintext in a map under a
// read-write lock, the code a program writes without a library.
type lockedMap struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func newLockedMap() *lockedMap {
	return &lockedMap{m: map[string][]byte{secretName: value32()}}
}

// read folds the value of name into acc under the read lock.
func (l *lockedMap) read(name string, acc byte) (byte, int) {
	l.mu.RLock()
	v := l.m[name]
	acc = fold(acc, v)
	l.mu.RUnlock()
	return acc, len(v)
}

func BenchmarkRWMutexMap(b *testing.B) {
	l := newLockedMap()
	b.ReportAllocs()
	var acc byte
	n := 0
	for b.Loop() {
		acc, n = l.read(secretName, acc)
	}
	checkLen(b, "map read", n)
	sink.Add(uint64(acc))
}

func BenchmarkRWMutexMapParallel(b *testing.B) {
	l := newLockedMap()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var acc byte
		for pb.Next() {
			acc, _ = l.read(secretName, acc)
		}
		sink.Add(uint64(acc))
	})
}
