package tokens

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/internal/busy"
)

// entry is one request's token and its refresh state.
type entry struct {
	c   *Cache
	req Request
	key string

	cur     atomic.Pointer[Token] // read without e.mu on the fast path
	dropped atomic.Bool
	asked   atomic.Int64 // when a caller last asked, Unix ns, to within c.idleGrain

	// quiet is closed once the entry has ended and no fetch of it is
	// under way; after holds the quiet channels of the entries for the
	// same request that ended before this one was made (set before it is
	// published, read only). A fetch waits for them, so that one fetch
	// per request runs at a time even across Drop and eviction.
	quiet chan struct{}
	after []chan struct{}

	mu       sync.Mutex
	flight   *flight
	stop     func() bool // cancels the pending refresh or retry timer
	gen      uint64      // identifies the pending timer
	retryAt  time.Time   // while backing off: no fetch before this
	failures int         // consecutive
	lastErr  error
}

// flight is one fetch under way; every caller that needs its outcome waits
// on done.
type flight struct {
	done   chan struct{}
	err    error
	cancel context.CancelFunc
}

func newEntry(c *Cache, req Request, key string) *entry {
	e := &entry{c: c, req: req, key: key, quiet: make(chan struct{})}
	e.asked.Store(c.k.clock.Now().UnixNano())
	return e
}

// token is the read path: atomic loads and a clock read while a token is
// held. It returns errEntryGone when the entry was dropped or evicted.
func (e *entry) token(ctx context.Context) (*Token, error) {
	now := e.c.k.clock.Now().UnixNano()
	if t := e.cur.Load(); t != nil && now < t.serveNS && !e.c.closed.Load() {
		e.touch(now)
		if !t.handed.Load() {
			// Set before reading dropped, as end sets dropped before it
			// reads handed: either an eviction sees the token handed out
			// and spares it, or this caller sees the eviction and asks
			// the new entry.
			t.handed.Store(true)
			if e.dropped.Load() {
				return nil, errEntryGone
			}
		}
		return t, nil
	}
	return e.wait(ctx)
}

// touch records that a caller asked at now. It writes only when the last
// record is a grain old, so that parallel callers do not contend for the
// cache line.
func (e *entry) touch(now int64) {
	if now-e.asked.Load() >= e.c.idleGrain {
		e.asked.Store(now)
	}
}

// idle reports whether nobody asked for the entry in CacheOptions.IdleAfter.
func (e *entry) idle(now time.Time) bool {
	after := e.c.opts.IdleAfter
	return after > 0 && now.UnixNano()-e.asked.Load() >= int64(after)
}

// wait is the slow path: no unexpired token is held.
func (e *entry) wait(ctx context.Context) (*Token, error) {
	e.touch(e.c.k.clock.Now().UnixNano())
	for {
		e.mu.Lock()
		if e.c.closed.Load() {
			e.mu.Unlock()
			return nil, newError("token", ErrClosed, nil)
		}
		if e.dropped.Load() {
			e.mu.Unlock()
			return nil, errEntryGone
		}
		now := e.c.k.clock.Now()
		held := e.cur.Load()
		if held != nil && now.UnixNano() < held.serveNS {
			held.handed.Store(true) // under e.mu: end cannot run meanwhile
			e.mu.Unlock()
			return held, nil
		}
		f := e.flight
		if f == nil {
			if !e.retryAt.IsZero() && now.Before(e.retryAt) {
				err := e.failing(held, e.lastErr, now, e.retryAt)
				e.mu.Unlock()
				return nil, err
			}
			f = e.startLocked()
		}
		e.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil && !e.dropped.Load() {
				e.mu.Lock()
				retryAt := e.retryAt
				e.mu.Unlock()
				return nil, e.failing(held, f.err, e.c.k.clock.Now(), retryAt)
			}
		case <-ctx.Done():
			return nil, newError("token", nil, fmt.Errorf("waiting for a token (%s): %w", e.req, ctx.Err()))
		}
	}
}

// failing is the error for a caller when no valid token can be had: err,
// or ErrExpired wrapping it when a token was held and has expired.
func (e *entry) failing(held *Token, err error, now, retryAt time.Time) error {
	if held == nil {
		return err
	}
	return newError("token", ErrExpired, fmt.Errorf("token for %s expires at %s (within the margin, or past) and no fresh one could be obtained (next try in %s): %w",
		e.req, held.expiresAt.UTC().Format(time.RFC3339), max(retryAt.Sub(now), 0), err))
}

