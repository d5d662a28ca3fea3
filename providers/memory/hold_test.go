package memory_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
)

// Advance does not fire the next timer, nor return, while a hold is
// taken: the work a timer starts finishes at the timer's instant.
func TestAdvanceWaitsForHolds(t *testing.T) {
	c := memory.NewClock(epoch)
	var at []time.Duration
	var done atomic.Int32
	// Each timer starts background work that ends after a real delay and
	// records the clock's time when it ends.
	start := func() {
		_, release := c.Hold(context.Background())
		go func() {
			time.Sleep(5 * time.Millisecond)
			at = append(at, c.Now().Sub(epoch))
			done.Add(1)
			release()
		}()
	}
	c.AfterFunc(time.Second, start)
	c.AfterFunc(2*time.Second, start)
	c.Advance(time.Hour)
	if done.Load() != 2 {
		t.Fatalf("Advance returned with %d of 2 pieces of work done", done.Load())
	}
	if at[0] != time.Second || at[1] != 2*time.Second {
		t.Errorf("work finished at %v, want at its timers' instants (1s, 2s)", at)
	}
}

// Wait waits for holds taken outside any timer, without moving time.
func TestWaitWithoutMovingTime(t *testing.T) {
	c := memory.NewClock(epoch)
	_, release := c.Hold(context.Background())
	var finished atomic.Bool
	go func() {
		time.Sleep(5 * time.Millisecond)
		finished.Store(true)
		release()
		release() // idempotent
	}()
	c.Wait()
	if !finished.Load() || !c.Now().Equal(epoch) {
		t.Errorf("Wait: finished %v, clock moved by %v", finished.Load(), c.Now().Sub(epoch))
	}
}

// A fetch waiting out a scripted latency with a held context sets its hold
// aside, so that Advance can move time, and holds again once woken, so that
// Advance waits for the rest of the fetch.
func TestLatencySetsHoldAside(t *testing.T) {
	c := memory.NewClock(epoch)
	p := memory.New(&memory.Options{Clock: c})
	defer p.Close()
	p.Set("k", []byte("v"), nil)
	p.SetLatency("k", time.Minute)
	ctx, release := c.Hold(context.Background())
	var got atomic.Value
	go func() {
		defer release()
		v, err := p.Fetch(ctx, memory.Ref("k"))
		if err != nil {
			got.Store(err.Error())
			return
		}
		got.Store(string(v.Data))
	}()
	// Wait for the fetch to be asleep (its timer armed), then move time.
	for c.Timers() == 0 {
		time.Sleep(time.Millisecond)
	}
	c.Advance(time.Minute)
	if g, _ := got.Load().(string); g != "v" {
		t.Errorf("after Advance past the latency, the fetch returned %q", g)
	}
}

// A Set signals the watches; Wait returns after the changed calls it caused.
func TestWaitForWatchSignal(t *testing.T) {
	c := memory.NewClock(epoch)
	p := memory.New(&memory.Options{Clock: c})
	defer p.Close()
	var calls atomic.Int32
	stop, err := p.Watch(context.Background(), memory.Ref("k"), func() {
		time.Sleep(2 * time.Millisecond)
		calls.Add(1)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	for i := 1; i <= 20; i++ {
		p.Set("k", []byte("v"), nil)
		c.Wait()
		if calls.Load() == 0 {
			t.Fatalf("Set %d: Wait returned before the watch was called", i)
		}
	}
}
