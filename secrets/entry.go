package secrets

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/internal/busy"
	"github.com/strongroom/strongroom/providers"
)

// life is where an entry is in its lifecycle; failing, stale and expired
// are derived from timestamps instead.
type life int

const (
	lifePending life = iota // declared, no value yet
	lifeActive              // has held a value
	lifeRevoked
	lifeDeleted
	lifeClosed
)

// entry is one declared secret and its refresh state.
//
// A store may hold a million: what specs share is kept once (policy), and
// what few entries need is allocated when needed.
type entry struct {
	s    *Store
	name string
	ref  string
	spec *policy            // the Spec's other fields, shared among entries declared alike
	prov providers.Provider // nil for a secret made by Create without a Ref

	// Read without e.mu on the Get path; readMark is set at most once per
	// read sweep. Reads are counted through the Store's tally, so no read
	// writes to this line.
	cur      atomic.Pointer[Secret]
	staleAt  atomic.Int64  // unix ns from which reads fail with ErrStale; 0: not failing or no budget
	readMark atomic.Bool   // read since the last sweep
	reads    atomic.Uint64 // reads, fed by the Store's tally: flush it before a Load
	lastRead atomic.Int64  // unix ns of the first read after a sweep

	// Uses of a replaced version (a handle taken before a rotation, or
	// Previous) since the last rotation: rare, so off the read path's lines.
	oldReads    atomic.Uint64
	oldLastRead atomic.Int64 // unix ns

	mu           sync.Mutex
	life         life
	prev         *Secret
	prevUntil    time.Time
	flight       *flight
	queued       *flight       // a fetch to start when the one under way ends
	writes       uint64        // values installed by Write and Create: a fetch begun before one does not replace it
	settled      bool          // the first load attempt has ended
	firstDone    chan struct{} // made by a waiter before then; closed when it ends
	loadedAt     time.Time     // first value
	refreshedAt  time.Time     // last successful fetch
	rotatedAt    time.Time
	rotations    int
	failures     int // consecutive
	failingSince time.Time
	lastErr      error
	lastErrAt    time.Time
	nextRefresh  time.Time // zero: none due
	staleSent    bool
	expiredSent  bool
	stopWatch    func()
	endedAt      time.Time
	readsBy      map[string]*atomic.Uint64

	// Owned by the scheduler (under scheduler.mu).
	wake  time.Time
	index int
}

// flight is one fetch under way; every caller that needs its outcome waits
// on done.
type flight struct {
	done   chan struct{}
	err    error
	cancel context.CancelFunc
	due    time.Time // when the refresh became due: staleness counts from here
	writes uint64    // entry.writes when the fetch started
}

func newEntry(s *Store, spec Spec, p providers.Provider) *entry {
	e := &entry{s: s, name: spec.Name, ref: spec.Ref, spec: s.policyOf(spec), prov: p, index: -1}
	return e
}

// start begins watching (when the provider can) and the first load.
func (e *entry) start() {
	e.watch()
	e.fetchNow()
}

// watch asks the provider for change signals, when it can give them.
func (e *entry) watch() {
	if w, ok := e.prov.(providers.Watcher); ok {
		ctx, cancel := context.WithTimeout(context.Background(), e.spec.Refresh.Timeout)
		stop, err := w.Watch(ctx, e.ref, e.changed)
		cancel()
		if err != nil {
			e.s.log.Warn("strongroom: cannot watch secret; relying on polling and expiry",
				"secret", e.name, "error", e.wrap("watch", err, nil).Error())
		} else {
			e.mu.Lock()
			if e.life >= lifeRevoked {
				e.mu.Unlock()
				stop()
			} else {
				e.stopWatch = stop
				e.mu.Unlock()
			}
		}
	}
}

// oldRead counts a use of a replaced version at now.
func (e *entry) oldRead(now time.Time) {
	e.oldReads.Add(1)
	e.oldLastRead.Store(now.UnixNano())
}

// changed is the provider's push signal. A signal during a fetch may
// report a change that fetch did not see, so it earns one more fetch.
func (e *entry) changed() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.freshLocked()
}

