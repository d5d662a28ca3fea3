package fanout

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

type ev struct {
	n       int
	dropped int
}

func TestOrderAndSlowSubscriber(t *testing.T) {
	defer goleak.VerifyNone(t)
	var h Hub[ev]
	defer h.Close()
	release := make(chan struct{})
	slow := make(chan int, 100)
	h.Subscribe(func(ev) bool { return true }, func(e ev) { <-release; slow <- e.n })
	fast := make(chan int, 100)
	h.Subscribe(func(e ev) bool { return e.n%2 == 0 }, func(e ev) { fast <- e.n })
	for i := range 10 {
		h.Publish(ev{n: i})
	}
	for want := 0; want < 10; want += 2 {
		select {
		case got := <-fast:
			if got != want {
				t.Fatalf("fast got %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("fast subscriber held up by the slow one")
		}
	}
	close(release)
	for want := range 10 {
		if got := <-slow; got != want {
			t.Fatalf("slow got %d, want %d", got, want)
		}
	}
}

func TestDropCountedOnLastQueued(t *testing.T) {
	defer goleak.VerifyNone(t)
	h := Hub[ev]{Buffer: 2, Drop: func(last *ev) { last.dropped++ }}
	release := make(chan struct{})
	got := make(chan ev, 10)
	var once sync.Once
	started := make(chan struct{})
	h.Subscribe(func(ev) bool { return true }, func(e ev) { once.Do(func() { close(started) }); <-release; got <- e })
	h.Publish(ev{n: 0})
	<-started // the first event is in the subscriber's hands
	for i := 1; i <= 6; i++ {
		h.Publish(ev{n: i})
	}
	close(release)
	a, b, c := <-got, <-got, <-got
	if a.n != 0 || b.n != 1 || c.n != 2 || c.dropped != 4 {
		t.Errorf("delivered %+v %+v %+v; want 0, 1, then 2 carrying 4 drops", a, b, c)
	}
	h.Close()
}

func TestPanicReportedAndCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	var panics []any
	h := Hub[ev]{Panic: func(_ ev, r any) { mu.Lock(); panics = append(panics, r); mu.Unlock() }}
	got := make(chan int, 10)
	cancel, ok := h.Subscribe(func(ev) bool { return true }, func(e ev) {
		if e.n == 1 {
			panic("boom")
		}
		got <- e.n
	})
	if !ok {
		t.Fatal("Subscribe on an open hub")
	}
	h.Publish(ev{n: 1})
	h.Publish(ev{n: 2})
	if n := <-got; n != 2 {
		t.Errorf("after a panic got %d", n)
	}
	cancel()
	cancel()
	h.Close()
	if len(panics) != 1 {
		t.Errorf("panics reported: %v", panics)
	}
	if _, ok := h.Subscribe(func(ev) bool { return true }, func(ev) {}); ok {
		t.Error("Subscribe after Close succeeded")
	}
}

// A hold taken per queued event lasts until the subscriber has been
// called with it, and holds left queued at Close are released.
func TestHoldUntilDelivered(t *testing.T) {
	defer goleak.VerifyNone(t)
	var mu sync.Mutex
	held := 0
	h := Hub[ev]{Hold: func() func() {
		mu.Lock()
		held++
		mu.Unlock()
		var once sync.Once
		return func() { once.Do(func() { mu.Lock(); held--; mu.Unlock() }) }
	}}
	gate := make(chan struct{})
	inside := make(chan int, 10)
	h.Subscribe(func(ev) bool { return true }, func(e ev) {
		inside <- e.n
		<-gate
	})
	h.Publish(ev{n: 1})
	h.Publish(ev{n: 2})
	h.Publish(ev{n: 3})
	<-inside // the first is being delivered
	mu.Lock()
	if held != 3 {
		t.Errorf("holds while delivering the first of three = %d, want 3", held)
	}
	mu.Unlock()
	gate <- struct{}{}
	<-inside
	mu.Lock()
	if held != 2 {
		t.Errorf("holds after one delivery = %d, want 2", held)
	}
	mu.Unlock()
	close(gate)
	h.Close()
	mu.Lock()
	defer mu.Unlock()
	if held != 0 {
		t.Errorf("holds after Close = %d, want 0", held)
	}
}
