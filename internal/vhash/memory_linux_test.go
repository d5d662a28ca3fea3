package vhash

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/strongroom/strongroom/internal/memscan"
)

// TestVersionLeavesNoCopy hashes a marker of each size around the block
// size and searches the process's memory for it afterwards: the whole of
// it and its last partial block, in clear and with each 4-byte word
// reversed (how SHA-256 code on a little-endian machine stores message
// words on the stack). Run it with -tags purego too, for the SHA-256 code
// without assembly.
func TestVersionLeavesNoCopy(t *testing.T) {
	h := New()
	for _, n := range []int{8, 32, 60, 64, 100, 128, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			checkNoCopy(t, n, func(b []byte) { h.Version(b) })
		})
	}
}

// TestSearchFindsLeftovers checks that the search of
// TestVersionLeavesNoCopy sees what it is meant to: a value left in a
// stack frame, and what HMAC-SHA256 (how versions were computed before)
// leaves on the heap.
func TestSearchFindsLeftovers(t *testing.T) {
	for _, c := range []struct {
		name string
		n    int
		hash func([]byte)
	}{
		{"stack frame", 32, func(b []byte) { copyToStack(b) }},
		{"hmac", 32, func(b []byte) { hmacVersion(b) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if raceEnabled && c.name == "stack frame" {
				t.Skip("the race detector overwrites the stack")
			}
			if found := leftovers(t, c.n, c.hash); len(found) == 0 {
				t.Error("nothing found")
			}
		})
	}
}

// checkNoCopy fails the test if hash leaves a copy of an n-byte value.
func checkNoCopy(t *testing.T, n int, hash func([]byte)) {
	t.Helper()
	for _, f := range leftovers(t, n, hash) {
		t.Errorf("%d-byte value: %s", n, f)
	}
}

// leftovers hashes an n-byte marker with hash and returns where copies of
// it are left. While memory is searched, the hashing goroutine spins in
// the frame that called hash, with the marker wiped, so the stack below
// it is as hash left it (no later call overwrites it).
func leftovers(t *testing.T, n int, hash func([]byte)) []string {
	t.Helper()
	m := memscan.NewMarker(n)
	type marker struct {
		what string
		m    *memscan.Marker
	}
	markers := []marker{{"the value in clear", m}, {"the value word-swapped", swapWords(m)}}
	if tail := n % blockSize; tail >= 8 && tail != n {
		var last *memscan.Marker
		m.Reveal(func(b []byte) error { last = m.From(b[n-tail:]); return nil })
		markers = append(markers,
			marker{"its last partial block in clear", last},
			marker{"its last partial block word-swapped", swapWords(last)})
	}
	var hashed, searched atomic.Bool
	done := make(chan error)
	go func() {
		done <- m.Reveal(func(b []byte) error {
			hash(b)
			clear(b)
			hashed.Store(true)
			for !searched.Load() {
			}
			return nil
		})
	}()
	for !hashed.Load() {
	}
	var found []string
	for _, c := range markers {
		at, err := c.m.Find()
		if err != nil {
			t.Error(err)
		}
		for _, a := range at {
			found = append(found, fmt.Sprintf("a copy of %s at %v", c.what, a))
		}
	}
	searched.Store(true)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return found
}

//go:noinline
func copyToStack(b []byte) byte {
	var a [64]byte
	copy(a[:], b)
	return keep(a[:])
}

// swapWords returns a marker for m's value with each whole 4-byte word
// reversed.
func swapWords(m *memscan.Marker) *memscan.Marker {
	var out *memscan.Marker
	m.Reveal(func(b []byte) error {
		for i := 0; i+4 <= len(b); i += 4 {
			b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
		}
		out = m.From(b[:len(b)&^3])
		return nil
	})
	return out
}