// fetchNow starts a fetch unless one is under way, and returns it: for
// callers content with any fetch, such as a first read.
func (e *entry) fetchNow() *flight {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.startLocked(nil)
}

// refreshNow returns a fetch that starts no earlier than now: a new one,
// or one queued behind the fetch under way (which may have read the
// backend before the caller's change). Callers queued together share it.
func (e *entry) refreshNow() *flight {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.freshLocked()
}

func (e *entry) freshLocked() *flight {
	if e.flight == nil {
		return e.startLocked(nil)
	}
	if e.queued == nil {
		e.queued = &flight{done: make(chan struct{})}
	}
	return e.queued
}

// startLocked starts a fetch as f (a new flight when f is nil) unless one
// is under way, and returns the fetch. e.mu is held.
func (e *entry) startLocked(f *flight) *flight {
	if e.flight != nil {
		return e.flight
	}
	if f == nil {
		f = &flight{done: make(chan struct{})}
	}
	if e.life >= lifeRevoked || e.prov == nil {
		if e.prov == nil && e.life < lifeRevoked {
			f.err = nil // a generated secret has nothing to fetch
		} else {
			f.err = e.endedError("refresh")
		}
		close(f.done)
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.spec.Refresh.Timeout)
	ctx, release := busy.Hold(e.s.clock, ctx) // a virtual clock waits for the fetch
	f.cancel = cancel
	f.due = e.s.clock.Now()
	if !e.nextRefresh.IsZero() && e.nextRefresh.Before(f.due) {
		f.due = e.nextRefresh // the scheduler is late, or the clock jumped
	}
	e.armStale(f.due)
	f.writes = e.writes
	e.flight = f
	e.nextRefresh = time.Time{}
	e.s.bg.Add(1)
	go e.run(ctx, f, release)
	return f
}

func (e *entry) run(ctx context.Context, f *flight, release func()) {
	defer e.s.bg.Done()
	defer release()
	ctx, span := e.s.tel.startFetch(ctx, e)
	v, err := e.prov.Fetch(ctx, e.ref)
	f.cancel()
	if ended := e.endedNow("refresh"); ended != nil {
		// Revoked, deleted or closed while fetching (which also cancels
		// the fetch): nothing to install, no failure to record.
		v.Wipe()
		err = ended
	} else {
		err = e.apply(v, err, f)
	}
	span.end(err)
	e.mu.Lock()
	f.err = err
	e.flight = nil
	if q := e.queued; q != nil {
		e.queued = nil
		e.startLocked(q)
	} else {
		e.reschedule() // the refresh deadline counts again now that no fetch is under way
	}
	e.settle()
	e.mu.Unlock()
	close(f.done)
}

// settle records that the first load attempt has ended, and wakes those
// waiting for it. e.mu is held.
func (e *entry) settle() {
	if !e.settled {
		e.settled = true
		if e.firstDone != nil {
			close(e.firstDone)
		}
	}
}

// unsettled returns a channel closed when the first load attempt ends, or
// nil when it has: made only when someone waits, so that a million
// entries loading do not each hold one.
func (e *entry) unsettled() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.settled {
		return nil
	}
	if e.firstDone == nil {
		e.firstDone = make(chan struct{})
	}
	return e.firstDone
}

// apply takes the outcome of fetch f: it validates, seals and swaps in a
// new value, or records the failure. It wipes v.
func (e *entry) apply(v *providers.Value, err error, f *flight) error {
	due := f.due
	defer v.Wipe() // also when a provider returns a value with an error
	now := e.s.clock.Now()
	if err != nil {
		var data []byte
		if v != nil {
			data = v.Data
		}
		return e.fail(EventRefreshFailed, e.wrap("fetch", err, data), now, due)
	}
	if v == nil {
		return e.fail(EventRefreshFailed, newError("fetch", e.name, errFetch, fmt.Errorf("provider %q returned no value", e.source())), now, due)
	}
	details, verr := e.vet(v, now)
	if verr != nil {
		return e.fail(EventRejected, verr, now, due)
	}
	if cur := e.cur.Load(); cur != nil && v.Version != "" && cur.version == v.Version && cur.expiresAt.Equal(v.ExpiresAt) {
		e.mu.Lock()
		e.refreshedAt = now
		e.recovered()
		e.nextRefresh = e.plan(now, cur)
		e.reschedule()
		e.mu.Unlock()
		e.refreshed(outcomeUnchanged)
		return nil
	}
	sec, serr := e.seal(v, now, details)
	if serr != nil {
		return e.fail(EventRefreshFailed, serr, now, due)
	}
	return e.install(sec, now, f)
}

