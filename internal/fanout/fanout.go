// Package fanout delivers events to subscribers, each on its own goroutine
// with its own bounded queue, in the order they were published: a slow
// subscriber delays only its own later events, never the publisher or
// another subscriber.
//
// A Hub is safe for concurrent use. Publish never blocks on a subscriber;
// when a subscriber's queue is full, the event is dropped and counted on
// the last event queued for it (through the Hub's Drop function), so the
// subscriber learns how many it missed and where. A panicking subscriber
// is reported through Panic and keeps receiving. Close stops every
// subscriber goroutine and waits for them, so a subscriber must not call
// it. The package returns no errors: Subscribe reports a closed Hub with
// false.
package fanout

import (
	"fmt"
	"io"
	"sync"
)

// Hub fans events of type E out to subscribers.
type Hub[E any] struct {
	// Buffer is how many events may wait for one subscriber. Set it
	// before the first Subscribe; zero or negative means 1024.
	Buffer int
	// Drop, if set, records on the last event queued for a subscriber that
	// one more event after it was dropped.
	Drop func(last *E)
	// Panic, if set, is told of a subscriber that panicked on e.
	Panic func(e E, recovered any)
	// Hold, if set, is called for each event queued for a subscriber, and
	// the function it returns once the subscriber has been called with it
	// (or the event was discarded): a virtual clock waits for deliveries
	// this way (see internal/busy).
	Hold func() (release func())

	mu     sync.Mutex
	subs   map[*sub[E]]struct{}
	closed bool
	wg     sync.WaitGroup
}

// item is a queued event and the release of its hold (nil without one).
type item[E any] struct {
	e       E
	release func()
}

type sub[E any] struct {
	match func(E) bool
	fn    func(E)
	max   int

	mu    sync.Mutex
	queue []item[E]
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Subscribe calls fn, on a goroutine of its own, for every event published
// from now on for which match returns true. cancel stops deliveries: after
// it returns, fn is called at most once more (a call under way). ok is
// false, and nothing is started, once the Hub is closed.
func (h *Hub[E]) Subscribe(match func(E) bool, fn func(E)) (cancel func(), ok bool) {
	max := h.Buffer
	if max <= 0 {
		max = 1024
	}
	s := &sub[E]{match: match, fn: fn, max: max, wake: make(chan struct{}, 1), done: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false
	}
	if h.subs == nil {
		h.subs = make(map[*sub[E]]struct{})
	}
	h.subs[s] = struct{}{}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		h.deliver(s)
	}()
	return func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.stop()
	}, true
}

// Publish queues e for every matching subscriber. Events published by one
// goroutine, or under one lock, reach each subscriber in that order.
func (h *Hub[E]) Publish(e E) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		if !s.match(e) {
			continue
		}
		s.mu.Lock()
		if n := len(s.queue); n >= s.max {
			if h.Drop != nil {
				h.Drop(&s.queue[n-1].e)
			}
		} else {
			it := item[E]{e: e}
			if h.Hold != nil {
				it.release = h.Hold()
			}
			s.queue = append(s.queue, it)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// Close stops every subscriber and waits for their goroutines; events
// still queued are dropped. It is idempotent.
func (h *Hub[E]) Close() {
	h.mu.Lock()
	h.closed = true
	subs := h.subs
	h.subs = nil
	h.mu.Unlock()
	for s := range subs {
		s.stop()
	}
	h.wg.Wait()
}

func (s *sub[E]) stop() { s.once.Do(func() { close(s.done) }) }

// deliver runs on the subscriber's goroutine until stop.
func (h *Hub[E]) deliver(s *sub[E]) {
	defer s.discard()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			it := s.queue[0]
			s.queue[0] = item[E]{}
			s.queue = s.queue[1:]
			s.mu.Unlock()
			select {
			case <-s.done:
				it.done()
				return
			default:
			}
			h.call(s, it.e)
			it.done()
		}
	}
}

func (it item[E]) done() {
	if it.release != nil {
		it.release()
	}
}

// discard releases the events left queued when the subscriber stops.
func (s *sub[E]) discard() {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, it := range q {
		it.done()
	}
}

// call runs fn, containing a panic so that one bad subscriber does not take
// the process down from a goroutine the program does not own.
func (h *Hub[E]) call(s *sub[E], e E) {
	defer func() {
		if r := recover(); r != nil && h.Panic != nil {
			h.Panic(e, r)
		}
	}()
	s.fn(e)
}

// Format prints the type's name for every fmt verb: fmt would otherwise
// read its state while others write it.
func (h *Hub[E]) Format(f fmt.State, _ rune) { io.WriteString(f, "fanout.Hub") }
