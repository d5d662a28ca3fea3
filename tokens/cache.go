package tokens

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/internal/backoff"
	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/secrets"
)

// CacheOptions configure a [Cache]. A nil *CacheOptions means the defaults; every
// field's zero value selects the default its comment states.
type CacheOptions struct {
	// Ahead is the fraction of a token's lifetime (from when it was
	// obtained to its expiry) after which it is refreshed in the
	// background. Zero: 2/3. Must be in (0, 1].
	Ahead float64

	// Jitter is the fraction of the lifetime by which each refresh is
	// brought forward at random, so that many processes do not refresh
	// together. Zero: 0.1. Negative: none. Must be below Ahead.
	Jitter float64

	// MinBackoff and MaxBackoff bound the wait after a failed fetch:
	// exponential from MinBackoff, doubling per consecutive failure, capped
	// at MaxBackoff, with full jitter (a uniform draw between 0 and that
	// bound, but at least MinBackoff/10). A server's Retry-After is a
	// floor on the wait, even past MaxBackoff. Zero: 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration

	// ExpiryMargin stops the Cache handing out a token this long before
	// it expires, so that a request sent with it does not arrive after
	// its expiry, and to allow for clock skew with the issuer; it is capped
	// at a quarter of each token's lifetime. It matters only when
	// refreshes fail or lag: a token is normally replaced at Ahead of its
	// lifetime. Zero: none (a token is served until its expiry).
	ExpiryMargin time.Duration

	// Timeout bounds one fetch. Zero: 30 s.
	Timeout time.Duration

	// AssumedLifetime is the lifetime given to a token whose issuer did
	// not say when it expires. Zero: 5 min.
	AssumedLifetime time.Duration

	// IdleAfter stops refreshing the token of a Request that nobody asked
	// for in this long: when its next refresh (or retry) falls due, the
	// Cache forgets the Request, and revokes and wipes its token unless a
	// caller was given it (such a token keeps working until it expires).
	// A later call for the Request starts afresh. Idleness is recorded to
	// within a sixteenth of IdleAfter, to keep the read path free of
	// shared writes. Zero: 1 h. Negative: never (every Request ever asked
	// is refreshed until Close or Drop).
	IdleAfter time.Duration

	// KeepOnClose leaves the tokens held unrevoked when the Cache closes,
	// and a token that a fetch cut short by Close obtained all the same.
	// False: Close revokes them when the Fetcher is a [Revoker].
	KeepOnClose bool

	// RevokeTimeout bounds the revocations Close makes, and each
	// revocation of a token that arrived after its Request was dropped or
	// evicted, or after Close began. Zero: 10 s.
	RevokeTimeout time.Duration

	// Clock is the source of time: expiry, refresh and backoff. A
	// [github.com/strongroom/strongroom/providers/memory.Clock] drives a
	// Cache in tests without sleeping: each fetch the Cache starts holds
	// it (internal/busy) until the fetch's outcome is recorded, so that
	// Advance returns once the refreshes it made due have run. Nil: the
	// wall clock (the time package: inside a testing/synctest bubble, the
	// bubble's clock).
	Clock secrets.Clock

	// Random supplies the randomness for jitter and backoff (a
	// deterministic reader makes tests repeatable). It is read under a
	// lock. Nil: crypto/rand.Reader.
	Random io.Reader

	// Logger receives refresh failures and recoveries (requests, error
	// messages, never values). Nil: silent.
	Logger *slog.Logger

	// MaxLockedMemory caps the bytes of memory the Cache locks for its
	// sealing key and scratch space. Zero: 2 MiB (bounded by
	// RLIMIT_MEMLOCK unless the process holds CAP_IPC_LOCK).
	MaxLockedMemory int64

	// AllowUnlockedMemory lets NewCache succeed where no memory can be
	// locked: tokens stay sealed, but the key and scratch space may be
	// swapped to disk, and the Cache logs a warning. False: NewCache fails
	// with an error matching secrets.ErrLockedMemory.
	AllowUnlockedMemory bool
}

// Cache keeps one fresh token per [Request] (per distinct scopes and
// audience), obtained from a [Fetcher]. It refreshes each token in the
// background after CacheOptions.Ahead of its lifetime, one fetch at a time per
// request; a caller waits only when no unexpired token is held (the first
// call, or after a token expired); no caller ever gets an expired token. A
// failed fetch is retried with exponential backoff and full jitter, no
// sooner than the server's Retry-After; meanwhile the token held is served
// until it expires (less CacheOptions.ExpiryMargin), and then calls fail with
// [ErrExpired] until a fetch succeeds.
//
// The Cache hands out what the server granted: a server may grant fewer
// scopes than were asked for (RFC 6749 section 3.3), and the token is
// served all the same; [Token.Scopes] says what was granted, and a
// resource server refuses what the token does not cover.
//
// A Request nobody asks for in CacheOptions.IdleAfter is forgotten (see there).
//
// Make one with [NewCache]; it is safe for concurrent use. Close stops its
// goroutines and timers.
type Cache struct {
	f         Fetcher
	opts      CacheOptions
	k         *keeper
	log       *slog.Logger
	idleGrain int64 // ns: the last-asked time is recorded to within this

	rand *backoff.Rand // jitter and backoff, from CacheOptions.Random

	entries   sync.Map                   // request key -> *entry; reads lock nothing
	mu        sync.Mutex                 // serialises writers of entries and closed, and lateErrs and draining
	draining  map[string][]chan struct{} // request key -> quiet channels of ended entries (see entry.after)
	closed    atomic.Bool
	wg        sync.WaitGroup // fetches and evictions under way
	lateErrs  []error        // revocations of tokens that arrived during Close
	closeOnce sync.Once
	closeErr  error
}