// vet runs the spec's checks on a new value: not empty (unless allowed),
// Validate, then Expiry (when the backend gave none), then the expiry
// check, then Describe. It may set v.ExpiresAt, and returns the details
// Describe gave.
func (e *entry) vet(v *providers.Value, now time.Time) (map[string]string, *Error) {
	reject := func(err error) (map[string]string, *Error) {
		return nil, newError("validate", e.name, ErrInvalid, err)
	}
	if len(v.Data) == 0 && !e.spec.AllowEmpty {
		return reject(errEmpty)
	}
	if e.spec.Validate != nil {
		if err := hook(func() error { return e.spec.Validate(v.Data) }); err != nil {
			return reject(e.validatorError(err, v.Data))
		}
	}
	if e.spec.Expiry != nil && v.ExpiresAt.IsZero() {
		if err := hook(func() (err error) { v.ExpiresAt, err = e.spec.Expiry(v.Data); return err }); err != nil {
			return reject(e.validatorError(err, v.Data))
		}
	}
	if !v.ExpiresAt.IsZero() && !now.Before(v.ExpiresAt) {
		return reject(fmt.Errorf("value expired at %s: %w", v.ExpiresAt.UTC().Format(time.RFC3339), ErrExpired))
	}
	var details map[string]string
	if e.spec.Describe != nil {
		hook(func() error { details = e.spec.Describe(v.Data); return nil })
	}
	return details, nil
}

// hook calls a function of the spec, turning a panic into an error: the
// panic value might quote the data, so it is not kept.
func hook(fn func() error) (err error) {
	defer func() {
		if recover() != nil {
			err = errValidatorPanicked
		}
	}()
	return fn()
}

var (
	errValidatorPanicked error = &ValueError{Reason: "Validate, Expiry or Describe panicked (panic value withheld)"}
	errEmpty             error = &ValueError{Reason: "empty value (set Spec.AllowEmpty to accept one)"}
)

// seal makes a handle for v.
func (e *entry) seal(v *providers.Value, now time.Time, details map[string]string) (*Secret, *Error) {
	sec := &Secret{
		version: v.Version, expiresAt: v.ExpiresAt, createdAt: v.CreatedAt, loadedNS: now.UnixNano(), entry: e,
	}
	sec.size = uint32(len(v.Data))
	if err := e.s.guard.SealTo(&sec.sealed, v.Data); err != nil {
		return nil, classify("seal", e.name, err)
	}
	if len(details) > 0 || len(v.Labels) > 0 {
		sec.extra = &secretExtra{details: details, labels: maps.Clone(v.Labels)}
	}
	if !v.ExpiresAt.IsZero() {
		sec.expiresNS = v.ExpiresAt.UnixNano()
	}
	return sec, nil
}

