// Package refcount counts the readers of something that can be ended
// while they read (a sealed value, a cache being closed), without locks.
// End refuses new readers at once and never waits; whoever leaves last,
// End itself when no reader is in, finishes the job (wipes the value,
// signals a waiter). A reader nested in another therefore never
// deadlocks against End: it is refused instead.
package refcount

import (
	"fmt"
	"io"
	"sync/atomic"
)

// ended marks a count that End has ended; the readers are counted below it.
const ended = 1 << 62

// Count is a count of readers. The zero value is open, with no reader in.
type Count struct{ n atomic.Int64 }

// Enter counts a reader in, and reports false, counting nothing, once End
// has been called.
func (c *Count) Enter() bool {
	for {
		n := c.n.Load()
		if n&ended != 0 {
			return false
		}
		if c.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Leave counts a reader out, after an Enter that reported true. It reports
// whether this was the last reader of an ended count: the caller then
// finishes the job End left to it.
func (c *Count) Leave() bool { return c.n.Add(-1) == ended }

// End refuses every later Enter. It reports whether no reader was in, in
// which case the caller finishes the job now; otherwise the last Leave
// reports it. Only the first End can report true.
func (c *Count) End() bool { return c.n.Or(ended) == 0 }

// Ended reports whether End has been called.
func (c *Count) Ended() bool { return c.n.Load()&ended != 0 }

// Format prints the type's name for every fmt verb: fmt would otherwise
// read its state while others write it.
func (c *Count) Format(f fmt.State, _ rune) { io.WriteString(f, "refcount.Count") }
