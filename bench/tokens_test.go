package bench

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/strongroom/strongroom/tokens"
)

// The token benchmarks compare a strongroom tokens.Cache with
// golang.org/x/oauth2's ReuseTokenSource, the cache most Go programs use:
// a cache hit, sequential and parallel, and 10,000 goroutines asking at
// the moment the token expires.

var tokenReq = tokens.Request{Scopes: []string{"reports:read"}, Audience: []string{"reports"}}

// hourFetcher issues one-hour tokens and counts the calls.
func hourFetcher(calls *atomic.Int64, latency time.Duration, lifetime time.Duration) tokens.FetcherFunc {
	return func(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
		calls.Add(1)
		if latency > 0 {
			time.Sleep(latency)
		}
		return &tokens.Grant{Value: value32(), ExpiresAt: time.Now().Add(lifetime)}, nil
	}
}

// oauth2Upstream is an oauth2.TokenSource that issues tokens and counts
// the calls; expiry tells each token's Expiry.
type oauth2Upstream struct {
	calls   atomic.Int64
	latency time.Duration
	expiry  func() time.Time
}

func (u *oauth2Upstream) Token() (*oauth2.Token, error) {
	u.calls.Add(1)
	if u.latency > 0 {
		time.Sleep(u.latency)
	}
	return &oauth2.Token{AccessToken: string(value32()), TokenType: "Bearer", Expiry: u.expiry()}, nil
}

func newTokenCache(b *testing.B, f tokens.Fetcher, opts *tokens.CacheOptions) *tokens.Cache {
	b.Helper()
	c, err := tokens.NewCache(f, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkTokenHit: a cached token, as a caller gets it on every request:
// Source.Token for strongroom, ReuseTokenSource.Token for x/oauth2.
func BenchmarkTokenHit(b *testing.B) {
	ctx := context.Background()
	b.Run("strongroom", func(b *testing.B) {
		var calls atomic.Int64
		src := newTokenCache(b, hourFetcher(&calls, 0, time.Hour), nil).Source(tokenReq)
		if _, err := src.Token(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		var n int
		for b.Loop() {
			tok, err := src.Token(ctx)
			if err != nil {
				b.Fatal(err)
			}
			n += tok.Len()
		}
		if calls.Load() != 1 {
			b.Fatalf("%d upstream calls", calls.Load())
		}
		sink.Add(uint64(n))
	})
	b.Run("xoauth2", func(b *testing.B) {
		up := &oauth2Upstream{expiry: func() time.Time { return time.Now().Add(time.Hour) }}
		ts := oauth2.ReuseTokenSource(nil, up)
		b.ReportAllocs()
		var n int
		for b.Loop() {
			tok, err := ts.Token()
			if err != nil {
				b.Fatal(err)
			}
			n += len(tok.AccessToken)
		}
		if up.calls.Load() != 1 {
			b.Fatalf("%d upstream calls", up.calls.Load())
		}
		sink.Add(uint64(n))
	})
}

// BenchmarkTokenHitParallel is BenchmarkTokenHit from GOMAXPROCS goroutines.
func BenchmarkTokenHitParallel(b *testing.B) {
	ctx := context.Background()
	b.Run("strongroom", func(b *testing.B) {
		var calls atomic.Int64
		src := newTokenCache(b, hourFetcher(&calls, 0, time.Hour), nil).Source(tokenReq)
		if _, err := src.Token(ctx); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var n int
			for pb.Next() {
				tok, err := src.Token(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				n += tok.Len()
			}
			sink.Add(uint64(n))
		})
	})
	b.Run("xoauth2", func(b *testing.B) {
		up := &oauth2Upstream{expiry: func() time.Time { return time.Now().Add(time.Hour) }}
		ts := oauth2.ReuseTokenSource(nil, up)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var n int
			for pb.Next() {
				tok, err := ts.Token()
				if err != nil {
					b.Error(err)
					return
				}
				n += len(tok.AccessToken)
			}
			sink.Add(uint64(n))
		})
	})
}

const (
	stampedeBursts   = 5 // per benchmark run, whatever b.N: each takes ~0.4 s
	stampedeCallers  = 10000
	stampedeLifetime = 300 * time.Millisecond // of the token that expires
	stampedeLatency  = 20 * time.Millisecond  // of each upstream call
)