// install makes sec the current version.
func (e *entry) install(sec *Secret, now time.Time, fetched *flight) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.life >= lifeRevoked {
		err := e.endedError("refresh")
		sec.destroy(newError("use", e.name, ErrDestroyed, err))
		return err
	}
	if fetched == nil {
		e.writes++
	} else if fetched.writes != e.writes {
		// A write was installed while this fetch ran: what the fetch read
		// may predate it, and must not replace it. The write's own change
		// signal, if the backend gives one, fetches again.
		sec.destroy(newError("use", e.name, ErrDestroyed, errSuperseded))
		e.refreshedAt = now
		e.nextRefresh = e.plan(now, e.cur.Load())
		e.reschedule()
		return nil
	}
	old := e.cur.Swap(sec)
	ev := Event{Kind: EventLoaded, Secret: e.name, Version: sec.version, ExpiresAt: sec.expiresAt, Time: now}
	if old != nil {
		old.replaced.Store(true)
		e.oldReads.Store(0)
		e.oldLastRead.Store(0)
		ev.Kind, ev.PreviousVersion = EventRotated, old.version
		if e.prev != nil { // its window is cut short: one previous version at a time
			e.prev.destroy(newError("use", e.name, ErrDestroyed, errSuperseded))
			e.prev = nil
		}
		if e.spec.Overlap > 0 {
			e.prev, e.prevUntil = old, now.Add(e.spec.Overlap)
		} else {
			old.destroy(newError("use", e.name, ErrDestroyed, errSuperseded))
		}
		e.rotatedAt = now
		e.rotations++
	} else if e.loadedAt.IsZero() {
		e.loadedAt = now
	}
	e.life = lifeActive
	e.refreshedAt = now
	e.recovered()
	e.nextRefresh = e.plan(now, sec)
	e.reschedule()
	e.s.hub.Publish(ev)
	if old != nil {
		e.refreshed(outcomeRotated)
		e.s.log.Info("strongroom: secret rotated", "secret", e.name, "version", sec.version, "previous_version", old.version)
	} else {
		e.refreshed(outcomeLoaded)
		e.s.log.Info("strongroom: secret loaded", "secret", e.name, "version", sec.version, "source", e.source())
	}
	return nil
}

var errSuperseded = fmt.Errorf("superseded by a newer version")

// recovered clears the failure state after a good fetch. e.mu is held.
func (e *entry) recovered() {
	e.failures = 0
	e.failingSince = time.Time{}
	e.staleAt.Store(0)
	e.staleSent, e.expiredSent = false, false
}

// fail records a failed or rejected fetch, due since due, and schedules
// a retry.
func (e *entry) fail(kind EventKind, err *Error, now, due time.Time) error {
	e.mu.Lock()
	e.failures++
	e.lastErr, e.lastErrAt = err, now
	if e.failingSince.IsZero() {
		e.failingSince = due
		e.armStale(due)
	}
	if e.life < lifeRevoked {
		e.nextRefresh = now.Add(e.backoff())
		e.reschedule()
	}
	e.s.hub.Publish(Event{Kind: kind, Secret: e.name, Time: now, Err: err})
	failures := e.failures
	e.mu.Unlock()
	if kind == EventRejected {
		e.refreshed(outcomeRejected)
	} else {
		e.refreshed(outcomeFailed)
	}
	e.s.log.Warn("strongroom: refresh failed; keeping the last good value", "secret", e.name,
		"event", kind.String(), "consecutive_failures", failures, "error", err.Error())
	return err
}

// armStale starts the staleness budget from due, unless it runs already:
// a refresh is due, and the value in service counts as stale MaxStale
// later unless a refresh succeeds first (recovered clears it). Armed when
// a fetch starts, the budget runs out on time even while the fetch hangs.
// e.mu is held.
func (e *entry) armStale(due time.Time) {
	if e.spec.MaxStale > 0 && e.staleAt.Load() == 0 && e.cur.Load() != nil {
		e.staleAt.Store(due.Add(e.spec.MaxStale).UnixNano())
	}
}

// backoff is the wait before the next attempt after e.failures failures:
// full jitter over an exponential bound. e.mu is held.
func (e *entry) backoff() time.Duration {
	return e.s.rand.Backoff(e.failures, e.spec.Refresh.MinBackoff, e.spec.Refresh.MaxBackoff)
}