// NewCache returns a Cache over f. It fails with ErrInvalid for a bad
// option, and with an error matching secrets.ErrLockedMemory when no
// memory can be locked and opts.AllowUnlockedMemory is false. It starts no
// goroutine until the first token is asked for.
func NewCache(f Fetcher, opts *CacheOptions) (*Cache, error) {
	if f == nil {
		return nil, invalidf("new cache", "nil Fetcher")
	}
	c := &Cache{f: f}
	if opts != nil {
		c.opts = *opts
	}
	o := &c.opts
	if o.Ahead == 0 {
		o.Ahead = 2.0 / 3
	}
	if o.Jitter == 0 {
		o.Jitter = 0.1
	}
	if o.Jitter < 0 {
		o.Jitter = 0
	}
	if !(o.Ahead > 0 && o.Ahead <= 1) || o.Jitter >= o.Ahead {
		return nil, invalidf("new cache", "Ahead must be in (0, 1] and Jitter below it")
	}
	setDefault(&o.MinBackoff, time.Second)
	setDefault(&o.MaxBackoff, 5*time.Minute)
	setDefault(&o.Timeout, 30*time.Second)
	setDefault(&o.AssumedLifetime, 5*time.Minute)
	setDefault(&o.RevokeTimeout, 10*time.Second)
	switch {
	case o.IdleAfter == 0:
		o.IdleAfter = time.Hour
	case o.IdleAfter < 0:
		o.IdleAfter = -1
	}
	c.idleGrain = int64(o.IdleAfter / 16)
	if o.MaxBackoff < o.MinBackoff {
		return nil, invalidf("new cache", "MaxBackoff %s is below MinBackoff %s", o.MaxBackoff, o.MinBackoff)
	}
	c.rand = backoff.New(o.Random)
	if c.log = o.Logger; c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	clock := o.Clock
	if clock == nil {
		clock = secrets.WallClock{}
	}
	g, err := guard.New(&guard.Options{MaxLocked: o.MaxLockedMemory, AllowUnlocked: o.AllowUnlockedMemory})
	if err != nil {
		return nil, newError("new cache", secrets.ErrLockedMemory, err)
	}
	if !g.Locked() {
		c.log.Warn("tokens: memory cannot be locked; tokens stay sealed but scratch memory and the sealing key may be swapped to disk")
	}
	c.k = newKeeper(g, clock)
	return c, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// Token returns an unexpired token for req. While one is held it returns
// at once (a [Source] from Cache.Source also skips the checking and
// normalising of req that Token does on every call, and does not
// allocate); otherwise it waits for the fetch under way (starting one if
// none is, unless the last one failed and the backoff has not passed) or
// for ctx. It fails with [ErrInvalid] for a malformed req, with
// [ErrExpired] once the token held has expired and fetches fail, with the
// fetch's error when no token was ever obtained, and with [ErrClosed] after
// Close. A call that meets a concurrent Drop (or idle eviction) of req
// goes on with a fresh fetch rather than fail.
func (c *Cache) Token(ctx context.Context, req Request) (*Token, error) {
	req, err := req.normal()
	if err != nil {
		return nil, err
	}
	key := req.key()
	for {
		e, err := c.entry(req, key)
		if err != nil {
			return nil, err
		}
		t, err := e.token(ctx)
		if err != errEntryGone {
			return t, err
		}
	}
}

// Source returns a [Source] of tokens for req from the Cache. Keeping the
// Source saves the lookup that Cache.Token makes on every call. A
// malformed req makes every call of the Source fail with [ErrInvalid].
func (c *Cache) Source(req Request) Source {
	norm, err := req.normal()
	return &cacheSource{c: c, req: norm, key: norm.key(), err: err}
}

type cacheSource struct {
	c   *Cache
	req Request
	key string
	err error // from checking req
	e   atomic.Pointer[entry]
}

func (s *cacheSource) Token(ctx context.Context) (*Token, error) {
	if s.err != nil {
		return nil, s.err
	}
	for {
		e := s.e.Load()
		if e == nil || e.dropped.Load() {
			var err error
			if e, err = s.c.entry(s.req, s.key); err != nil {
				return nil, err
			}
			s.e.Store(e)
		}
		t, err := e.token(ctx)
		if err != errEntryGone {
			return t, err
		}
	}
}

// errEntryGone tells Token and Source that the entry they asked was
// dropped or evicted meanwhile: they look the request up again. It never
// reaches a caller.
var errEntryGone = errors.New("tokens: entry dropped")

// entry returns the entry for the normalised request, making it if needed.
func (c *Cache) entry(req Request, key string) (*entry, error) {
	if e, ok := c.entries.Load(key); ok {
		return e.(*entry), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, newError("token", ErrClosed, nil)
	}
	if e, ok := c.entries.Load(key); ok {
		return e.(*entry), nil
	}
	e := newEntry(c, req, key)
	e.after = c.draining[key]
	delete(c.draining, key)
	c.entries.Store(key, e)
	return e, nil
}

// Drop forgets the token for req: it stops refreshing it, revokes it when
// the Fetcher is a [Revoker] (the error, if any, is returned), and wipes
// it, so that Use on it fails with ErrClosed (a Use under way finishes
// first; Drop does not wait for it). A fetch under way for req is
// cancelled; should it still bring a token, that token is revoked and
// wiped too. A later call for req, or one made during Drop, starts afresh,
// but its fetch first waits for the cancelled one to end (a Fetcher may
// ignore its context, and a refresh token grant already sent runs to its
// end), so that one fetch per Request runs at a time.
//
// Revocation is what ends the token at the server: a value already sent
// (in an Authorization header, or through [OAuth2TokenSource]) keeps
// working until it expires unless the Fetcher is a Revoker.
func (c *Cache) Drop(ctx context.Context, req Request) error {
	req, err := req.normal()
	if err != nil {
		return err
	}
	c.mu.Lock()
	v, ok := c.entries.LoadAndDelete(req.key())
	if ok {
		c.retire(v.(*entry))
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	t := v.(*entry).end()
	c.settle(req.key())
	if t == nil {
		return nil
	}
	err = c.revoke(ctx, t)
	t.destroy(newError("use", ErrClosed, errDropped))
	return err
}

var (
	errDropped = errors.New("token dropped")
	errEvicted = errors.New("token evicted: its request was not asked for in CacheOptions.IdleAfter")
)

// evict forgets e, whose request nobody asked for in IdleAfter, and
// revokes and wipes its token unless a caller was given it. It runs on
// e's timer, never under a lock.
func (c *Cache) evict(e *entry) {
	c.mu.Lock()
	if c.closed.Load() || !c.entries.CompareAndDelete(e.key, e) {
		c.mu.Unlock()
		return // Close or Drop ends it
	}
	c.retire(e)
	c.wg.Add(1) // under c.mu, so never after Close's Wait has begun
	c.mu.Unlock()
	defer c.wg.Done()
	t := e.end()
	c.settle(e.key)
	c.log.Info("tokens: request idle; no longer refreshed", "request", e.req.String(), "idle_after", c.opts.IdleAfter)
	if t == nil || t.handed.Load() {
		return // a caller holds it: it keeps working until it expires
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.RevokeTimeout)
	c.revoke(ctx, t)
	cancel()
	t.destroy(newError("use", ErrClosed, errEvicted))
}

// revoke revokes t through the Fetcher when it can.
func (c *Cache) revoke(ctx context.Context, t *Token) error {
	r, ok := c.f.(Revoker)
	if !ok || t.Expired(c.k.clock.Now()) {
		return nil
	}
	if err := r.Revoke(ctx, t); err != nil {
		c.log.Warn("tokens: revocation failed", "token", t, "error", err.Error())
		return err
	}
	return nil
}

// Close stops every refresh and timer, waits for the fetches under way
// (which it cancels; a token one of them obtains all the same is revoked,
// unless CacheOptions.KeepOnClose, and wiped), revokes the tokens held (unless
// CacheOptions.KeepOnClose), wipes every token and releases locked memory.
// Tokens handed out earlier fail with ErrClosed afterwards. It is
// idempotent and returns the revocation errors, joined; calls after it
// fail with ErrClosed. It waits for the Use calls under way (a Use that
// starts meanwhile, nested or not, fails with ErrClosed instead of
// waiting), so a function given to Use must not call it.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed.Store(true)
		c.mu.Unlock()
		var held []*Token
		c.entries.Range(func(k, v any) bool {
			if t := v.(*entry).end(); t != nil {
				held = append(held, t)
			}
			c.entries.Delete(k)
			return true
		})
		c.wg.Wait() // fetches revoke what they brought back before they end
		errs := c.lateErrs
		if !c.opts.KeepOnClose {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.RevokeTimeout)
			for _, t := range held {
				if err := c.revoke(ctx, t); err != nil {
					errs = append(errs, err)
				}
			}
			cancel()
		}
		c.k.close()
		for _, t := range held {
			t.destroy(newError("use", ErrClosed, nil))
		}
		c.k.guard.Close()
		if len(errs) > 0 {
			c.closeErr = newError("close", nil, errors.Join(errs...))
		}
	})
	return c.closeErr
}
