package secrets

import (
	"container/heap"
	"sync"
	"time"

	"github.com/strongroom/strongroom/internal/busy"
)

// scheduler wakes entries at their deadlines (refresh, end of overlap,
// staleness, expiry) from one goroutine, whatever the number of secrets.
type scheduler struct {
	s      *Store
	mu     sync.Mutex
	heap   entryHeap
	hold   func() func() // with a clock that waits for work (internal/busy); else nil
	held   []func()      // releases of pokes not yet taken up
	kick   chan struct{}
	done   chan struct{}
	exited chan struct{}
}

func (sc *scheduler) init(s *Store) {
	sc.s = s
	sc.hold = busy.Func(s.clock)
	sc.kick = make(chan struct{}, 1)
	sc.done = make(chan struct{})
	sc.exited = make(chan struct{})
}

// set schedules e at t; zero t unschedules it.
func (sc *scheduler) set(e *entry, t time.Time) {
	sc.mu.Lock()
	switch {
	case t.IsZero():
		if e.index >= 0 {
			heap.Remove(&sc.heap, e.index)
		}
	case e.index >= 0:
		e.wake = t
		heap.Fix(&sc.heap, e.index)
	default:
		e.wake = t
		heap.Push(&sc.heap, e)
	}
	first := len(sc.heap) > 0 && sc.heap[0] == e
	sc.mu.Unlock()
	if first {
		sc.poke()
	}
}

// poke wakes run. With a clock that waits for work, the poke holds it
// until run has taken it up: a timer's poke, or a new deadline set by a
// fetch, is acted on before the clock moves on.
func (sc *scheduler) poke() {
	if sc.hold != nil {
		release := sc.hold()
		sc.mu.Lock()
		sc.held = append(sc.held, release)
		sc.mu.Unlock()
	}
	select {
	case sc.kick <- struct{}{}:
	default:
	}
}

func (sc *scheduler) run() {
	defer close(sc.exited)
	var stopTimer func() bool
	defer func() {
		if stopTimer != nil {
			stopTimer()
		}
	}()
	var due []*entry
	var nextSweep time.Time
	var taken []func() // releases of the pokes this pass answers
	defer func() { releaseAll(taken) }()
	for {
		if sc.hold != nil {
			sc.mu.Lock()
			taken = append(taken, sc.held...)
			clear(sc.held)
			sc.held = sc.held[:0]
			sc.mu.Unlock()
		}
		now := sc.s.clock.Now()
		if nextSweep.IsZero() && sc.s.sweepDue.Load() {
			nextSweep = time.Unix(0, sc.s.sweepFrom.Load()).Add(readSweep)
		}
		if !nextSweep.IsZero() && !now.Before(nextSweep) {
			sc.s.sweepReads()
			nextSweep = time.Time{}
			continue
		}
		sc.mu.Lock()
		for len(sc.heap) > 0 && !sc.heap[0].wake.After(now) {
			due = append(due, heap.Pop(&sc.heap).(*entry))
		}
		next := nextSweep
		if len(sc.heap) > 0 && (next.IsZero() || sc.heap[0].wake.Before(next)) {
			next = sc.heap[0].wake
		}
		sc.mu.Unlock()
		if len(due) > 0 {
			for i, e := range due {
				e.tick(now)
				due[i] = nil
			}
			due = due[:0]
			continue
		}
		if stopTimer != nil {
			stopTimer()
			stopTimer = nil
		}
		if !next.IsZero() {
			stopTimer = sc.s.clock.AfterFunc(next.Sub(now), sc.poke)
			// A virtual clock may have moved on between Now and
			// AfterFunc, putting the timer past the deadline.
			if !sc.s.clock.Now().Before(next) {
				continue
			}
		}
		taken = releaseAll(taken)
		select {
		case <-sc.kick:
		case <-sc.done:
			return
		}
	}
}

// releaseAll calls every release and returns the emptied slice.
func releaseAll(rs []func()) []func() {
	for i, r := range rs {
		r()
		rs[i] = nil
	}
	return rs[:0]
}

// readSweep is the resolution of Metadata.LastRead: a read sets a mark and
// records the time only when the mark is clear, and a sweep clears the
// marks this long after the first read that set one.
const readSweep = time.Minute

// sweepReads clears every read mark.
func (s *Store) sweepReads() {
	s.sweepDue.Store(false)
	s.entries.Range(func(_, e any) bool {
		e.(*entry).readMark.Store(false)
		return true
	})
}

// stop ends run and waits for it.
func (sc *scheduler) stop() {
	close(sc.done)
	<-sc.exited
}

// entryHeap orders entries by wake time.
type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].wake.Before(h[j].wake) }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