// stampede releases stampedeCallers goroutines at once, when the first
// token expires, and returns the wait each saw (from the release to its
// token) and how many upstream calls the burst caused.
func stampede(b *testing.B, get func() error, expiresAt time.Time, calls func() int64) []time.Duration {
	b.Helper()
	start := make(chan struct{})
	waits := make([]time.Duration, stampedeCallers)
	var ready, done sync.WaitGroup
	var failed atomic.Int64
	for i := range stampedeCallers {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			t0 := time.Now()
			if err := get(); err != nil {
				failed.Add(1)
			}
			waits[i] = time.Since(t0)
		}()
	}
	ready.Wait()
	time.Sleep(time.Until(expiresAt))
	before := calls()
	close(start)
	done.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d callers failed", failed.Load())
	}
	if got := calls() - before; got > 1 {
		b.Logf("the burst made %d upstream calls", got)
	}
	return waits
}

// report records the upstream calls per burst and the callers' waits.
func report(b *testing.B, bursts int, upstream int64, waits []time.Duration) {
	slices.Sort(waits)
	pct := func(p float64) float64 {
		return float64(waits[int(p*float64(len(waits)-1))].Microseconds())
	}
	b.ReportMetric(float64(upstream)/float64(bursts), "upstream-calls/burst")
	b.ReportMetric(pct(0.5), "p50-wait-µs")
	b.ReportMetric(pct(0.99), "p99-wait-µs")
	b.ReportMetric(float64(waits[len(waits)-1].Microseconds()), "max-wait-µs")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkTokenStampede: 10,000 goroutines ask for a token at the moment
// the one held expires; each upstream call takes 20 ms. Its figures are the
// custom metrics (ns/op is meaningless and reported as 0); a run makes at
// most stampedeBursts bursts, whatever b.N, so that the smoke run stays
// short. strongroom with its
// defaults has refreshed at two thirds of the lifetime, so nobody waits;
// with Ahead 1 (refresh at expiry) it makes one call that every caller
// shares. x/oauth2's ReuseTokenSource (its token set to expire, by its own
// ten-second early-expiry rule, at the same moment) fetches on the first
// caller's path under its mutex, and every other caller queues on that
// mutex.
func BenchmarkTokenStampede(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts *tokens.CacheOptions
	}{
		{"strongroom", nil},
		{"strongroom-no-refresh-ahead", &tokens.CacheOptions{Ahead: 1, Jitter: -1}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var all []time.Duration
			var upstream int64
			bursts := 0
			for b.Loop() {
				if bursts == stampedeBursts {
					continue
				}
				var calls atomic.Int64
				first := true
				f := tokens.FetcherFunc(func(ctx context.Context, req tokens.Request) (*tokens.Grant, error) {
					calls.Add(1)
					time.Sleep(stampedeLatency)
					life := time.Hour
					if first {
						first, life = false, stampedeLifetime
					}
					return &tokens.Grant{Value: value32(), ExpiresAt: time.Now().Add(life)}, nil
				})
				c, err := tokens.NewCache(f, tc.opts)
				if err != nil {
					b.Fatal(err)
				}
				src := c.Source(tokenReq)
				tok, err := src.Token(ctx)
				if err != nil {
					b.Fatal(err)
				}
				before := calls.Load()
				all = append(all, stampede(b, func() error {
					t, err := src.Token(ctx)
					if err == nil && t.Expired(time.Now()) {
						b.Error("an expired token")
					}
					return err
				}, tok.ExpiresAt(), calls.Load)...)
				upstream += calls.Load() - before
				bursts++
				c.Close()
			}
			report(b, bursts, upstream, all)
		})
	}
	b.Run("xoauth2", func(b *testing.B) {
		var all []time.Duration
		var upstream int64
		bursts := 0
		for b.Loop() {
			if bursts == stampedeBursts {
				continue
			}
			var n atomic.Int64
			up := &oauth2Upstream{latency: stampedeLatency}
			// ReuseTokenSource treats a token as expired ten seconds early.
			up.expiry = func() time.Time {
				if n.Add(1) == 1 {
					return time.Now().Add(10*time.Second + stampedeLifetime)
				}
				return time.Now().Add(time.Hour)
			}
			ts := oauth2.ReuseTokenSource(nil, up)
			tok, err := ts.Token()
			if err != nil {
				b.Fatal(err)
			}
			before := up.calls.Load()
			all = append(all, stampede(b, func() error {
				_, err := ts.Token()
				return err
			}, tok.Expiry.Add(-10*time.Second), up.calls.Load)...)
			upstream += up.calls.Load() - before
			bursts++
		}
		report(b, bursts, upstream, all)
	})
}
