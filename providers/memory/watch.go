package memory

import (
	"context"
	"sync"
)

// watch is one Watch call: a goroutine that calls changed once per burst of
// signals, so that changed never runs concurrently with itself and a slow
// callback never blocks the provider.
type watch struct {
	changed func()
	signal  chan struct{} // capacity 1: signals coalesce while changed runs
	quit    chan struct{}
	done    chan struct{} // closed when the goroutine has returned
	once    sync.Once

	// With a [*Clock], a signal not yet taken up holds the clock, so that
	// Clock.Wait and Advance wait for the changed call it causes.
	clock   *Clock
	mu      sync.Mutex
	pending func() // the hold's release; nil when no signal is pending
}

// Watch calls changed, on a goroutine of its own, after each Set, Remove,
// Write, successful WriteIf, Delete or Revoke of the name that ref names,
// and after [Provider.Notify]; signals that arrive while changed runs
// coalesce into one more call. The name need not exist yet. The returned stop ends the watch
// and waits for a call in progress, so it must not be called from inside
// changed; once it returns, changed is not called again. stop is
// idempotent, and Close stops every watch. Watch panics if changed is nil.
func (p *Provider) Watch(ctx context.Context, ref string, changed func()) (stop func(), err error) {
	if changed == nil {
		panic("providers/memory: Watch with nil changed func")
	}
	name, err := p.lockOpen(ctx, "watch", ref)
	if err != nil {
		return nil, err
	}
	defer p.mu.Unlock()
	w := &watch{
		changed: changed,
		signal:  make(chan struct{}, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	w.clock, _ = p.clock.(*Clock)
	if p.watches[name] == nil {
		p.watches[name] = make(map[*watch]struct{})
	}
	p.watches[name][w] = struct{}{}
	go w.run()
	return func() {
		p.mu.Lock()
		delete(p.watches[name], w)
		if len(p.watches[name]) == 0 {
			delete(p.watches, name)
		}
		p.mu.Unlock()
		w.stop()
	}, nil
}

// Notify signals the watches of name without changing anything, as a backend
// that pushes a spurious change does. Together with [Provider.Corrupt] and
// [Provider.Fail] it makes a store fetch a scripted fault at once.
func (p *Provider) Notify(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.notifyLocked(name)
}

// notifyLocked signals every watch of name; it never blocks.
func (p *Provider) notifyLocked(name string) {
	for w := range p.watches[name] {
		w.notify()
	}
}

func (w *watch) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending != nil {
		return // a signal is pending; the changed call it causes is still to come
	}
	if w.clock != nil {
		_, w.pending = w.clock.Hold(context.Background())
	} else {
		w.pending = func() {}
	}
	select {
	case w.signal <- struct{}{}:
	default: // taken up, not yet marked: the call to come sees this change too
	}
}

// taken marks the pending signal as taken up, and returns its release.
func (w *watch) taken() func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.pending
	w.pending = nil
	if r == nil {
		r = func() {}
	}
	return r
}

func (w *watch) run() {
	defer close(w.done)
	defer func() { w.taken()() }() // a signal left pending at stop
	for {
		select {
		case <-w.quit:
			return
		case <-w.signal:
		}
		release := w.taken()
		select {
		case <-w.quit: // stop wins over a pending signal
			release()
			return
		default:
		}
		w.changed()
		release()
	}
}

// stop ends the goroutine and waits for it.
func (w *watch) stop() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}
