package tokens

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
)

var readReq = Request{Scopes: []string{"read"}, Audience: []string{"api"}}

func TestRefreshAhead(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: 90 * time.Second}
	c := newTestCache(t, up, clock, nil) // Random 0: no jitter, refresh at exactly 2/3
	ctx := context.Background()

	first, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(59 * time.Second)
	idle(t, c, readReq)
	if got := up.count(); got != 1 {
		t.Fatalf("fetches before 2/3 of the lifetime: %d, want 1", got)
	}
	clock.Advance(time.Second)
	idle(t, c, readReq)
	if got := up.count(); got != 2 {
		t.Fatalf("fetches at 2/3 of the lifetime: %d, want 2", got)
	}
	if at := up.times()[1]; !at.Equal(epoch.Add(60 * time.Second)) {
		t.Errorf("refresh at %s, want 60 s after the first fetch", at.Sub(epoch))
	}
	second, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	if second.ID() == first.ID() || !second.ExpiresAt().Equal(epoch.Add(150*time.Second)) {
		t.Errorf("after the refresh: %s (expires %s), want a new token expiring at +150 s", second.ID(), second.ExpiresAt().Sub(epoch))
	}
}

func TestRefreshJitter(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: 100 * time.Second}
	// Random 0xFF: the jitter takes (almost) its whole bound, a tenth of
	// the lifetime, so the refresh comes at about 2/3 - 1/10 = 56.7 s.
	c := newTestCache(t, up, clock, &CacheOptions{Random: fixedRandom(0xFF)})
	if _, err := c.Token(context.Background(), readReq); err != nil {
		t.Fatal(err)
	}
	clock.Advance(56 * time.Second)
	idle(t, c, readReq)
	if got := up.count(); got != 1 {
		t.Fatalf("fetches at 56 s: %d, want 1", got)
	}
	clock.Advance(time.Second)
	idle(t, c, readReq)
	if got := up.count(); got != 2 {
		t.Fatalf("fetches at 57 s: %d, want 2 (refresh brought forward by the jitter)", got)
	}
}

