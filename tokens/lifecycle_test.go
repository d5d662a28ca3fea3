package tokens

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
)

// lateIssuer issues a token only when released, ignoring cancellation as
// a server that has already answered would; it revokes what it is asked to.
type lateIssuer struct {
	clock   *memory.Clock
	started chan struct{}
	release chan struct{}

	mu      sync.Mutex
	minted  int
	revoked []string
}

func (l *lateIssuer) Fetch(ctx context.Context, req Request) (*Grant, error) {
	l.started <- struct{}{}
	<-l.release
	l.mu.Lock()
	l.minted++
	l.mu.Unlock()
	return &Grant{Value: []byte("late-token"), ExpiresAt: l.clock.Now().Add(time.Hour)}, nil
}

func (l *lateIssuer) Revoke(ctx context.Context, t *Token) error {
	if ctx.Err() != nil {
		return ctx.Err() // the fetch's own context would be cancelled by now
	}
	return t.Use(func(v []byte) error {
		l.mu.Lock()
		l.revoked = append(l.revoked, string(v))
		l.mu.Unlock()
		return nil
	})
}

func (l *lateIssuer) counts() (minted, revoked int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.minted, len(l.revoked)
}

// entryOf returns the Cache's entry for req, once it exists.
func entryOf(t *testing.T, c *Cache, req Request) *entry {
	t.Helper()
	var e *entry
	waitUntil(t, "the entry exists", func() bool {
		v, ok := c.entries.Load(mustNormal(req).key())
		if ok {
			e = v.(*entry)
		}
		return ok
	})
	return e
}

// TestLateTokenRevoked: a token issued while Close or Drop was cancelling
// its fetch is revoked before it is wiped (unless KeepOnClose, for Close).
func TestLateTokenRevoked(t *testing.T) {
	for _, tc := range []struct {
		name        string
		keep        bool
		drop        bool
		wantRevoked int
	}{
		{"close", false, false, 1},
		{"close with KeepOnClose", true, false, 0},
		{"drop", false, true, 1},
		{"drop with KeepOnClose", true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			clock := memory.NewClock(epoch)
			l := &lateIssuer{clock: clock, started: make(chan struct{}, 1), release: make(chan struct{})}
			c, err := NewCache(l, &CacheOptions{Clock: clock, KeepOnClose: tc.keep, AllowUnlockedMemory: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			got := make(chan error, 1)
			go func() { _, err := c.Token(ctx, readReq); got <- err }()
			<-l.started
			e := entryOf(t, c, readReq)
			closed := make(chan error, 1)
			if tc.drop {
				if err := c.Drop(ctx, readReq); err != nil {
					t.Fatal(err)
				}
			} else {
				go func() { closed <- c.Close() }()
			}
			waitUntil(t, "the fetch is cancelled", e.dropped.Load)
			close(l.release) // the issuer answers all the same
			if tc.drop {
				waitUntil(t, "the late token is handled", func() bool {
					_, revoked := l.counts()
					e.mu.Lock()
					defer e.mu.Unlock()
					return revoked == tc.wantRevoked && e.flight == nil
				})
				// The caller that was waiting asks again and gets a fresh token
				// (release is closed: the issuer answers at once now).
				if err := <-got; err != nil {
					t.Fatalf("Token during Drop: %v, want a fresh token", err)
				}
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			} else if err := <-closed; err != nil {
				t.Fatal(err)
			}
			minted, revoked := l.counts()
			if tc.drop {
				minted-- // the fresh token the waiting caller got,
				if !tc.keep {
					revoked-- // which Close revoked
				}
			}
			if minted != 1 || revoked != tc.wantRevoked {
				t.Fatalf("minted %d, revoked %d; want 1 and %d", minted, revoked, tc.wantRevoked)
			}
		})
	}
}

// TestNestedUseDuringClose: a Use nested in another while Close waits for
// the outer one fails with ErrClosed instead of deadlocking.
func TestNestedUseDuringClose(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	c, err := NewCache(up, &CacheOptions{Clock: clock, AllowUnlockedMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, _ := c.Token(ctx, readReq)
	b, err := c.Token(ctx, Request{Scopes: []string{"other"}})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	var inner error
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		a.Use(func([]byte) error {
			go func() { closed <- c.Close() }()
			waitUntil(t, "Close waits for the Use under way", func() bool { return c.k.refs.Ended() })
			inner = b.Use(func([]byte) error { return nil })
			return nil
		})
	}()
	select {
	case <-finished:
	case <-time.After(20 * time.Second): // a hang, not a measurement
		t.Fatal("deadlock: a Use nested in a Use while Close waits")
	}
	if !errors.Is(inner, ErrClosed) {
		t.Fatalf("nested Use during Close: %v, want ErrClosed", inner)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := a.Use(func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Use after Close: %v", err)
	}
}

// TestDropInsideUse: Drop called from inside a Use of the token returns at
// once; the value stays readable until that Use ends, then is wiped.
func TestDropInsideUse(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	c := newTestCache(t, up, clock, nil)
	ctx := context.Background()
	tok, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	finished := make(chan error, 1)
	go func() {
		finished <- tok.Use(func(v []byte) error {
			if err := c.Drop(ctx, readReq); err != nil {
				return err
			}
			if string(v) != "secret-token-value-1" {
				return errors.New("the value changed under the Use: " + string(v))
			}
			return nil
		})
	}()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("deadlock: Drop inside a Use of the dropped token")
	}
	if err := tok.Use(func([]byte) error { return nil }); !errors.Is(err, ErrClosed) || !errors.Is(err, errDropped) {
		t.Fatalf("Use after Drop: %v, want ErrClosed (dropped)", err)
	}
	if err := c.k.guard.Open(tok.sealed, func([]byte) error { return nil }); err == nil {
		t.Fatal("the dropped token was not wiped when its last Use ended")
	}
}

// TestTokenDuringDrop: a caller waiting for a fetch that Drop cancels does
// not fail: it asks again and gets a fresh token.
func TestTokenDuringDrop(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour, gate: make(chan struct{}), started: make(chan struct{}, 1)}
	c := newTestCache(t, up, clock, nil)
	ctx := context.Background()
	src := c.Source(readReq)
	got := make(chan error, 2)
	for range 2 { // one through the Cache, one through a Source
		go func() { _, err := c.Token(ctx, readReq); got <- err }()
	}
	<-up.started
	go func() { _, err := src.Token(ctx); got <- err }()
	e := entryOf(t, c, readReq)
	if err := c.Drop(ctx, readReq); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the first fetch ends", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.flight == nil
	})
	<-up.started
	up.gate <- struct{}{} // the second fetch, for the new entry
	for range 3 {
		if err := <-got; err != nil {
			t.Fatalf("Token during Drop: %v, want a fresh token", err)
		}
	}
	if n := up.count(); n != 2 {
		t.Fatalf("fetches: %d, want 2", n)
	}
}

