package providertest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// recorder is a changed callback that signals each call on a channel and
// notes the calls that break the Watcher contract. It never calls t, so a
// provider that calls it after the test has ended does no harm.
type recorder struct {
	calls   chan struct{} // capacity 1: a pending call
	running atomic.Int32
	overlap atomic.Bool  // a call began while another was running
	retired atomic.Bool  // set once stop or Close has returned
	late    atomic.Int32 // calls begun after retired was set
}

func newRecorder() *recorder {
	return &recorder{calls: make(chan struct{}, 1)}
}

func (r *recorder) changed() {
	if r.running.Add(1) > 1 {
		r.overlap.Store(true)
	}
	if r.retired.Load() {
		r.late.Add(1)
	}
	select {
	case r.calls <- struct{}{}:
	default:
	}
	r.running.Add(-1)
}

// drain forgets a call already signalled, so that wait sees a new one.
func (r *recorder) drain() {
	select {
	case <-r.calls:
	default:
	}
}

// wait stops the test unless changed is called within eventually.
func (r *recorder) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-r.calls:
	case <-time.After(eventually):
		t.Fatalf("providertest: changed was not called within %v %s", eventually, what)
	}
}

// check reports the calls that broke the contract.
func (r *recorder) check(t *testing.T, what string) {
	t.Helper()
	if r.overlap.Load() {
		t.Errorf("providertest: changed was called concurrently with itself")
	}
	if n := r.late.Load(); n > 0 {
		t.Errorf("providertest: changed was called %d times after %s returned", n, what)
	}
}

// watch starts a watch of name that calls r.changed.
func (f *fixture) watch(name string, r *recorder) (stop func()) {
	f.t.Helper()
	w := as[providers.Watcher](f.t, f.p)
	stop, err := w.Watch(f.t.Context(), f.ref(name), r.changed)
	if err != nil {
		f.checkErr(err, "Watch")
		f.t.Fatalf("providertest: Watch(%q): %v", f.ref(name), err)
	}
	return stop
}

func testWatch(t *testing.T, h Harness) {
	t.Run("Signal", func(t *testing.T) {
		f := open(t, h)
		f.set("alpha")
		r := newRecorder()
		defer f.watch("alpha", r)()
		for _, step := range []struct {
			what   string
			change func()
		}{
			{"after Set", func() { f.set("alpha") }},
			{"after Remove", func() { f.remove("alpha") }},
			{"after Set re-created the secret", func() { f.set("alpha") }},
		} {
			r.drain()
			step.change()
			r.wait(t, step.what)
		}
		r.check(t, "stop")
	})

	t.Run("Stop", func(t *testing.T) {
		f := open(t, h)
		f.set("alpha")
		stopped, kept := newRecorder(), newRecorder()
		stop := f.watch("alpha", stopped)
		defer f.watch("alpha", kept)()
		within(t, "stop", stop)
		stopped.retired.Store(true)
		within(t, "a second stop", stop)
		kept.drain()
		f.set("alpha")
		kept.wait(t, "after Set, for the watch that was not stopped")
		time.Sleep(quiet) // give a wrong call to the stopped watch time to show up
		stopped.check(t, "stop")
		kept.check(t, "stop")
	})

	t.Run("Close", func(t *testing.T) {
		f := open(t, h)
		f.set("alpha")
		r := newRecorder()
		stop := f.watch("alpha", r)
		if err := f.close("Close"); err != nil {
			t.Errorf("providertest: Close: %v", err)
		}
		r.retired.Store(true)
		f.set("alpha")
		time.Sleep(quiet) // give a wrong call after Close time to show up
		r.check(t, "Close")
		within(t, "stop after Close", stop)
	})
}
