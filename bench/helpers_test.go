package bench

import (
	"sync/atomic"
	"testing"
)

// secretSize is the length of every value read here: a 256-bit key or a
// typical API token.
const secretSize = 32

// sink receives a fold of every byte a benchmark reads, so that the
// compiler cannot drop the reads. Goroutines fold into a local first and
// add once at the end, so the sink costs nothing per operation.
var sink atomic.Uint64

// value32 returns a fresh 32-byte value; callers that hand it to a library
// that wipes its source get their own copy.
func value32() []byte {
	b := make([]byte, secretSize)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

// fold XORs b into acc.
func fold(acc byte, b []byte) byte {
	for _, c := range b {
		acc ^= c
	}
	return acc
}

// checkLen fails the benchmark when a read returned the wrong length, which
// would mean it measured an error path.
func checkLen(b *testing.B, what string, n int) {
	b.Helper()
	if n != secretSize {
		b.Fatalf("%s returned %d bytes, want %d", what, n, secretSize)
	}
}
