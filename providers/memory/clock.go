package memory

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is a virtual clock for tests: time stands still until the test moves
// it with [Clock.Advance] or [Clock.Set], and timers fire then, in deadline
// order, synchronously in the goroutine that moved the clock.
//
// Clock has the method set of
// [github.com/strongroom/strongroom/secrets.Clock], so the same Clock can
// drive a store and a [Provider] (through [Options].Clock) without sleeping.
//
// The zero Clock stands at the zero time and is ready to use. A Clock is
// safe for concurrent use; timer callbacks run without the clock's lock held,
// so they may read the clock, schedule timers and stop them.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64 // orders timers with equal deadlines by creation
}

// NewClock returns a Clock standing at start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run once the clock reaches Now()+d. A timer with
// d <= 0 is due at once and fires at the next [Clock.Advance] or
// [Clock.Set], even Advance(0); it never fires inside AfterFunc, whose
// caller may hold locks that f needs.
//
// stop cancels the timer and reports whether it did so before f was called;
// it is idempotent. AfterFunc panics if f is nil.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	if f == nil {
		panic("providers/memory: Clock.AfterFunc with nil func")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{when: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.seq++
	heap.Push(&c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if t.index < 0 {
			return false
		}
		heap.Remove(&c.timers, t.index)
		return true
	}
}

// Advance moves the clock forward by d. Every timer due by then fires in
// deadline order (timers with equal deadlines in the order they were
// created), each seeing Now() equal to its own deadline; a timer that a
// callback schedules within the window fires too. Advance returns once all
// of them have returned. A negative d counts as zero: use [Clock.Set] to move
// the clock back.
//
// Concurrent calls are safe but interleave their timers; the clock never
// moves backwards because of them.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(max(d, 0))
	c.mu.Unlock()
	c.advanceTo(target)
}

// Set moves the clock to t and fires the timers due by t, as [Clock.Advance]
// does. Moving the clock back is allowed (to test clock skew): pending timers
// keep their deadlines and fire once the clock reaches them again.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	if t.Before(c.now) {
		c.now = t
	}
	c.mu.Unlock()
	c.advanceTo(t)
}

// Timers returns the number of pending timers, so that a test can wait until
// the code under test has scheduled what it is expected to before advancing
// the clock.
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// advanceTo fires, one at a time and without the lock, every timer due by
// target, then moves the clock to target unless it is already later.
func (c *Clock) advanceTo(target time.Time) {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when.After(target) {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*timer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// timer is one pending AfterFunc call; index is its place in the heap, or -1
// once it has fired or been stopped.
type timer struct {
	when  time.Time
	seq   uint64
	f     func()
	index int
}

// timerHeap is a min-heap of timers by deadline, then creation order.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
