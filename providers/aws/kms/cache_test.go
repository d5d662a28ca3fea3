package kms_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awskms "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/aws/kms"
	"github.com/strongroom/strongroom/providers/memory"
)

// countingClient is the real KMS client with its Decrypt calls counted.
type countingClient struct {
	kms.Client
	decrypts atomic.Int64
}

func (c *countingClient) Decrypt(ctx context.Context, in *awskms.DecryptInput, optFns ...func(*awskms.Options)) (*awskms.DecryptOutput, error) {
	c.decrypts.Add(1)
	return c.Client.Decrypt(ctx, in, optFns...)
}

// cacheFixture is a kms+memory provider over local-kms with a counted
// client and a virtual clock.
type cacheFixture struct {
	real  *awskms.Client
	key   string
	count *countingClient
	clock *memory.Clock
	mem   *memory.Provider
	p     providers.Provider
}

func newCacheFixture(t *testing.T, opts kms.Options) *cacheFixture {
	t.Helper()
	f := &cacheFixture{real: kmsClient(t), clock: memory.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), mem: memory.New(nil)}
	f.key = newKey(t, f.real)
	f.count = &countingClient{Client: f.real}
	opts.Client, opts.Inner, opts.InnerScheme, opts.KeyID, opts.Clock = f.count, f.mem, "memory", f.key, f.clock
	opts.DecryptKeyIDs = []string{f.key}
	p, err := kms.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f.p = p
	return f
}

// fetch fetches ref and returns the value (or the error) and the Decrypt
// calls it made.
func (f *cacheFixture) fetch(ref string) (string, int64, error) {
	before := f.count.decrypts.Load()
	v, err := f.p.Fetch(context.Background(), ref)
	calls := f.count.decrypts.Load() - before
	if err != nil {
		return "", calls, err
	}
	defer v.Wipe()
	return string(v.Data), calls, nil
}

var (
	bigValue   = strings.Repeat("envelope-value-", 700) // 10,500 bytes: an envelope
	smallValue = "direct-value"
	refCtx     = "?kms-context=" + kms.FormatContext(testContext)
)

// TestDataKeyCache counts the KMS Decrypt calls of Fetch: one for an
// envelope's first Fetch, none for the next ones within DataKeyTTL (the
// same value again, or another secret holding the same envelope), one
// again once the TTL has passed; one every time for a small value (a KMS
// ciphertext, never cached) and for another encryption context (the
// context is part of the cache's key, and KMS refuses it). A changed
// envelope with the same data key is refused from the cached key.
func TestDataKeyCache(t *testing.T) {
	const ttl = time.Minute
	f := newCacheFixture(t, kms.Options{DataKeyTTL: ttl})
	envelope := encrypt(t, f.real, f.key, testContext, []byte(bigValue))
	tampered := bytes.Clone(envelope)
	tampered[len(tampered)-1] ^= 1
	f.mem.Set("big", envelope, nil)
	f.mem.Set("copy", envelope, nil)
	f.mem.Set("tampered", tampered, nil)
	f.mem.Set("small", encrypt(t, f.real, f.key, testContext, []byte(smallValue)), nil)
	wrongCtx := "?kms-context=" + kms.FormatContext(map[string]string{"app": "web", "env": "prod"})

	steps := []struct {
		what    string
		advance time.Duration
		ref     string
		want    string
		calls   int64
		err     error
	}{
		{"first fetch of an envelope", 0, "big" + refCtx, bigValue, 1, nil},
		{"second fetch, within the TTL", 0, "big" + refCtx, bigValue, 0, nil},
		{"another secret holding the same envelope", 0, "copy" + refCtx, bigValue, 0, nil},
		{"the same envelope under another context", 0, "big" + wrongCtx, "", 1, providers.ErrInvalid},
		{"the envelope without a context", 0, "big", "", 1, providers.ErrInvalid},
		{"the same data key, sealed data changed", 0, "tampered" + refCtx, "", 0, providers.ErrInvalid},
		{"just before the TTL ends", ttl - time.Second, "big" + refCtx, bigValue, 0, nil},
		{"once the TTL has passed", time.Second, "big" + refCtx, bigValue, 1, nil},
		{"again, from the new entry", 0, "big" + refCtx, bigValue, 0, nil},
		{"a small value (KMS ciphertext)", 0, "small" + refCtx, smallValue, 1, nil},
		{"the small value again: never cached", 0, "small" + refCtx, smallValue, 1, nil},
	}
	for _, s := range steps {
		f.clock.Advance(s.advance)
		got, calls, err := f.fetch("kms+memory://" + s.ref)
		t.Logf("%s: %d Decrypt calls", s.what, calls)
		if calls != s.calls {
			t.Errorf("%s: %d Decrypt calls, want %d", s.what, calls, s.calls)
		}
		if s.err != nil {
			if !errors.Is(err, s.err) {
				t.Errorf("%s: %v, want %v", s.what, err, s.err)
			}
			continue
		}
		if err != nil || got != s.want {
			t.Errorf("%s: %d bytes, %v", s.what, len(got), err)
		}
	}

	g, held := kms.DataKeyCache(f.p)
	if g == nil || held != 1 {
		t.Fatalf("before Close: guard %v, %d keys held; want a guard and 1 (is locked memory available?)", g, held)
	}
	if err := f.p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, held := kms.DataKeyCache(f.p); held != 0 {
		t.Errorf("after Close: %d keys held", held)
	}
	if _, err := g.Seal([]byte("x")); !errors.Is(err, guard.ErrClosed) {
		t.Errorf("after Close the guard seals: %v", err)
	}
	if _, calls, err := f.fetch("kms+memory://big" + refCtx); !errors.Is(err, providers.ErrClosed) || calls != 0 {
		t.Errorf("Fetch after Close: %v, %d Decrypt calls", err, calls)
	}
}

