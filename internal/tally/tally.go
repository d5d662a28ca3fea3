// Package tally counts events on many counters from many cores without
// making the cores write to one counter's cache line: each goroutine adds
// to a pending count in a stripe of its own (package stripe), which is
// moved to the counter when its slot is needed for another counter or on
// Flush.
package tally

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/strongroom/strongroom/internal/stripe"
	"golang.org/x/sys/cpu"
)

// slots is the number of counters a stripe holds pending counts for.
const slots = 16

// Tally holds pending counts. Create one with New.
type Tally struct {
	stripes []tstripe
}

type tstripe struct {
	mu    sync.Mutex
	slots [slots]slot
	_     cpu.CacheLinePad
}

type slot struct {
	c *atomic.Uint64 // the counter the count is pending for; nil: free
	n uint64
}

// New returns a Tally with stripe.Count() stripes.
func New() *Tally { return &Tally{stripes: make([]tstripe, stripe.Count())} }

// Add counts one event on c. The counter shows it after Flush, or sooner.
func (t *Tally) Add(c *atomic.Uint64) {
	st := &t.stripes[stripe.Pick(len(t.stripes))]
	h := uint64(uintptr(unsafe.Pointer(c))>>3) * 0x9e3779b97f4a7c15
	sl := &st.slots[h>>60]
	st.mu.Lock()
	if sl.c != c {
		if sl.c != nil {
			sl.c.Add(sl.n)
		}
		sl.c, sl.n = c, 0
	}
	sl.n++
	st.mu.Unlock()
}

// Flush moves every pending count to its counter, so that a Load of any
// counter then shows every Add that returned before Flush was called.
func (t *Tally) Flush() {
	for i := range t.stripes {
		st := &t.stripes[i]
		st.mu.Lock()
		for j := range st.slots {
			if sl := &st.slots[j]; sl.c != nil {
				sl.c.Add(sl.n)
				sl.c, sl.n = nil, 0
			}
		}
		st.mu.Unlock()
	}
}

// Format prints the type's name only: fmt would otherwise read counts
// other goroutines write.
func (t *Tally) Format(f fmt.State, _ rune) { io.WriteString(f, "tally.Tally") }