// startLocked starts a fetch. e.mu is held and no fetch is under way.
func (e *entry) startLocked() *flight {
	f := &flight{done: make(chan struct{})}
	e.c.mu.Lock()
	closed := e.c.closed.Load()
	if !closed {
		e.c.wg.Add(1) // under c.mu, so never after Close's Wait has begun
	}
	e.c.mu.Unlock()
	if closed {
		f.err = newError("token", ErrClosed, nil)
		close(f.done)
		return f
	}
	e.cancelTimer()
	// A virtual clock that waits for background work (providers/memory's)
	// waits for this fetch: it is held until its outcome is recorded. The
	// context carries the hold to the Fetcher.
	ctx, release := busy.Hold(e.c.k.clock, context.Background())
	ctx, cancel := context.WithTimeout(ctx, e.c.opts.Timeout)
	f.cancel = cancel
	e.flight = f
	go e.run(ctx, f, release)
	return f
}

// run fetches, seals and installs a token, or records the failure and
// schedules a retry; then it releases its hold on the clock.
func (e *entry) run(ctx context.Context, f *flight, release func()) {
	defer release() // last: once the outcome is recorded (or the orphan revoked)
	defer e.c.wg.Done()
	var g *Grant
	err := e.settled(ctx)
	if err == nil {
		g, err = e.fetch(ctx)
	}
	f.cancel()
	now := e.c.k.clock.Now()
	var t *Token
	if err == nil {
		t, err = e.c.seal(g, e.req, now)
	}
	g.wipe()
	if err != nil {
		err = newError("fetch "+e.req.String(), nil, err)
	}

	e.mu.Lock()
	e.flight = nil
	f.err = err
	switch {
	case e.dropped.Load() || e.c.closed.Load():
		// Dropped, evicted or closed while the fetch was under way: the
		// issuer may have issued a token all the same, which nobody will
		// ever be given. Revoke it (on a context of its own: the fetch's
		// was cancelled) before wiping it. Waiters look again (Drop) or
		// fail with ErrClosed (Close).
		if err == nil {
			f.err = newError("token", ErrClosed, nil)
		}
		ended := e.dropped.Load() // then end saw this fetch under way, and left quiet to it
		e.mu.Unlock()
		close(f.done)
		if ended {
			close(e.quiet)
			e.c.settle(e.key)
		}
		if t != nil {
			e.c.orphan(t)
		}
		return
	case err == nil:
		e.cur.Store(t)
		recovered := e.failures > 0
		e.failures, e.retryAt, e.lastErr = 0, time.Time{}, nil
		e.schedule(e.plan(now, t))
		if recovered {
			e.c.log.Info("tokens: refresh recovered", "request", e.req.String(), "expires", t.expiresAt)
		}
	default:
		e.failures++
		e.lastErr = err
		wait := e.backoff(err)
		e.retryAt = now.Add(wait)
		e.schedule(wait)
		e.c.log.Warn("tokens: fetch failed; keeping the token held until it expires", "request", e.req.String(),
			"consecutive_failures", e.failures, "retry_in", wait, "error", err.Error())
	}
	e.mu.Unlock()
	close(f.done)
}

// settled waits until the fetches of the entries that ended before e was
// made for the same request (cancelled by Drop, eviction or Close) have
// ended: a Fetcher that ignores its context, or a refresh token grant
// already sent, would otherwise overlap e's fetch.
func (e *entry) settled(ctx context.Context) error {
	for _, q := range e.after {
		select {
		case <-q:
		case <-ctx.Done():
			return newError("fetch", nil, fmt.Errorf("waiting for the cancelled fetch of a dropped entry to end: %w", ctx.Err()))
		}
	}
	return nil
}

// fetch calls the Fetcher, turning a panic into an error (its value might
// quote a credential, so it is not kept).
func (e *entry) fetch(ctx context.Context) (g *Grant, err error) {
	defer func() {
		if recover() != nil {
			g, err = nil, newError("fetch", nil, errFetcherPanicked)
		}
	}()
	g, err = e.c.f.Fetch(ctx, e.req)
	if err != nil {
		g.wipe()
		return nil, err
	}
	if g == nil {
		return nil, invalidf("fetch", "Fetcher returned no token and no error")
	}
	return g, nil
}

var errFetcherPanicked = fmt.Errorf("the Fetcher panicked (panic value withheld)")

