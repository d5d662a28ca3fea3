// Package stripe picks, for the calling goroutine, one of several copies
// of some state, so that goroutines on different cores mostly write to
// different cache lines. The pick is a hash of the goroutine's stack
// address: cheap (no atomic, no pinning), and the same for a goroutine
// from call to call (until its stack moves).
package stripe

import (
	"runtime"
	"unsafe"
)

// Count returns how many stripes to keep: sixteen per core, a power of two
// between 64 and 1024, so that two goroutines running at once on different
// cores pick the same one seldom (1 time in 64 for two goroutines): the
// pick knows nothing of cores, and when two do collide their writes share
// a cache line again.
func Count() int {
	n := 64
	for n < 16*runtime.GOMAXPROCS(0) && n < 1024 {
		n *= 2
	}
	return n
}

// Pick returns the calling goroutine's stripe, below n (a power of two).
//
//go:noinline
func Pick(n int) int {
	var here byte
	// Goroutine stacks are at least 8 KiB apart: mix the bits above.
	h := uint64(uintptr(unsafe.Pointer(&here)) >> 13)
	h *= 0x9e3779b97f4a7c15
	return int(h>>40) & (n - 1)
}
