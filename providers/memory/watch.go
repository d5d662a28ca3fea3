package memory

import (
	"context"
	"sync"
)

// watch is one Watch call. A signal starts a goroutine that calls changed
// once per burst of signals and returns when none is pending, so that
// changed never runs concurrently with itself, a slow callback never blocks
// the provider, and an idle watch holds no goroutine.
type watch struct {
	changed func()
	next    *watch // the next watch of the same name
	p       *Provider

	// With a [*Clock], a signal not yet taken up holds the clock, so that
	// Clock.Wait and Advance wait for the changed call it causes.
	clock   *Clock
	mu      sync.Mutex
	pending func()        // the hold's release; nil when no signal is pending
	stopped bool          // stop has been called: changed is not called again
	idle    chan struct{} // non-nil while a goroutine runs changed; closed when it returns
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
	w := &watch{changed: changed, next: p.watches[name], p: p}
	w.clock, _ = p.clock.(*Clock)
	p.watches[name] = w
	return func() {
		p.mu.Lock()
		for at := p.watches[name]; at != nil; at = at.next {
			if at == w {
				p.unlinkLocked(name, w)
				break
			}
		}
		p.mu.Unlock()
		w.stop()
	}, nil
}

// unlinkLocked removes w from the watches of name.
func (p *Provider) unlinkLocked(name string, w *watch) {
	if p.watches[name] == w {
		if w.next == nil {
			delete(p.watches, name)
		} else {
			p.watches[name] = w.next
		}
		return
	}
	for at := p.watches[name]; at.next != nil; at = at.next {
		if at.next == w {
			at.next = w.next
			return
		}
	}
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
	for w := range p.watchesOf(name) {
		w.notify()
	}
}

// watchesOf iterates over the watches of name. p.mu is held.
func (p *Provider) watchesOf(name string) func(func(*watch) bool) {
	return func(yield func(*watch) bool) {
		for w := p.watches[name]; w != nil; w = w.next {
			if !yield(w) {
				return
			}
		}
	}
}

// notify marks a signal pending and, unless a goroutine is already
// running changed (which then calls it once more), starts one. An idle
// watch has no goroutine: a million watches cost no stacks.
func (w *watch) notify() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.pending != nil {
		return // stopped, or a signal is pending: the call to come sees this change too
	}
	if w.clock != nil {
		_, w.pending = w.clock.Hold(context.Background())
	} else {
		w.pending = func() {}
	}
	if w.idle == nil {
		w.idle = make(chan struct{})
		w.p.watchRuns.Add(1) // the caller holds p.mu and has seen it open
		go w.run()
	}
}

// run calls changed once per signal taken up, until none is pending or the
// watch is stopped (stop wins over a pending signal).
func (w *watch) run() {
	defer w.p.watchRuns.Done()
	for {
		w.mu.Lock()
		release := w.pending
		w.pending = nil
		if release == nil || w.stopped || w.p.watchesClosed.Load() {
			close(w.idle)
			w.idle = nil
			w.mu.Unlock()
			if release != nil {
				release()
			}
			return
		}
		w.mu.Unlock()
		w.changed()
		release()
	}
}

// stop ends the watch and waits for a changed call in progress.
func (w *watch) stop() {
	w.mu.Lock()
	w.stopped = true
	idle := w.idle
	w.mu.Unlock()
	if idle != nil {
		<-idle
	}
}