// plan returns when sec should next be refreshed; zero for never. e.mu is held.
func (e *entry) plan(now time.Time, sec *Secret) time.Time {
	if e.prov == nil {
		return time.Time{} // generated: there is nothing to fetch
	}
	r := e.spec.Refresh
	var next time.Time
	if !sec.expiresAt.IsZero() {
		life := sec.expiresAt.Sub(now)
		next = now.Add(time.Duration(float64(life)*r.Ahead) - e.s.rand.Upto(time.Duration(float64(life)*r.Jitter)))
	}
	if r.Interval > 0 {
		poll := now.Add(r.Interval - e.s.rand.Upto(time.Duration(float64(r.Interval)*r.Jitter)))
		if next.IsZero() || poll.Before(next) {
			next = poll
		}
	}
	// A backend that keeps serving the same value as its expiry nears
	// would otherwise be asked again at ever shorter intervals (two thirds
	// of what is left, each time): refreshes are at least a tenth of
	// MinBackoff apart.
	if floor := now.Add(r.MinBackoff / 10); !next.IsZero() && next.Before(floor) {
		next = floor
	}
	return next
}

// reschedule tells the scheduler the entry's next deadline. e.mu is held.
func (e *entry) reschedule() {
	var t time.Time
	earliest := func(c time.Time) {
		if !c.IsZero() && (t.IsZero() || c.Before(t)) {
			t = c
		}
	}
	if e.flight == nil {
		earliest(e.nextRefresh)
	}
	if e.prev != nil {
		earliest(e.prevUntil)
	}
	if sa := e.staleAt.Load(); sa != 0 && !e.staleSent {
		earliest(time.Unix(0, sa))
	}
	if cur := e.cur.Load(); cur != nil && !e.expiredSent {
		earliest(cur.expiresAt)
	}
	if e.life >= lifeRevoked {
		t = time.Time{}
	}
	e.s.sched.set(e, t)
}

// tick handles every deadline of e that has come: the end of an overlap
// window, a spent staleness budget, an expiry, a due refresh.
func (e *entry) tick(now time.Time) {
	e.mu.Lock()
	if e.prev != nil && !now.Before(e.prevUntil) {
		e.prev.destroy(newError("use", e.name, ErrDestroyed, errSuperseded))
		e.prev = nil
	}
	if sa := e.staleAt.Load(); sa != 0 && !e.staleSent && now.UnixNano() >= sa {
		e.staleSent = true
		err := e.staleError("refresh", now)
		e.s.hub.Publish(Event{Kind: EventStale, Secret: e.name, Time: now, Err: err})
		e.s.log.Error("strongroom: staleness budget spent; reads now fail", "secret", e.name, "error", err.Error())
	}
	if cur := e.cur.Load(); cur != nil && !e.expiredSent && !cur.expiresAt.IsZero() && !now.Before(cur.expiresAt) {
		e.expiredSent = true
		e.s.hub.Publish(Event{Kind: EventExpired, Secret: e.name, Version: cur.version, ExpiresAt: cur.expiresAt, Time: now})
		e.s.log.Error("strongroom: secret expired", "secret", e.name, "version", cur.version)
	}
	due := e.flight == nil && !e.nextRefresh.IsZero() && !now.Before(e.nextRefresh)
	e.reschedule()
	e.mu.Unlock()
	if due {
		e.fetchNow()
	}
}

// get is the read path shared by Store.Get and View.Get. It reads the
// clock only for a value that expires or a secret whose refreshes fail.
func (e *entry) get(ctx context.Context, consumer string, byConsumer *atomic.Uint64) (*Secret, error) {
	sec := e.cur.Load()
	if sec == nil {
		var err error
		if sec, err = e.first(ctx); err != nil {
			return nil, err
		}
	}
	if sa := e.staleAt.Load(); sa != 0 || sec.expiresNS != 0 {
		now := e.s.clock.Now()
		if sec.expiresNS != 0 && now.UnixNano() >= sec.expiresNS {
			return nil, newError("get", e.name, ErrExpired, fmt.Errorf("version %s expired at %s",
				sec.version, sec.expiresAt.UTC().Format(time.RFC3339)))
		}
		if sa != 0 && now.UnixNano() >= sa {
			if err := e.staleNow("get", now); err != nil {
				return nil, err
			}
		}
	}
	e.counted(sec, consumer, byConsumer)
	return sec, nil
}

