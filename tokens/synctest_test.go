package tokens_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strongroom/strongroom/internal/busy"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/tokens"
)

// issuer is a FetcherFunc issuing one-hour tokens by the time package's
// clock (the bubble's, inside a synctest bubble) or a virtual one, and
// recording when it issued each.
type issuer struct {
	now    func() time.Time
	mu     sync.Mutex
	issued []time.Time
}

func (i *issuer) fetch(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	now := i.now()
	i.issued = append(i.issued, now)
	n := strconv.Itoa(len(i.issued))
	return &tokens.Grant{Value: []byte("token-value-" + n), ExpiresAt: now.Add(time.Hour), ID: "t" + n}, nil
}

func (i *issuer) times() []time.Time {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]time.Time(nil), i.issued...)
}

// TestCacheSynctestGoroutinesEnd: a Cache inside a bubble starts its
// goroutines (fetches, timers) in the bubble, and Close leaves none:
// synctest.Test fails when a goroutine of the bubble outlives it, and
// panics on one blocked forever.
func TestCacheSynctestGoroutinesEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		up := &issuer{now: time.Now}
		cache, err := tokens.NewCache(tokens.FetcherFunc(up.fetch), &tokens.CacheOptions{IdleAfter: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for _, scope := range []string{"a", "b", "c"} {
			if _, err := cache.Token(ctx, tokens.Request{Scopes: []string{scope}}); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * time.Hour) // refreshes, then idle evictions
		synctest.Wait()
		if n := len(up.times()); n < 6 {
			t.Fatalf("%d fetches in 3 h of three requests, want refreshes", n)
		}
		if _, err := cache.Token(ctx, tokens.Request{Scopes: []string{"d"}}); err != nil {
			t.Fatal(err)
		}
		if err := cache.Close(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
	})
}

// TestVirtualClockWaitsForRefresh: on a providers/memory Clock, which
// waits for the work it made due (busy.Holder), the refresh that Advance
// made due has finished when Advance returns: no polling.
func TestVirtualClockWaitsForRefresh(t *testing.T) {
	clock := memory.NewClock(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC))
	if _, ok := any(clock).(busy.Holder); !ok {
		t.Fatal("providers/memory.Clock does not implement busy.Holder: Advance would not wait for the refresh")
	}
	up := &issuer{now: clock.Now}
	cache, err := tokens.NewCache(tokens.FetcherFunc(up.fetch), &tokens.CacheOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	src := cache.Source(tokens.Request{Scopes: []string{"read"}})
	ctx := context.Background()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(45 * time.Minute)
	issued := up.times()
	if len(issued) != 2 {
		t.Fatalf("%d fetches when Advance(45m) returned, want 2", len(issued))
	}
	tok, err := src.Token(ctx)
	if err != nil || tok == first || !tok.IssuedAt().Equal(issued[1]) {
		t.Fatalf("after the refresh: %v, %v; want the token issued at %s", tok, err, issued[1])
	}
}