// TestStampede: 10,000 callers while a refresh is held up get the valid
// token without waiting; 10,000 callers once it has expired share the one
// fetch under way.
func TestStampede(t *testing.T) {
	leakCheck(t)
	const callers = 10000
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: 90 * time.Second, gate: make(chan struct{}, 1), started: make(chan struct{}, 1)}
	// The refresh stays stuck at the gate while the clock moves: on a
	// clock that waits for the Cache's fetches, Advance would wait for it.
	c := newTestCacheOn(t, up, plainClock{clock}, nil)
	src := c.Source(readReq)
	ctx := context.Background()

	up.gate <- struct{}{} // let the first fetch through
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-up.started

	clock.Advance(60 * time.Second) // the refresh starts, and blocks at the gate
	<-up.started

	// Phase 1: the refresh is stuck; every caller must return the held
	// token at once. Were any to wait, wg.Wait would never return.
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := src.Token(ctx)
			if err == nil && tok != first {
				err = errors.New("got another token than the one held")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := up.count(); got != 2 {
		t.Fatalf("upstream calls with a valid token held: %d, want 2 (first + the refresh)", got)
	}

	// Phase 2: the token expires with the refresh still stuck. Every
	// caller has to wait, and all of them share that one fetch.
	clock.Advance(30 * time.Second)
	var returned sync.WaitGroup
	got := make(chan *Token, callers)
	for range callers {
		returned.Add(1)
		go func() {
			defer returned.Done()
			tok, err := src.Token(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			got <- tok
		}()
	}
	select {
	case tok := <-got:
		t.Fatalf("a caller got %v while no valid token was held", tok)
	default:
	}
	up.gate <- struct{}{}
	returned.Wait()
	close(got)
	n := 0
	for tok := range got {
		n++
		if tok.Expired(clock.Now()) || tok.ID() != "t2" {
			t.Fatalf("caller got %s expiring %s", tok.ID(), tok.ExpiresAt())
		}
	}
	if n != callers {
		t.Fatalf("%d callers got a token, want %d", n, callers)
	}
	if got := up.count(); got != 2 {
		t.Fatalf("upstream calls after 10,000 callers at expiry: %d, want 2 (exactly one for the expiry)", got)
	}
}

func TestBackoffThenExpired(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: 90 * time.Second}
	// Random 0xFF: full jitter draws (almost) the whole bound, so the waits
	// are just under 1, 2, 4, 8, 8... seconds.
	c := newTestCache(t, up, clock, &CacheOptions{MinBackoff: time.Second, MaxBackoff: 8 * time.Second, Random: fixedRandom(0xFF)})
	ctx := context.Background()
	held, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	up.setErr(errUpstream)
	// Jitter 0xFF brings the refresh forward by (almost) 9 s: at ~51 s.
	for clock.Now().Before(epoch.Add(89 * time.Second)) {
		clock.Advance(100 * time.Millisecond)
		idle(t, c, readReq)
		tok, err := c.Token(ctx, readReq) // never waits, never fails: the token is valid
		if err != nil || tok != held {
			t.Fatalf("at %s with a valid token held: %v, %v", clock.Now().Sub(epoch), tok, err)
		}
	}
	at := up.times()
	if len(at) < 6 {
		t.Fatalf("only %d fetches in the failing period", len(at))
	}
	var gaps []time.Duration
	for i := 2; i < len(at); i++ {
		gaps = append(gaps, at[i].Sub(at[i-1]).Round(time.Second))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		if gaps[i] != w {
			t.Fatalf("waits between failed fetches: %v, want %v then 8 s", gaps, want)
		}
	}

	clock.Set(epoch.Add(90 * time.Second)) // expiry, between two attempts
	idle(t, c, readReq)
	calls := up.count()
	tok, err := c.Token(ctx, readReq)
	if !errors.Is(err, ErrExpired) || tok != nil {
		t.Fatalf("after expiry with fetches failing: %v, %v; want ErrExpired", tok, err)
	}
	if !errors.Is(err, errUpstream) {
		t.Errorf("ErrExpired does not carry the last fetch error: %v", err)
	}
	if up.count() != calls {
		t.Errorf("a caller during backoff made a fetch")
	}
	if err := held.Use(func([]byte) error { return nil }); !errors.Is(err, ErrExpired) {
		t.Errorf("Use of the expired token: %v, want ErrExpired", err)
	}

	up.setErr(nil)
	clock.Advance(8 * time.Second)
	idle(t, c, readReq)
	tok, err = c.Token(ctx, readReq)
	if err != nil || tok.Expired(clock.Now()) {
		t.Fatalf("after recovery: %v, %v", tok, err)
	}
}

func TestRetryAfter(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	c := newTestCache(t, up, clock, &CacheOptions{MinBackoff: time.Second, MaxBackoff: 10 * time.Second})
	ctx := context.Background()
	if _, err := c.Token(ctx, readReq); err != nil {
		t.Fatal(err)
	}
	up.setErr(&OAuthError{Endpoint: "token", StatusCode: 429, RetryAfter: 5 * time.Minute})
	clock.Advance(40 * time.Minute) // refresh at 2/3 of the hour fails with Retry-After: 5 min
	idle(t, c, readReq)
	if got := up.count(); got != 2 {
		t.Fatalf("fetches: %d, want 2", got)
	}
	up.setErr(nil)
	clock.Advance(5*time.Minute - time.Second)
	idle(t, c, readReq)
	if got := up.count(); got != 2 {
		t.Fatalf("fetched again %s after a Retry-After of 5 min", (5*time.Minute - time.Second))
	}
	clock.Advance(time.Second)
	idle(t, c, readReq)
	if got := up.count(); got != 3 {
		t.Fatalf("fetches once Retry-After passed: %d, want 3", got)
	}
}

