package memory

import (
	"container/heap"
	"context"
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
// Time moved by a Clock is deterministic: when Advance (or [Clock.Wait])
// returns, every timer it made due has fired, and the work those timers
// started in the background has finished. Code that runs work in the
// background on a clock's behalf reports it with [Clock.Hold]: a
// [github.com/strongroom/strongroom/secrets.Store] does for its fetches, its
// refresh scheduling and its event deliveries, this package's [Provider]
// for its watch signals, so that after Advance every fetch the clock made
// due has finished and every event it caused has been delivered to every
// subscriber. Work not reported (a goroutine of the test's own) is not
// waited for.
//
// The zero Clock stands at the zero time and is ready to use. A Clock is
// safe for concurrent use; timer callbacks run without the clock's lock held,
// so they may read the clock, schedule timers and stop them.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64     // orders timers with equal deadlines by creation
	busy   int        // holds taken and not released (nor set aside)
	idle   *sync.Cond // signalled when busy falls to zero; made on first use
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
// callback schedules within the window fires too. Before each timer fires,
// and before Advance returns, it waits until every hold (see [Clock.Hold])
// is released: the work a timer started finishes at the timer's instant,
// before time moves on, as it would if it took no time. A negative d counts
// as zero: use [Clock.Set] to move the clock back.
//
// Advance must not be called from work the clock waits for (an event
// subscriber of a store on this clock, a validator, a watch callback):
// it would wait for itself. Call it from the test's own goroutine.
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

// Wait fires the timers that are due now (those scheduled with d <= 0) and
// waits until the work the clock knows of has finished, without moving
// time: it is Advance(0). Call it after changing something outside the
// clock (a [Provider.Set] that a store watches, a
// [github.com/strongroom/strongroom/secrets.Store.Add]) to let what that
// started finish.
func (c *Clock) Wait() { c.Advance(0) }

// Hold reports one piece of background work in progress: [Clock.Advance]
// and [Clock.Wait] do not let time move on, nor return, until release has
// been called. release is idempotent. The returned context carries the
// hold: while a [Provider] fetch given that context waits out a scripted
// latency on this clock, the hold is set aside (the work waits for time,
// and time may move), and taken back when the latency has passed.
//
// A store, a token cache or a provider on this clock call Hold for the
// work they start; tests rarely need it.
func (c *Clock) Hold(ctx context.Context) (context.Context, func()) {
	h := &hold{c: c}
	c.mu.Lock()
	c.busy++
	c.mu.Unlock()
	return context.WithValue(ctx, holdKey{}, h), h.release
}

// hold is one Hold.
type hold struct {
	c        *Clock
	released bool // under c.mu
	aside    bool // under c.mu: counted out while waiting for time
}

type holdKey struct{}

func (h *hold) release() {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.released {
		return
	}
	h.released = true
	if !h.aside {
		c.doneLocked()
	}
}

// setAside counts the hold out while its work waits for time to pass.
func (h *hold) setAside() {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !h.released && !h.aside {
		h.aside = true
		c.doneLocked()
	}
}

// resume counts the hold in again; it is called by the timer that ends
// the wait, before the waiting work can run, or by the work itself when
// its wait ended otherwise.
func (h *hold) resume() {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !h.released && h.aside {
		h.aside = false
		c.busy++
	}
}

// heldBy returns the hold ctx carries on c, or nil.
func (c *Clock) heldBy(ctx context.Context) *hold {
	if h, ok := ctx.Value(holdKey{}).(*hold); ok && h.c == c {
		return h
	}
	return nil
}

func (c *Clock) doneLocked() {
	c.busy--
	if c.busy == 0 && c.idle != nil {
		c.idle.Broadcast()
	}
}

// waitIdleLocked waits until no hold is taken. c.mu is held.
func (c *Clock) waitIdleLocked() {
	for c.busy > 0 {
		if c.idle == nil {
			c.idle = sync.NewCond(&c.mu)
		}
		c.idle.Wait()
	}
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
// target, each once the work before it has finished, then moves the clock
// to target unless it is already later.
func (c *Clock) advanceTo(target time.Time) {
	for {
		c.mu.Lock()
		c.waitIdleLocked()
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