// counted records a read of sec: counters, last-read time, audit record.
func (e *entry) counted(sec *Secret, consumer string, byConsumer *atomic.Uint64) {
	e.s.tally.Add(&e.reads)
	if byConsumer != nil {
		e.s.tally.Add(byConsumer)
	}
	if !e.readMark.Load() {
		e.markRead()
	}
	if e.s.opts.AuditReads {
		e.s.log.Info("strongroom: secret read", "secret", e.name, "consumer", consumer, "version", sec.version)
	}
}

// markRead records the time of the first read since the last read sweep,
// so that LastRead costs a clock read per secret per sweep, not per read.
func (e *entry) markRead() {
	if e.readMark.CompareAndSwap(false, true) {
		now := e.s.clock.Now().UnixNano()
		e.lastRead.Store(now)
		if !e.s.sweepDue.Load() {
			e.s.sweepFrom.Store(now)
			if e.s.sweepDue.CompareAndSwap(false, true) {
				e.s.sched.poke()
			}
		}
	}
}

// staleError explains a spent staleness budget. e.mu is held.
func (e *entry) staleError(op string, now time.Time) error {
	since := time.Unix(0, e.staleAt.Load()).Add(-e.spec.MaxStale)
	if e.failures == 0 || e.lastErr == nil {
		return newError(op, e.name, ErrStale, fmt.Errorf("no refresh has completed in the %s since one was due, over the %s budget (a fetch is under way)",
			now.Sub(since).Round(time.Millisecond), e.spec.MaxStale))
	}
	return newError(op, e.name, ErrStale, fmt.Errorf("refreshes failing for %s, over the %s budget; last error: %v",
		now.Sub(since).Round(time.Millisecond), e.spec.MaxStale, e.lastErr))
}

// staleNow returns the staleness error when the budget is spent at now,
// and nil otherwise.
func (e *entry) staleNow(op string, now time.Time) error {
	if sa := e.staleAt.Load(); sa == 0 || now.UnixNano() < sa {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if sa := e.staleAt.Load(); sa == 0 || now.UnixNano() < sa {
		return nil // recovered meanwhile
	}
	return e.staleError(op, now)
}

// first waits for the first value.
func (e *entry) first(ctx context.Context) (*Secret, error) {
	e.mu.Lock()
	if e.life >= lifeRevoked {
		defer e.mu.Unlock()
		return nil, e.endedError("get")
	}
	if sec := e.cur.Load(); sec != nil { // loaded while we took the lock
		e.mu.Unlock()
		return sec, nil
	}
	f := e.flight
	lastErr := e.lastErr
	e.mu.Unlock()
	if f == nil {
		if lastErr != nil {
			return nil, lastErr
		}
		f = e.fetchNow()
	}
	if err := e.wait(ctx, "get", f); err != nil {
		return nil, err
	}
	if sec := e.cur.Load(); sec != nil {
		return sec, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return nil, e.endedError("get")
}

// wait waits for f or ctx.
func (e *entry) wait(ctx context.Context, op string, f *flight) error {
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return newError(op, e.name, errFetch, fmt.Errorf("waiting for the fetch: %w", ctx.Err()))
	}
}

// ready waits for the first load attempt.
func (e *entry) ready(ctx context.Context) error {
	if ch := e.unsettled(); ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return newError("ready", e.name, errFetch, fmt.Errorf("waiting for the first load: %w", ctx.Err()))
		}
	}
	if e.cur.Load() != nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.life == lifeRevoked || e.life == lifeDeleted:
		return nil // ended on purpose: nothing to wait for
	case e.lastErr != nil:
		return e.lastErr
	}
	return e.endedError("ready")
}