func TestRetryAfterFirstFetch(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	up.setErr(&OAuthError{Endpoint: "token", StatusCode: 503, RetryAfter: time.Minute})
	c := newTestCache(t, up, clock, nil)
	ctx := context.Background()
	var oe *OAuthError
	if _, err := c.Token(ctx, readReq); !errors.As(err, &oe) || oe.RetryAfter != time.Minute {
		t.Fatalf("first fetch: %v, want the OAuthError", err)
	}
	up.setErr(nil)
	// Within the Retry-After, callers get the error without a fetch.
	if _, err := c.Token(ctx, readReq); !errors.As(err, &oe) {
		t.Fatalf("second call within Retry-After: %v", err)
	}
	if got := up.count(); got != 1 {
		t.Fatalf("fetches within Retry-After: %d, want 1", got)
	}
	clock.Advance(time.Minute)
	idle(t, c, readReq)
	if _, err := c.Token(ctx, readReq); err != nil {
		t.Fatal(err)
	}
	if got := up.count(); got != 2 {
		t.Fatalf("fetches: %d, want 2", got)
	}
}

func TestPerScopeCaching(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour}
	c := newTestCache(t, up, clock, nil)
	ctx := context.Background()
	reqs := []Request{
		{Scopes: []string{"read", "write"}, Audience: []string{"billing"}},
		{Scopes: []string{"write", "read", "read"}, Audience: []string{"billing"}}, // the same as the first
		{Scopes: []string{"read"}, Audience: []string{"billing"}},
		{Scopes: []string{"read"}, Audience: []string{"reports"}},
		{Scopes: []string{"read"}},
	}
	ids := map[string]string{}
	for round := 0; round < 3; round++ {
		for _, r := range reqs {
			tok, err := c.Token(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			key := mustNormal(r).key()
			if prev, ok := ids[key]; ok && prev != tok.ID() {
				t.Fatalf("%s: token %s, then %s", r, prev, tok.ID())
			}
			ids[key] = tok.ID()
			if got, want := tok.Scopes(), mustNormal(r).Scopes; !equal(got, want) {
				t.Errorf("%s: scopes %v, want %v", r, got, want)
			}
			if got, want := tok.Audience(), mustNormal(r).Audience; !equal(got, want) {
				t.Errorf("%s: audience %v, want %v", r, got, want)
			}
		}
	}
	if got := up.count(); got != 4 {
		t.Fatalf("upstream calls: %d, want 4 (one per distinct scopes and audience)", got)
	}
	// Each is refreshed on its own.
	clock.Advance(40 * time.Minute)
	for _, r := range reqs {
		idle(t, c, r)
	}
	if got := up.count(); got != 8 {
		t.Fatalf("upstream calls after one refresh round: %d, want 8", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNeverExpiredOnArrival(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	f := FetcherFunc(func(ctx context.Context, req Request) (*Grant, error) {
		return &Grant{Value: []byte("v"), ExpiresAt: clock.Now()}, nil
	})
	c := newTestCache(t, f, clock, nil)
	if tok, err := c.Token(context.Background(), readReq); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a token expiring on arrival: %v, %v; want ErrInvalid", tok, err)
	}
}

func TestContextWhileWaiting(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: time.Hour, gate: make(chan struct{})}
	c := newTestCache(t, up, clock, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Token(ctx, readReq); !errors.Is(err, context.Canceled) {
		t.Fatalf("with a cancelled context: %v", err)
	}
	// Close cancels the fetch still held at the gate.
}

type revokingUpstream struct {
	*upstream
	mu      sync.Mutex
	revoked []string
}

func (r *revokingUpstream) Revoke(ctx context.Context, t *Token) error {
	return t.Use(func(v []byte) error {
		r.mu.Lock()
		r.revoked = append(r.revoked, string(v))
		r.mu.Unlock()
		return nil
	})
}

func TestDropAndCloseRevoke(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &revokingUpstream{upstream: &upstream{clock: clock, lifetime: time.Hour}}
	c := newTestCache(t, up, clock, nil)
	ctx := context.Background()
	a, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	other := Request{Scopes: []string{"write"}}
	b, err := c.Token(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Drop(ctx, readReq); err != nil {
		t.Fatal(err)
	}
	if err := a.Use(func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Use after Drop: %v, want ErrClosed", err)
	}
	if again, err := c.Token(ctx, readReq); err != nil || again == a {
		t.Fatalf("Token after Drop: %v, %v; want a new token", again, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	up.mu.Lock()
	revoked := append([]string(nil), up.revoked...)
	up.mu.Unlock()
	want := []string{"secret-token-value-1", "secret-token-value-2", "secret-token-value-3"}
	if len(revoked) != 3 || revoked[0] != want[0] || !(revoked[1] == want[1] || revoked[2] == want[1]) {
		t.Fatalf("revoked %q, want %q (the dropped token, then both held at Close)", revoked, want)
	}
	if err := b.Use(func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Use after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Token(ctx, other); !errors.Is(err, ErrClosed) {
		t.Fatalf("Token after Close: %v, want ErrClosed", err)
	}
	if _, err := c.Source(other).Token(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Source.Token after Close: %v, want ErrClosed", err)
	}
}

func TestKeepOnClose(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &revokingUpstream{upstream: &upstream{clock: clock, lifetime: time.Hour}}
	c := newTestCache(t, up, clock, &CacheOptions{KeepOnClose: true})
	if _, err := c.Token(context.Background(), readReq); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if len(up.revoked) != 0 {
		t.Fatalf("KeepOnClose revoked %d tokens", len(up.revoked))
	}
}

func TestFetcherPanic(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	f := FetcherFunc(func(ctx context.Context, req Request) (*Grant, error) {
		panic("secret-in-panic")
	})
	c := newTestCache(t, f, clock, nil)
	_, err := c.Token(context.Background(), readReq)
	if err == nil || contains(err.Error(), "secret-in-panic") {
		t.Fatalf("panicking fetcher: %v", err)
	}
}

func TestOptionsInvalid(t *testing.T) {
	leakCheck(t)
	f := FetcherFunc(func(ctx context.Context, req Request) (*Grant, error) { return nil, nil })
	for _, o := range []*CacheOptions{{Ahead: 1.5}, {Ahead: 0.5, Jitter: 0.6}, {MinBackoff: time.Minute, MaxBackoff: time.Second}} {
		if _, err := NewCache(f, o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", *o, err)
		}
	}
	if _, err := NewCache(nil, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("nil fetcher: %v", err)
	}
}

func TestExpiryMargin(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	up := &upstream{clock: clock, lifetime: 100 * time.Second}
	c := newTestCache(t, up, clock, &CacheOptions{ExpiryMargin: 10 * time.Second, Ahead: 0.95, Jitter: -1})
	ctx := context.Background()
	held, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	up.setErr(errUpstream)
	// Ahead 0.95 would refresh at 95 s; the margin brings it to 90 s.
	clock.Advance(89 * time.Second)
	idle(t, c, readReq)
	if tok, err := c.Token(ctx, readReq); tok != held || err != nil || up.count() != 1 {
		t.Fatalf("at 89 s: %v, %v, %d fetches", tok, err, up.count())
	}
	clock.Advance(time.Second)
	idle(t, c, readReq)
	if up.count() != 2 {
		t.Fatalf("no refresh at the start of the margin: %d fetches", up.count())
	}
	if _, err := c.Token(ctx, readReq); !errors.Is(err, ErrExpired) {
		t.Fatalf("within the margin with fetches failing: %v, want ErrExpired", err)
	}
	// The token itself is still usable by whoever holds it.
	if err := held.Use(func([]byte) error { return nil }); err != nil {
		t.Fatalf("Use within the margin: %v", err)
	}
	// The margin is capped at a quarter of the lifetime.
	up.setErr(nil)
	up.lifetime = 20 * time.Second // read by the fetcher under no lock: set while idle
	clock.Advance(10 * time.Second)
	idle(t, c, readReq)
	tok, err := c.Token(ctx, readReq)
	if err != nil {
		t.Fatal(err)
	}
	// The fetch may read the clock before Advance has finished moving it:
	// the lifetime the Cache saw is from its own reading.
	life := tok.ExpiresAt().Sub(tok.IssuedAt())
	if got, want := time.Duration(tok.expNS-tok.serveNS), life/4; got != want || life > 20*time.Second {
		t.Fatalf("margin of a %s token: %s, want a quarter of the lifetime, %s", life, got, want)
	}
}
