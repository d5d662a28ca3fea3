package tokens

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fixedRandom reads as an endless run of one byte: 0x00 makes every jitter
// zero, 0xFF makes it (almost) its whole bound.
type fixedRandom byte

func (r fixedRandom) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// upstream is a scripted token issuer: it counts calls, can hold each call
// at a gate, and fails while err is set.
type upstream struct {
	clock    *memory.Clock
	lifetime time.Duration
	gate     chan struct{} // nil: no gate; else each call takes one value
	started  chan struct{} // nil, or signalled (non-blocking) when a call starts

	mu    sync.Mutex
	calls int
	at    []time.Time // clock time of each call
	reqs  []Request
	err   error
}

func (u *upstream) Fetch(ctx context.Context, req Request) (*Grant, error) {
	u.mu.Lock()
	u.calls++
	n := u.calls
	u.at = append(u.at, u.clock.Now())
	u.reqs = append(u.reqs, req)
	err := u.err
	u.mu.Unlock()
	if u.started != nil {
		select {
		case u.started <- struct{}{}:
		default:
		}
	}
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	return &Grant{
		Value:     []byte("secret-token-value-" + strconv.Itoa(n)),
		ExpiresAt: u.clock.Now().Add(u.lifetime),
		ID:        "t" + strconv.Itoa(n),
	}, nil
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

func (u *upstream) setErr(err error) {
	u.mu.Lock()
	u.err = err
	u.mu.Unlock()
}

func (u *upstream) times() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.at...)
}

// leakCheck checks, once the test and every cleanup registered after this
// call are done, that no goroutine started meanwhile is left.
func leakCheck(t *testing.T) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// newTestCache makes a Cache on a virtual clock, closed at cleanup. Tests
// call leakCheck first, so that the check runs after every close.
func newTestCache(t *testing.T, f Fetcher, clock *memory.Clock, opts *CacheOptions) *Cache {
	t.Helper()
	return newTestCacheOn(t, f, clock, opts)
}

// plainClock is a memory.Clock that does not wait for the Cache's
// background fetches (it hides Hold), for a test that keeps a fetch stuck
// while it moves the clock.
type plainClock struct{ c *memory.Clock }

func (p plainClock) Now() time.Time                                  { return p.c.Now() }
func (p plainClock) AfterFunc(d time.Duration, f func()) func() bool { return p.c.AfterFunc(d, f) }

// newTestCacheOn is newTestCache on any clock.
func newTestCacheOn(t *testing.T, f Fetcher, clock secrets.Clock, opts *CacheOptions) *Cache {
	t.Helper()
	var o CacheOptions
	if opts != nil {
		o = *opts
	}
	o.Clock = clock
	if o.Random == nil {
		o.Random = fixedRandom(0)
	}
	c, err := NewCache(f, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c
}

// idle waits until no fetch is under way for req: the background work a
// clock advance started has finished. It spins; the deadline only turns a
// hang into a failure.
func idle(t *testing.T, c *Cache, req Request) {
	t.Helper()
	v, ok := c.entries.Load(mustNormal(req).key())
	if !ok {
		return
	}
	e := v.(*entry)
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.mu.Lock()
		busy := e.flight != nil
		e.mu.Unlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a fetch is still under way")
		}
		runtime.Gosched()
	}
}

// waitUntil spins until cond holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("never happened: " + what)
		}
		runtime.Gosched()
	}
}

// newStore opens a Store over the memory provider on clock.
func newStore(t *testing.T, clock *memory.Clock) (*secrets.Store, *memory.Provider) {
	t.Helper()
	var c secrets.Clock
	mopts := &memory.Options{}
	if clock != nil {
		c = clock
		mopts.Clock = clock
	}
	mem := memory.New(mopts)
	s, err := secrets.Open(context.Background(), &secrets.Options{
		Providers: map[string]providers.Provider{"memory": mem}, Clock: c,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, mem
}

// addSecret declares name over the memory provider with value and waits
// for it to load.
func addSecret(t *testing.T, s *secrets.Store, mem *memory.Provider, name string, value []byte) {
	t.Helper()
	mem.Set(name, value, nil)
	if err := s.Add(secrets.Spec{Name: name, Ref: "memory://" + name, Overlap: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// rotate sets a new value and waits for the store to serve it.
func rotate(t *testing.T, s *secrets.Store, mem *memory.Provider, name string, value []byte) {
	t.Helper()
	mem.Set(name, value, nil)
	if err := s.Refresh(context.Background(), name); err != nil {
		t.Fatal(err)
	}
}

// ecKeyPEM returns a fresh P-256 private key in PKCS #8 PEM.
func ecKeyPEM(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

var errUpstream = errors.New("upstream down")

func contains(s, sub string) bool { return len(sub) > 0 && strings.Contains(s, sub) }

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// addSecretErr declares name (already set in the provider) and waits for it.
func addSecretErr(s *secrets.Store, name string) error {
	if err := s.Add(secrets.Spec{Name: name, Ref: "memory://" + name}); err != nil {
		return err
	}
	return s.Ready(context.Background())
}

// mustNormal is Request.normal for requests known to be well formed.
func mustNormal(r Request) Request {
	n, err := r.normal()
	if err != nil {
		panic(err)
	}
	return n
}