// seal makes a Token of g. It does not wipe g.
func (c *Cache) seal(g *Grant, req Request, now time.Time) (*Token, error) {
	if len(g.Value) == 0 {
		return nil, invalidf("fetch", "empty token")
	}
	exp := g.ExpiresAt
	if exp.IsZero() {
		exp = now.Add(c.opts.AssumedLifetime)
	}
	if !now.Before(exp) {
		return nil, invalidf("fetch", "token expired on arrival (at %s)", exp.UTC().Format(time.RFC3339))
	}
	sealed, err := c.k.guard.Seal(g.Value)
	if err != nil {
		return nil, newError("seal", nil, err)
	}
	granted := Request{Scopes: sortedSet(g.Scopes), Audience: sortedSet(g.Audience)}
	if g.Scopes == nil {
		granted.Scopes = req.Scopes
	}
	if g.Audience == nil {
		granted.Audience = req.Audience
	}
	typ := g.Type
	if typ == "" {
		typ = "Bearer"
	}
	margin := min(c.opts.ExpiryMargin, exp.Sub(now)/4)
	return &Token{
		typ: typ, scopes: slices.Clip(granted.Scopes), audience: slices.Clip(granted.Audience),
		expiresAt: exp, expNS: exp.UnixNano(), serveNS: exp.Add(-margin).UnixNano(), issuedAt: now, id: g.ID,
		size: len(g.Value), k: c.k, sealed: sealed,
	}, nil
}

// plan returns how long after now t should be refreshed: after Ahead of
// its lifetime, less the jitter, and no later than the end of its margin.
// e.mu is held.
func (e *entry) plan(now time.Time, t *Token) time.Duration {
	life := float64(t.expiresAt.Sub(now))
	o := e.c.opts
	d := time.Duration(life*o.Ahead) - e.c.rand.Upto(time.Duration(life*o.Jitter))
	return max(min(d, time.Duration(t.serveNS-now.UnixNano())), 0)
}

// backoff is the wait before the next attempt after e.failures failures:
// full jitter over an exponential bound, no less than the server's
// Retry-After. e.mu is held.
func (e *entry) backoff(err error) time.Duration {
	o := e.c.opts
	return max(e.c.rand.Backoff(e.failures, o.MinBackoff, o.MaxBackoff), retryAfter(err))
}

// schedule arms the timer that starts the next fetch after d. e.mu is held.
func (e *entry) schedule(d time.Duration) {
	e.cancelTimer()
	e.gen++
	gen := e.gen
	e.stop = e.c.k.clock.AfterFunc(d, func() { e.due(gen) })
}

func (e *entry) cancelTimer() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// due is the timer's callback: the refresh (or retry) time has come. A
// request nobody asked for in IdleAfter is evicted instead.
func (e *entry) due(gen uint64) {
	e.mu.Lock()
	if gen != e.gen || e.flight != nil || e.dropped.Load() || e.c.closed.Load() {
		e.mu.Unlock()
		return
	}
	e.stop = nil
	if e.idle(e.c.k.clock.Now()) {
		e.mu.Unlock()
		e.c.evict(e)
		return
	}
	e.startLocked()
	e.mu.Unlock()
}

// end stops the entry's refreshes and fetch, and returns the token it
// held (nil if none). It marks the entry dropped before it reads the
// token's handed flag (see token). It closes e.quiet unless a fetch is
// under way, which then closes it when it ends (see run).
func (e *entry) end() *Token {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dropped.Swap(true) {
		return nil
	}
	e.cancelTimer()
	e.gen++
	if e.flight != nil {
		e.flight.cancel()
	} else {
		close(e.quiet)
	}
	return e.cur.Swap(nil)
}

// retire notes that e, just removed from c.entries, may still have a
// fetch under way: the next entry for its request waits for it (and for
// those e waited for). c.mu is held.
func (c *Cache) retire(e *entry) {
	l := append(open(c.draining[e.key]), open(e.after)...)
	if c.draining == nil {
		c.draining = make(map[string][]chan struct{})
	}
	c.draining[e.key] = append(l, e.quiet)
}

// settle forgets the ended fetches for the request key, once they have
// all ended.
func (c *Cache) settle(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, ok := c.draining[key]; ok {
		if l = open(l); len(l) == 0 {
			delete(c.draining, key)
		} else {
			c.draining[key] = l
		}
	}
}

// open returns the channels of l not yet closed, in a new slice.
func open(l []chan struct{}) []chan struct{} {
	var out []chan struct{}
	for _, q := range l {
		select {
		case <-q:
		default:
			out = append(out, q)
		}
	}
	return out
}

// orphan revokes and wipes a token that arrived after its entry ended.
// Close's revocation errors include its; otherwise they are logged only.
// It runs within the fetch, so Close waits for it.
func (c *Cache) orphan(t *Token) {
	closing := c.closed.Load()
	if !(closing && c.opts.KeepOnClose) {
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.RevokeTimeout)
		err := c.revoke(ctx, t)
		cancel()
		if err != nil && closing {
			c.mu.Lock()
			c.lateErrs = append(c.lateErrs, err)
			c.mu.Unlock()
		}
	}
	t.destroy(newError("use", ErrClosed, nil))
}
