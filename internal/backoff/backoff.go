// Package backoff draws the random delays the refresh engines share:
// jitter that brings a refresh forward, and exponential backoff with full
// jitter after failures.
//
// A Rand is safe for concurrent use; its source is read under a lock, so a
// deterministic source (for tests) may be one that is not safe for
// concurrent use itself. It returns no errors: a source that fails gives
// the middle of the range.
package backoff

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"time"
)

// Rand draws uniform random numbers from a byte source.
type Rand struct {
	mu  sync.Mutex
	src io.Reader
}

// New returns a Rand reading src; nil means crypto/rand.Reader.
func New(src io.Reader) *Rand {
	if src == nil {
		src = rand.Reader
	}
	return &Rand{src: src}
}

// Float returns a uniform float64 in [0, 1).
func (r *Rand) Float() float64 {
	var b [8]byte
	r.mu.Lock()
	_, err := io.ReadFull(r.src, b[:])
	r.mu.Unlock()
	if err != nil {
		return 0.5
	}
	return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
}

// Upto returns a uniform duration in [0, d), or 0 when d <= 0.
func (r *Rand) Upto(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(float64(d) * r.Float())
}

// Backoff returns the wait after the failures-th consecutive failure
// (failures >= 1): full jitter, a uniform draw below min·2^(failures-1)
// capped at max, but at least min/10 so that retries never come back to
// back.
func (r *Rand) Backoff(failures int, min, max time.Duration) time.Duration {
	bound := min
	for i := 1; i < failures && bound < max; i++ {
		bound *= 2
	}
	bound = minDuration(bound, max)
	return maxDuration(r.Upto(bound), min/10)
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Format prints the type's name for every fmt verb: fmt would otherwise
// read its state while others write it.
func (r *Rand) Format(f fmt.State, _ rune) { io.WriteString(f, "backoff.Rand") }
