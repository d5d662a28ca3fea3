package memory_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
)

var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// firing records the order in which timers fired and the clock's time as
// each one saw it.
type firing struct {
	mu    sync.Mutex
	names []string
	times []time.Duration // since epoch
}

func (r *firing) timer(c *memory.Clock, name string) func() {
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.names = append(r.names, name)
		r.times = append(r.times, c.Now().Sub(epoch))
	}
}

func TestClockFiresInDeadlineOrder(t *testing.T) {
	c := memory.NewClock(epoch)
	var r firing
	c.AfterFunc(3*time.Second, r.timer(c, "3s"))
	c.AfterFunc(time.Second, r.timer(c, "1s"))
	c.AfterFunc(2*time.Second, r.timer(c, "2s-first"))
	c.AfterFunc(2*time.Second, r.timer(c, "2s-second"))
	c.AfterFunc(10*time.Second, r.timer(c, "10s"))

	c.Advance(2500 * time.Millisecond)
	if got, want := r.names, []string{"1s", "2s-first", "2s-second"}; !slices.Equal(got, want) {
		t.Errorf("after 2.5s fired %v, want %v", got, want)
	}
	if got, want := c.Now().Sub(epoch), 2500*time.Millisecond; got != want {
		t.Errorf("Now after Advance = epoch+%v, want epoch+%v", got, want)
	}
	if got, want := c.Timers(), 2; got != want {
		t.Errorf("Timers() = %d, want %d", got, want)
	}
	c.Advance(time.Hour)
	if got, want := r.names, []string{"1s", "2s-first", "2s-second", "3s", "10s"}; !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	wantTimes := []time.Duration{time.Second, 2 * time.Second, 2 * time.Second, 3 * time.Second, 10 * time.Second}
	if !slices.Equal(r.times, wantTimes) {
		t.Errorf("Now() seen by the timers = %v, want their deadlines %v", r.times, wantTimes)
	}
	if got := c.Timers(); got != 0 {
		t.Errorf("Timers() = %d after all fired, want 0", got)
	}
}

func TestClockTimersScheduledDuringAdvance(t *testing.T) {
	c := memory.NewClock(epoch)
	var r firing
	c.AfterFunc(time.Second, func() {
		r.timer(c, "1s")()
		c.AfterFunc(time.Second, r.timer(c, "1s+1s"))     // due inside the window
		c.AfterFunc(0, r.timer(c, "1s+0"))                // due at once
		c.AfterFunc(10*time.Second, r.timer(c, "1s+10s")) // beyond it
	})
	c.AfterFunc(1500*time.Millisecond, r.timer(c, "1.5s"))
	c.Advance(5 * time.Second)
	if got, want := r.names, []string{"1s", "1s+0", "1.5s", "1s+1s"}; !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	if got, want := r.times, []time.Duration{time.Second, time.Second, 1500 * time.Millisecond, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("Now() seen by the timers = %v, want %v", got, want)
	}
	if got := c.Timers(); got != 1 {
		t.Errorf("Timers() = %d, want 1 (the timer due at 11s)", got)
	}
}

func TestClockStop(t *testing.T) {
	c := memory.NewClock(epoch)
	var fired atomic.Int32
	stop := c.AfterFunc(time.Second, func() { fired.Add(1) })
	keep := c.AfterFunc(time.Second, func() { fired.Add(10) })
	if !stop() {
		t.Error("first stop of a pending timer = false, want true")
	}
	if stop() {
		t.Error("second stop = true, want false")
	}
	c.Advance(time.Second)
	if got := fired.Load(); got != 10 {
		t.Errorf("fired = %d, want 10 (only the timer not stopped)", got)
	}
	if keep() {
		t.Error("stop after the timer fired = true, want false")
	}
}

func TestClockDueTimerWaitsForAdvance(t *testing.T) {
	c := memory.NewClock(epoch)
	var fired atomic.Int32
	c.AfterFunc(0, func() { fired.Add(1) })
	c.AfterFunc(-time.Second, func() { fired.Add(1) })
	if got := fired.Load(); got != 0 {
		t.Fatalf("a due timer fired inside AfterFunc (%d calls)", got)
	}
	c.Advance(0)
	if got := fired.Load(); got != 2 {
		t.Errorf("after Advance(0) %d due timers fired, want 2", got)
	}
	if got := c.Now(); !got.Equal(epoch) {
		t.Errorf("Now() = %v, want %v: due timers must not move the clock", got, epoch)
	}
}

func TestClockSetAndNegativeAdvance(t *testing.T) {
	c := memory.NewClock(epoch)
	var fired atomic.Int32
	c.AfterFunc(time.Minute, func() { fired.Add(1) })

	c.Advance(-time.Hour)
	if got := c.Now(); !got.Equal(epoch) {
		t.Errorf("Advance(-1h) moved the clock to %v", got)
	}
	c.Set(epoch.Add(-time.Hour))
	if got, want := c.Now(), epoch.Add(-time.Hour); !got.Equal(want) || fired.Load() != 0 {
		t.Errorf("Set back: Now() = %v, fired %d; want %v, 0", got, fired.Load(), want)
	}
	c.Advance(time.Hour + 59*time.Second)
	if fired.Load() != 0 {
		t.Error("the timer fired before its deadline after the clock was set back")
	}
	c.Set(epoch.Add(time.Minute))
	if fired.Load() != 1 {
		t.Error("Set to the deadline did not fire the timer")
	}
}

func TestClockZeroValue(t *testing.T) {
	var c memory.Clock
	fired := false
	c.AfterFunc(time.Second, func() { fired = true })
	c.Advance(time.Second)
	if !fired || !c.Now().Equal(time.Time{}.Add(time.Second)) {
		t.Errorf("zero Clock: fired = %v, Now() = %v", fired, c.Now())
	}
}

func TestClockNilFuncPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("AfterFunc(d, nil) did not panic")
		}
	}()
	memory.NewClock(epoch).AfterFunc(time.Second, nil)
}

// TestClockConcurrent schedules and stops timers from many goroutines while
// others advance the clock; run with -race. Every timer fires exactly once
// unless its stop reported that it prevented the call.
func TestClockConcurrent(t *testing.T) {
	const workers, perWorker = 8, 100
	c := memory.NewClock(epoch)
	var calls [workers * perWorker]atomic.Int32
	var stopped atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				n := w*perWorker + i
				stop := c.AfterFunc(time.Duration(n%17)*time.Millisecond, func() { calls[n].Add(1) })
				if i%3 == 0 && stop() {
					calls[n].Add(100) // marks a timer that must not fire
					stopped.Add(1)
				}
				_ = c.Now()
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 200 {
				c.Advance(time.Millisecond)
				_ = c.Timers()
			}
		})
	}
	wg.Wait()
	c.Advance(time.Second)
	for n := range calls {
		if got := calls[n].Load(); got != 1 && got != 100 {
			t.Fatalf("timer %d: %d calls (100: stopped; 101: stopped but fired anyway)", n, got)
		}
	}
	if stopped.Load() == 0 {
		t.Error("no stop prevented a call; the test did not exercise stop")
	}
	if got := c.Timers(); got != 0 {
		t.Errorf("Timers() = %d at the end, want 0", got)
	}
}
