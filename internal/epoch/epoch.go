// Package epoch lets readers use shared objects without writing to any
// line another core reads, and lets the owner of an object wipe it once no
// reader can still be using it: a two-epoch scheme in the manner of
// sleepable RCU.
//
// A reader brackets each use with [Domain.Enter] and [Domain.Leave], and
// between them checks that the object is still live (a flag its owner sets
// before retiring it). Enter and Leave add to a counter of one stripe of
// the domain, chosen by package stripe, so that readers on
// different cores touch different cache lines. [Domain.Retire] queues a
// function that runs once every reader that could have seen the object
// live has left: a background goroutine waits for the stripes of the
// next epoch to drain (late readers of an earlier epoch), advances the
// epoch, waits for the stripes of the epoch it left to drain, then runs
// what was retired before it advanced.
//
// Why the check after Enter makes that enough: the owner marks the object
// gone before Retire; a reader that counted itself in an epoch the waits
// saw as empty did so after they looked, so after the mark, and its check
// fails; a reader counted before they looked is waited for.
package epoch

import (
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"

	"github.com/strongroom/strongroom/internal/stripe"
)

// Domain is a set of readers and the functions that wait for them. The
// zero Domain is not usable; call New.
type Domain struct {
	stripes []counts
	epoch   atomic.Uint64

	mu      sync.Mutex
	queue   []func() // retired, waiting for a grace period
	running bool     // the reclaimer goroutine runs
	idle    sync.Cond
}

type counts struct {
	n [2]atomic.Int64 // readers in, by epoch parity
	_ cpu.CacheLinePad
}

// Token is what Enter returns and Leave takes.
type Token uintptr

// New returns a domain with stripe.Count() stripes.
func New() *Domain {
	d := &Domain{stripes: make([]counts, stripe.Count())}
	d.idle.L = &d.mu
	return d
}

// Enter counts the calling goroutine in. The caller then checks that the
// object it is about to use is live, and calls Leave with the token when
// done with it (also when the check fails).
func (d *Domain) Enter() Token {
	i := uintptr(stripe.Pick(len(d.stripes)))
	e := uintptr(d.epoch.Load() & 1)
	d.stripes[i].n[e].Add(1)
	return Token(i<<1 | e)
}

// Leave counts a reader out.
func (d *Domain) Leave(t Token) {
	d.stripes[t>>1].n[t&1].Add(-1)
}

// Retire runs fn once every reader in when Retire was called has left, on
// the domain's reclaimer goroutine (started when needed; it returns when
// nothing is left to run). fn must not call Enter's reader back or wait
// for it.
func (d *Domain) Retire(fn func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queue = append(d.queue, fn)
	if !d.running {
		d.running = true
		go d.reclaim()
	}
}

// Wait returns once every function retired before it has run.
func (d *Domain) Wait() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.running {
		d.idle.Wait()
	}
}

// reclaim runs grace periods until the queue is empty.
func (d *Domain) reclaim() {
	for {
		d.mu.Lock()
		batch := d.queue
		d.queue = nil
		if len(batch) == 0 {
			d.running = false
			d.idle.Broadcast()
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		e := d.epoch.Load()
		d.drain((e + 1) & 1) // late readers of the epoch before this one
		d.epoch.Store(e + 1)
		d.drain(e & 1)
		for _, fn := range batch {
			fn()
		}
	}
}

// drain waits until no reader is counted in epochs of parity p, spinning
// briefly, then sleeping longer and longer (up to a millisecond): readers
// hold their count for as long as a Use's function runs.
func (d *Domain) drain(p uint64) {
	for spin := 0; ; spin++ {
		var in int64
		for i := range d.stripes {
			in += d.stripes[i].n[p].Load()
		}
		if in == 0 {
			return
		}
		switch {
		case spin < 16:
			runtime.Gosched()
		default:
			time.Sleep(min(time.Duration(spin-15)*10*time.Microsecond, time.Millisecond))
		}
	}
}

// Format prints the type's name only: fmt would otherwise read counters
// other goroutines write.
func (d *Domain) Format(f fmt.State, _ rune) { io.WriteString(f, "epoch.Domain") }
