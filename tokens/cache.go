package tokens

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/secrets"
)

// Options configure a [Cache]. A nil *Options means the defaults; every
// field's zero value selects the default its comment states.
type Options struct {
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

	// KeepOnClose leaves the tokens held unrevoked when the Cache closes.
	// False: Close revokes them when the Fetcher is a [Revoker].
	KeepOnClose bool

	// RevokeTimeout bounds the revocations Close makes. Zero: 10 s.
	RevokeTimeout time.Duration

	// Clock is the source of time: expiry, refresh and backoff. A
	// [github.com/strongroom/strongroom/providers/memory.Clock] drives a
	// Cache in tests without sleeping. Nil: the wall clock.
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
// background after Options.Ahead of its lifetime, one fetch at a time per
// request; a caller waits only when no unexpired token is held (the first
// call, or after a token expired); no caller ever gets an expired token. A
// failed fetch is retried with exponential backoff and full jitter, no
// sooner than the server's Retry-After; meanwhile the token held is served
// until it expires (less Options.ExpiryMargin), and then calls fail with
// [ErrExpired] until a fetch succeeds.
//
// Make one with [NewCache]; it is safe for concurrent use. Close stops its
// goroutines and timers.
type Cache struct {
	f    Fetcher
	opts Options
	k    *keeper
	log  *slog.Logger

	randMu sync.Mutex
	random io.Reader

	entries   sync.Map   // request key -> *entry; reads lock nothing
	mu        sync.Mutex // serialises writers of entries and closed
	closed    atomic.Bool
	wg        sync.WaitGroup // fetches under way
	closeOnce sync.Once
	closeErr  error
}

// NewCache returns a Cache over f. It fails with ErrInvalid for a bad
// option, and with an error matching secrets.ErrLockedMemory when no
// memory can be locked and opts.AllowUnlockedMemory is false. It starts no
// goroutine until the first token is asked for.
func NewCache(f Fetcher, opts *Options) (*Cache, error) {
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
	if o.MaxBackoff < o.MinBackoff {
		return nil, invalidf("new cache", "MaxBackoff %s is below MinBackoff %s", o.MaxBackoff, o.MinBackoff)
	}
	if c.random = o.Random; c.random == nil {
		c.random = rand.Reader
	}
	if c.log = o.Logger; c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	clock := o.Clock
	if clock == nil {
		clock = wallClock{}
	}
	g, err := guard.New(&guard.Options{MaxLocked: o.MaxLockedMemory, AllowUnlocked: o.AllowUnlockedMemory})
	if err != nil {
		return nil, newError("new cache", secrets.ErrLockedMemory, err)
	}
	if !g.Locked() {
		c.log.Warn("tokens: memory cannot be locked; tokens stay sealed but scratch memory and the sealing key may be swapped to disk")
	}
	c.k = &keeper{guard: g, clock: clock}
	return c, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// wallClock is the real clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// Token returns an unexpired token for req. While one is held it returns
// at once (a [Source] from Cache.Source also skips the normalising of req
// that Token does on every call, and does not allocate); otherwise it
// waits for the fetch under way (starting one if none is, unless the last
// one failed and the backoff has not passed) or for ctx. It fails with
// [ErrExpired] once the token held has expired and fetches fail, with the
// fetch's error when no token was ever obtained, and with [ErrClosed] after
// Close.
func (c *Cache) Token(ctx context.Context, req Request) (*Token, error) {
	e, err := c.entry(req.normal())
	if err != nil {
		return nil, err
	}
	return e.token(ctx)
}

// Source returns a [Source] of tokens for req from the Cache. Keeping the
// Source saves the lookup that Cache.Token makes on every call.
func (c *Cache) Source(req Request) Source {
	s := &cacheSource{c: c, req: req.normal()}
	return s
}

type cacheSource struct {
	c   *Cache
	req Request
	e   atomic.Pointer[entry]
}

func (s *cacheSource) Token(ctx context.Context) (*Token, error) {
	e := s.e.Load()
	if e == nil || e.dropped.Load() {
		var err error
		if e, err = s.c.entry(s.req); err != nil {
			return nil, err
		}
		s.e.Store(e)
	}
	return e.token(ctx)
}

// entry returns the entry for the normalised request, making it if needed.
func (c *Cache) entry(req Request) (*entry, error) {
	key := req.key()
	if e, ok := c.entries.Load(key); ok {
		return e.(*entry), nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return nil, newError("token", ErrClosed, nil)
	}
	e, _ := c.entries.LoadOrStore(key, &entry{c: c, req: req, key: key})
	return e.(*entry), nil
}

// Drop forgets the token for req: it stops refreshing it, revokes it when
// the Fetcher is a [Revoker] (the error, if any, is returned), and wipes
// it, so that Use on it fails with ErrClosed. A later call for req starts
// afresh. Drop waits for Use calls of the token under way.
func (c *Cache) Drop(ctx context.Context, req Request) error {
	c.mu.Lock()
	v, ok := c.entries.LoadAndDelete(req.normal().key())
	c.mu.Unlock()
	if !ok {
		return nil
	}
	t := v.(*entry).end()
	if t == nil {
		return nil
	}
	err := c.revoke(ctx, t)
	t.destroy(newError("use", ErrClosed, errDropped))
	return err
}

var errDropped = errors.New("token dropped")

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
// (which it cancels), revokes the tokens held (unless Options.KeepOnClose),
// wipes every token and releases locked memory. Tokens handed out
// earlier fail with ErrClosed afterwards. It is idempotent and returns the
// revocation errors, joined; calls after it fail with ErrClosed. It waits
// for Use calls under way, so a function given to Use must not call it.
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
		c.wg.Wait()
		var errs []error
		if !c.opts.KeepOnClose {
			ctx, cancel := context.WithTimeout(context.Background(), c.opts.RevokeTimeout)
			for _, t := range held {
				if err := c.revoke(ctx, t); err != nil {
					errs = append(errs, err)
				}
			}
			cancel()
		}
		c.k.mu.Lock()
		c.k.closed = true
		for _, t := range held {
			t.destroy(newError("use", ErrClosed, nil))
		}
		c.k.guard.Close()
		c.k.mu.Unlock()
		if len(errs) > 0 {
			c.closeErr = newError("close", nil, errors.Join(errs...))
		}
	})
	return c.closeErr
}

// jitter returns a uniform random duration in [0, d).
func (c *Cache) jitter(d float64) float64 {
	if d <= 0 {
		return 0
	}
	var b [8]byte
	c.randMu.Lock()
	_, err := io.ReadFull(c.random, b[:])
	c.randMu.Unlock()
	if err != nil {
		return d / 2
	}
	u := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
	return d * float64(u>>11) / (1 << 53)
}