// TestIdleEviction: a request nobody asks for is refreshed until
// IdleAfter, then forgotten: its token, never handed out, revoked and
// wiped; no more fetches; a later call starts afresh.
func TestIdleEviction(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &revokingUpstream{upstream: &upstream{clock: clock, lifetime: 9 * time.Minute}}
	c := newTestCache(t, up, clock, &CacheOptions{IdleAfter: 20 * time.Minute}) // no jitter: refresh every 6 min
	ctx := context.Background()
	first, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 { // refreshes at 6, 12 and 18 min; at 24 min the request is idle
		clock.Advance(6 * time.Minute)
		idle(t, c, readReq)
	}
	if n := up.count(); n != 4 {
		t.Fatalf("fetches after 24 min: %d, want 4 (the first and three refreshes)", n)
	}
	if _, ok := c.entries.Load(mustNormal(readReq).key()); ok {
		t.Fatal("the idle request is still in the Cache")
	}
	up.mu.Lock()
	revoked := append([]string(nil), up.revoked...)
	up.mu.Unlock()
	if len(revoked) != 1 || revoked[0] != "secret-token-value-4" {
		t.Fatalf("revoked %q, want the last token, which nobody was given", revoked)
	}
	clock.Advance(time.Hour)
	if n := up.count(); n != 4 {
		t.Fatalf("fetches an hour after the eviction: %d, want 4", n)
	}
	// The token handed out at the start has expired; the next call fetches.
	if err := first.Use(func([]byte) error { return nil }); !errors.Is(err, ErrExpired) {
		t.Fatalf("first token: %v", err)
	}
	tok, err := c.Token(ctx, readReq)
	if err != nil || tok.ID() != "t5" {
		t.Fatalf("after the eviction: %v, %v; want a fresh token t5", tok, err)
	}
}

// TestIdleEvictionSparesHandedToken: a token a caller was given is neither
// revoked nor wiped by an eviction; it works until it expires.
func TestIdleEvictionSparesHandedToken(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &revokingUpstream{upstream: &upstream{clock: clock, lifetime: 9 * time.Minute}}
	c := newTestCache(t, up, clock, &CacheOptions{IdleAfter: 5 * time.Minute})
	tok, err := c.Token(context.Background(), readReq)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(6 * time.Minute) // the refresh falls due; idle for 6 min
	idle(t, c, readReq)
	if n := up.count(); n != 1 {
		t.Fatalf("fetches: %d, want 1 (no refresh for an idle request)", n)
	}
	if _, ok := c.entries.Load(mustNormal(readReq).key()); ok {
		t.Fatal("the idle request is still in the Cache")
	}
	if len(up.revoked) != 0 {
		t.Fatalf("revoked %q, a token a caller holds", up.revoked)
	}
	if err := tok.Use(func([]byte) error { return nil }); err != nil {
		t.Fatalf("the handed-out token after the eviction: %v", err)
	}
}