// previous returns the superseded version while its overlap lasts.
func (e *entry) previous() (*Secret, error) {
	now := e.s.clock.Now()
	e.mu.Lock()
	prev := e.prev
	if prev == nil || !now.Before(e.prevUntil) {
		e.mu.Unlock()
		return nil, newError("previous", e.name, ErrNotFound, fmt.Errorf("no previous version within its overlap window"))
	}
	if sa := e.staleAt.Load(); sa != 0 && now.UnixNano() >= sa {
		defer e.mu.Unlock()
		return nil, e.staleError("previous", now)
	}
	e.mu.Unlock()
	e.counted(prev, "", nil)
	return prev, nil
}

// endedError explains why an entry has no value. e.mu is held.
func (e *entry) endedError(op string) error {
	switch e.life {
	case lifeRevoked:
		return newError(op, e.name, ErrRevoked, nil)
	case lifeDeleted:
		return newError(op, e.name, ErrNotFound, fmt.Errorf("deleted at %s", e.endedAt.UTC().Format(time.RFC3339)))
	case lifeClosed:
		return newError(op, e.name, ErrClosed, nil)
	}
	if e.lastErr != nil {
		return e.lastErr
	}
	return newError(op, e.name, ErrNotFound, fmt.Errorf("no value loaded"))
}

func (e *entry) terminated() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.life == lifeRevoked || e.life == lifeDeleted
}

// endedNow returns endedError when e is revoked, deleted or closed, and
// nil otherwise.
func (e *entry) endedNow(op string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.life >= lifeRevoked {
		return e.endedError(op)
	}
	return nil
}

// end moves e to a terminal state: it stops refreshing and watching, and
// wipes the current and previous versions at once (a version some Use is
// reading is wiped as that Use returns). It returns the versions it wiped,
// current first, or nil if e had ended already.
func (e *entry) end(to life, why *Error, ev Event) []string {
	return e.endInto(to, why, ev, nil)
}

// endInto is end, with the versions it makes gone added to batch for the
// caller to wipe (Store.Close: one retirement for all, not one each) when
// batch is not nil.
func (e *entry) endInto(to life, why *Error, ev Event, batch *[]*Secret) []string {
	e.mu.Lock()
	if e.life >= lifeRevoked {
		e.mu.Unlock()
		return nil
	}
	e.life = to
	e.endedAt = e.s.clock.Now()
	if e.flight != nil {
		e.flight.cancel()
	}
	stop := e.stopWatch
	e.stopWatch = nil
	e.nextRefresh = time.Time{}
	e.recovered() // a failure in progress ends with the secret
	if to == lifeClosed {
		// Close has stopped the scheduler, and closes the providers
		// next, which ends every watch (the providers.Watcher contract;
		// a signal before then finds the entry closed): a million
		// entries need not each be unscheduled and unwatched one by one.
		stop = nil
	} else {
		e.reschedule()
	}
	var versions []string
	for _, sec := range []*Secret{e.cur.Swap(nil), e.prev} {
		switch {
		case sec == nil:
			continue
		case batch == nil:
			sec.destroy(why)
		case sec.gone.CompareAndSwap(nil, why):
			*batch = append(*batch, sec)
		}
		versions = append(versions, sec.version)
	}
	e.prev = nil
	if ev.Kind != 0 {
		ev.Time = e.endedAt
		if len(versions) > 0 {
			ev.Version = versions[0]
		}
		e.s.hub.Publish(ev)
	}
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
	return versions
}

// shutdown stops watching and fetching, at Close, adding the versions to
// wipe to batch.
func (e *entry) shutdown(batch *[]*Secret) {
	e.endInto(lifeClosed, newError("use", e.name, ErrDestroyed, ErrClosed), Event{}, batch)
}

// source is the provider's scheme, or "generated" for a secret made by
// Create without a reference.
func (e *entry) source() string {
	if e.prov == nil {
		return "generated"
	}
	return providers.Scheme(e.ref)
}

// counterFor returns the read counter of consumer.
func (e *entry) counterFor(consumer string) *atomic.Uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.readsBy == nil {
		e.readsBy = make(map[string]*atomic.Uint64)
	}
	c := e.readsBy[consumer]
	if c == nil {
		c = new(atomic.Uint64)
		e.readsBy[consumer] = c
	}
	return c
}