// TestDataKeyCacheOff: a negative DataKeyTTL or DataKeyCacheSize turns the
// cache off; every Fetch of an envelope calls KMS Decrypt.
func TestDataKeyCacheOff(t *testing.T) {
	for _, opts := range []kms.Options{{DataKeyTTL: -1}, {DataKeyCacheSize: -1}} {
		f := newCacheFixture(t, opts)
		f.mem.Set("big", encrypt(t, f.real, f.key, testContext, []byte(bigValue)), nil)
		for i := range 3 {
			if got, calls, err := f.fetch("kms+memory://big" + refCtx); err != nil || got != bigValue || calls != 1 {
				t.Errorf("%v, fetch %d: %d Decrypt calls (want 1), %v", opts, i+1, calls, err)
			}
		}
		if g, _ := kms.DataKeyCache(f.p); g != nil {
			t.Errorf("%v: a guard was made", opts)
		}
	}
}

// TestDataKeyCacheBound: with DataKeyCacheSize 2, a third envelope evicts
// the oldest key.
func TestDataKeyCacheBound(t *testing.T) {
	f := newCacheFixture(t, kms.Options{DataKeyCacheSize: 2})
	for _, name := range []string{"a", "b", "c"} {
		f.mem.Set(name, encrypt(t, f.real, f.key, testContext, []byte(name+bigValue)), nil)
	}
	for _, s := range []struct {
		name  string
		calls int64
	}{{"a", 1}, {"b", 1}, {"a", 0}, {"c", 1}, {"a", 1}, {"c", 0}, {"b", 1}} {
		got, calls, err := f.fetch("kms+memory://" + s.name + refCtx)
		if err != nil || got != s.name+bigValue || calls != s.calls {
			t.Errorf("%s: %d Decrypt calls (want %d), %v", s.name, calls, s.calls, err)
		}
	}
	if _, held := kms.DataKeyCache(f.p); held != 2 {
		t.Errorf("%d keys held, want 2", held)
	}
}

// TestDataKeyCacheOutlivesKeyDisable states the trade-off of the cache: a
// key disabled in KMS still opens an envelope whose data key is cached,
// until DataKeyTTL has passed; then Fetch fails with ErrPermission.
func TestDataKeyCacheOutlivesKeyDisable(t *testing.T) {
	const ttl = time.Minute
	f := newCacheFixture(t, kms.Options{DataKeyTTL: ttl})
	f.mem.Set("big", encrypt(t, f.real, f.key, testContext, []byte(bigValue)), nil)
	ref := "kms+memory://big" + refCtx
	if _, _, err := f.fetch(ref); err != nil {
		t.Fatal(err)
	}
	if _, err := f.real.DisableKey(context.Background(), &awskms.DisableKeyInput{KeyId: &f.key}); err != nil {
		t.Fatal(err)
	}
	if got, calls, err := f.fetch(ref); err != nil || got != bigValue || calls != 0 {
		t.Fatalf("within the TTL of a disabled key: %d Decrypt calls, %v", calls, err)
	}
	f.clock.Advance(ttl)
	if _, calls, err := f.fetch(ref); !errors.Is(err, providers.ErrPermission) || calls != 1 {
		t.Fatalf("after the TTL of a disabled key: %d Decrypt calls, %v; want 1 and ErrPermission", calls, err)
	}
}

// TestDataKeyCacheConcurrent fetches one envelope from many goroutines
// while the clock moves past the TTL and, at the end, the provider
// closes (for -race): every Fetch gives the value or, once closed,
// ErrClosed.
func TestDataKeyCacheConcurrent(t *testing.T) {
	const ttl = time.Minute
	f := newCacheFixture(t, kms.Options{DataKeyTTL: ttl})
	for _, name := range []string{"a", "b"} {
		f.mem.Set(name, encrypt(t, f.real, f.key, testContext, []byte(name+bigValue)), nil)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range 8 {
		name := []string{"a", "b"}[i%2]
		wg.Go(func() {
			for {
				got, _, err := f.fetch("kms+memory://" + name + refCtx)
				switch {
				case errors.Is(err, providers.ErrClosed):
					return
				case err != nil || got != name+bigValue:
					t.Errorf("%s: %d bytes, %v", name, len(got), err)
					return
				}
				select {
				case <-stop:
				default:
					continue
				}
				f.p.Close() // every goroutine closes: Close is idempotent
			}
		})
	}
	for range 5 {
		time.Sleep(20 * time.Millisecond)
		f.clock.Advance(ttl / 2)
	}
	close(stop)
	wg.Wait()
	t.Logf("%d Decrypt calls in all", f.count.decrypts.Load())
}