// TestIdleNever: a negative IdleAfter refreshes for ever.
func TestIdleNever(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: 9 * time.Minute}
	c := newTestCache(t, up, clock, &CacheOptions{IdleAfter: -1})
	if _, err := c.Token(context.Background(), readReq); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		clock.Advance(6 * time.Minute)
		idle(t, c, readReq)
	}
	if n := up.count(); n != 21 {
		t.Fatalf("fetches over 2 h: %d, want 21", n)
	}
}

// TestRequestChecked: scopes and audiences must be RFC 6749 scope-tokens.
func TestRequestChecked(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	c := newTestCache(t, up, clock, nil)
	ctx := context.Background()
	for _, r := range []Request{
		{Scopes: []string{"read write"}},
		{Scopes: []string{""}},
		{Scopes: []string{`a"b`}},
		{Scopes: []string{`a\b`}},
		{Scopes: []string{"caf\u00e9"}},
		{Scopes: []string{"tab\t"}},
		{Audience: []string{"two words"}},
	} {
		if _, err := c.Token(ctx, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Token(%q): %v, want ErrInvalid", r, err)
		}
		if _, err := c.Source(r).Token(ctx); !errors.Is(err, ErrInvalid) {
			t.Errorf("Source(%q).Token: %v, want ErrInvalid", r, err)
		}
		if err := c.Drop(ctx, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("Drop(%q): %v, want ErrInvalid", r, err)
		}
	}
	if n := up.count(); n != 0 {
		t.Fatalf("fetches for malformed requests: %d", n)
	}
	if _, err := c.Token(ctx, Request{Scopes: []string{"reports:read", "https://api.example/x!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}}); err != nil {
		t.Fatalf("every printable character but space, quote and backslash: %v", err)
	}
}

// stubbornFetcher ignores its context (as a refresh grant already sent
// does) and records how many of its calls overlap.
type stubbornFetcher struct {
	clock   *memory.Clock
	gate    chan struct{}
	started chan struct{}

	mu              sync.Mutex
	calls, cur, max int
}

func (s *stubbornFetcher) Fetch(ctx context.Context, req Request) (*Grant, error) {
	s.mu.Lock()
	s.calls++
	s.cur++
	s.max = max(s.max, s.cur)
	s.mu.Unlock()
	select {
	case s.started <- struct{}{}:
	default:
	}
	<-s.gate
	s.mu.Lock()
	s.cur--
	s.mu.Unlock()
	return &Grant{Value: []byte("stubborn-token"), ExpiresAt: s.clock.Now().Add(time.Hour)}, nil
}

func (s *stubbornFetcher) counts() (calls, peak int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.max
}

// TestDropWaitsForCancelledFetch: after Drop cancels a fetch that goes on
// all the same, the next entry for the request does not fetch until that
// fetch has ended, even across a second Drop: one fetch per Request at a
// time.
func TestDropWaitsForCancelledFetch(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &stubbornFetcher{clock: clock, gate: make(chan struct{}), started: make(chan struct{}, 1)}
	c := newTestCache(t, up, clock, nil)
	var release sync.Once
	open := func() { release.Do(func() { close(up.gate) }) }
	t.Cleanup(open) // before Close (cleanups run last first): a failure must not hang it
	ctx := context.Background()
	got := make(chan error, 2)
	go func() { _, err := c.Token(ctx, readReq); got <- err }()
	<-up.started
	first := entryOf(t, c, readReq)
	if err := c.Drop(ctx, readReq); err != nil {
		t.Fatal(err)
	}
	go func() { _, err := c.Token(ctx, readReq); got <- err }()
	// inFlight waits for an entry other than old to start its fetch.
	inFlight := func(what string, old ...*entry) *entry {
		var e *entry
		waitUntil(t, what, func() bool {
			v, ok := c.entries.Load(mustNormal(readReq).key())
			if !ok || slices.Contains(old, v.(*entry)) {
				return false
			}
			e = v.(*entry)
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.flight != nil
		})
		return e
	}
	alone := func() {
		t.Helper()
		time.Sleep(50 * time.Millisecond) // room for a fetch that should not start
		if calls, _ := up.counts(); calls != 1 {
			t.Fatalf("fetches while the cancelled one still runs: %d, want 1", calls)
		}
	}
	second := inFlight("a new entry starts its fetch", first)
	alone()
	if err := c.Drop(ctx, readReq); err != nil { // the second entry, before it fetched
		t.Fatal(err)
	}
	inFlight("a third entry starts its fetch", first, second)
	alone()
	open()
	for range 2 {
		if err := <-got; err != nil {
			t.Fatalf("Token across Drop: %v, want a fresh token", err)
		}
	}
	if calls, peak := up.counts(); calls != 2 || peak != 1 {
		t.Fatalf("fetches %d, at most %d at a time; want 2, one at a time", calls, peak)
	}
}
