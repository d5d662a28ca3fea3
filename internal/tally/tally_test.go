package tally

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestCountsAddUp: many goroutines adding to more counters than a stripe
// has slots lose no count, and Flush shows them all.
func TestCountsAddUp(t *testing.T) {
	tl := New()
	counters := make([]atomic.Uint64, 100)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10_000 {
				tl.Add(&counters[(g*7+i)%len(counters)])
			}
		}()
	}
	wg.Wait()
	tl.Flush()
	var sum uint64
	for i := range counters {
		sum += counters[i].Load()
	}
	if sum != 16*10_000 {
		t.Fatalf("counted %d of %d", sum, 16*10_000)
	}
	tl.Add(&counters[0])
	before := counters[0].Load()
	tl.Flush()
	if counters[0].Load() != before+1 {
		t.Error("an Add before Flush was not shown after it")
	}
}
