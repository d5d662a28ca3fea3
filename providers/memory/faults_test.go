package memory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
)

var errBackend = errors.New("backend down")

// fetchResult is the outcome of one Fetch, reduced for comparison.
type fetchResult struct {
	data    string
	version string
	err     error // the error it must wrap
}

// TestFaults runs scripts of faults and checks what each fetch gives; the
// pseudo-names "heal" and "heal-a" call Heal("") and Heal("a") instead.
func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(p *memory.Provider)
		fetch []string // names to fetch, in order
		want  []fetchResult
	}{
		{
			name:  "Fail counts down",
			setup: func(p *memory.Provider) { p.Fail("a", errBackend, 2) },
			fetch: []string{"a", "a", "a"},
			want:  []fetchResult{{err: errBackend}, {err: errBackend}, {data: "A", version: "1"}},
		},
		{
			name:  "Fail with nil error",
			setup: func(p *memory.Provider) { p.Fail("a", nil, 1) },
			fetch: []string{"a", "a"},
			want:  []fetchResult{{err: errAny}, {data: "A", version: "1"}},
		},
		{
			name:  "Fail zero times cancels",
			setup: func(p *memory.Provider) { p.Fail("a", errBackend, -1); p.Fail("a", errBackend, 0) },
			fetch: []string{"a"},
			want:  []fetchResult{{data: "A", version: "1"}},
		},
		{
			name: "outage until Heal",
			setup: func(p *memory.Provider) {
				p.Fail("", errBackend, -1)
				p.Fail("b", context.DeadlineExceeded, 1) // its own script goes first
			},
			fetch: []string{"a", "b", "b", "heal", "a", "b"},
			want: []fetchResult{
				{err: errBackend}, {err: context.DeadlineExceeded}, {err: errBackend},
				{}, {data: "A", version: "1"}, {data: "B", version: "1"},
			},
		},
		{
			name:  "Fail applies to a missing name",
			setup: func(p *memory.Provider) { p.Fail("missing", errBackend, 1) },
			fetch: []string{"missing", "missing"},
			want:  []fetchResult{{err: errBackend}, {err: providers.ErrNotFound}},
		},
		{
			name:  "Corrupt then the real value",
			setup: func(p *memory.Provider) { p.Corrupt("a", []byte("garbage"), 2) },
			fetch: []string{"a", "a", "a"},
			want:  []fetchResult{{data: "garbage", version: "1-corrupt-1"}, {data: "garbage", version: "1-corrupt-1"}, {data: "A", version: "1"}},
		},
		{
			name: "Corrupt is not consumed by a failure or a missing name",
			setup: func(p *memory.Provider) {
				p.Corrupt("", []byte("garbage"), 1)
				p.Fail("a", errBackend, 1)
			},
			fetch: []string{"a", "missing", "b", "b"},
			want:  []fetchResult{{err: errBackend}, {err: providers.ErrNotFound}, {data: "garbage", version: "1-corrupt-1"}, {data: "B", version: "1"}},
		},
		{
			name:  "Corrupt until Heal, new corruption new version",
			setup: func(p *memory.Provider) { p.Corrupt("a", []byte("x"), -1); p.Corrupt("a", []byte("y"), -1) },
			fetch: []string{"a", "a", "heal-a", "a"},
			want:  []fetchResult{{data: "y", version: "1-corrupt-2"}, {data: "y", version: "1-corrupt-2"}, {}, {data: "A", version: "1"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := memory.New(nil)
			defer p.Close()
			p.Set("a", []byte("A"), nil)
			p.Set("b", []byte("B"), nil)
			tc.setup(p)
			for i, name := range tc.fetch {
				switch name {
				case "heal":
					p.Heal("")
					continue
				case "heal-a":
					p.Heal("a")
					continue
				}
				v, err := p.Fetch(t.Context(), memory.Ref(name))
				want := tc.want[i]
				switch {
				case want.err == errAny && err != nil:
				case want.err != nil && !errors.Is(err, want.err):
					t.Errorf("fetch %d of %q: error %v, want one wrapping %v", i, name, err, want.err)
				case want.err == nil && err != nil:
					t.Errorf("fetch %d of %q: %v", i, name, err)
				case want.err == nil && (string(v.Data) != want.data || v.Version != want.version):
					t.Errorf("fetch %d of %q = %q version %q, want %q version %q", i, name, v.Data, v.Version, want.data, want.version)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "providers/memory: ") {
					t.Errorf("fetch %d: error %q lacks the package prefix", i, err)
				}
			}
		})
	}
}

// errAny stands for "any error" in a fetchResult.
var errAny = errors.New("any error")

func TestCorruptCopiesData(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	p.Set("a", []byte("A"), nil)
	bad := []byte("garbage")
	p.Corrupt("a", bad, 1)
	copy(bad, "XXXXXXX")
	v, err := p.Fetch(t.Context(), memory.Ref("a"))
	if err != nil || string(v.Data) != "garbage" {
		t.Errorf("Fetch = %q, %v; want the data as it was when Corrupt was called", v.Data, err)
	}
}

// clocked returns a provider on a virtual clock, holding "A" under the name
// a, and closes it when the test ends.
func clocked(t *testing.T) (*memory.Clock, *memory.Provider) {
	clock := memory.NewClock(epoch)
	p := memory.New(&memory.Options{Clock: clock})
	t.Cleanup(func() { p.Close() })
	p.Set("a", []byte("A"), nil)
	return clock, p
}

// fetchAsync fetches ref in a goroutine and delivers the outcome.
func fetchAsync(ctx context.Context, p *memory.Provider, ref string) <-chan error {
	done := make(chan error, 1)
	go func() {
		v, err := p.Fetch(ctx, ref)
		v.Wipe()
		done <- err
	}()
	return done
}

func TestLatencyOnVirtualClock(t *testing.T) {
	clock, p := clocked(t)
	p.SetLatency("a", time.Second)

	done := fetchAsync(t.Context(), p, memory.Ref("a"))
	waitFor(t, "the fetch schedules its timer", func() bool { return clock.Timers() == 1 })
	clock.Advance(time.Second - time.Nanosecond)
	select {
	case err := <-done:
		t.Fatalf("Fetch returned (%v) before the latency elapsed", err)
	case <-time.After(50 * time.Millisecond): // absence: the fetch must still wait
	}
	clock.Advance(time.Nanosecond)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Fetch after the latency: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch did not return once the clock passed the latency")
	}
}

func TestLatencyEndsWithContextOrClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(cancel context.CancelFunc, p *memory.Provider)
		want error
	}{
		{"cancel", func(cancel context.CancelFunc, _ *memory.Provider) { cancel() }, context.Canceled},
		{"close", func(_ context.CancelFunc, p *memory.Provider) { p.Close() }, providers.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock, p := clocked(t)
			p.SetLatency("", time.Hour) // every name
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			done := fetchAsync(ctx, p, memory.Ref("a"))
			waitFor(t, "the fetch schedules its timer", func() bool { return clock.Timers() == 1 })
			tc.end(cancel, p)
			select {
			case err := <-done:
				if !errors.Is(err, tc.want) {
					t.Errorf("Fetch = %v, want an error wrapping %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Fetch did not return")
			}
			if got := clock.Timers(); got != 0 {
				t.Errorf("Timers() = %d after the fetch gave up, want 0: it must stop its timer", got)
			}
		})
	}
}

func TestLatencyPerNameOverridesAll(t *testing.T) {
	clock, p := clocked(t)
	p.SetLatency("", time.Hour)
	p.SetLatency("a", -1)        // removes nothing of a's: a has none
	p.SetLatency("a", time.Hour) // then set
	p.SetLatency("a", 0)         // and removed: the latency of every name applies
	p.SetLatency("", 0)
	if _, err := p.Fetch(t.Context(), memory.Ref("a")); err != nil {
		t.Fatalf("Fetch with no latency left: %v", err)
	}
	p.SetLatency("a", time.Minute)
	done := fetchAsync(t.Context(), p, memory.Ref("a"))
	waitFor(t, "the fetch schedules its timer", func() bool { return clock.Timers() == 1 })
	clock.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Errorf("Fetch: %v", err)
	}
}

func TestFetchesCounts(t *testing.T) {
	p := memory.New(nil)
	p.Set("a", []byte("A"), nil)
	p.Fail("a", errBackend, 1)
	ctx := t.Context()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, fetch := range []struct {
		ctx context.Context
		ref string
	}{
		{ctx, memory.Ref("a")},       // fails, counts
		{ctx, memory.Ref("a")},       // succeeds
		{cancelled, memory.Ref("a")}, // ended before: does not count
		{ctx, memory.Ref("b")},       // another name
		{ctx, "memory:a"},            // invalid: does not count
	} {
		v, _ := p.Fetch(fetch.ctx, fetch.ref)
		v.Wipe()
	}
	if got := p.Fetches("a"); got != 2 {
		t.Errorf("Fetches(a) = %d, want 2", got)
	}
	p.Close()
	p.Fetch(ctx, memory.Ref("a"))
	if got := p.Fetches("a"); got != 2 {
		t.Errorf("Fetches(a) after Close = %d, want 2: a fetch of a closed provider does not count", got)
	}
	if got := p.Fetches("b"); got != 1 {
		t.Errorf("Fetches(b) = %d, want 1", got)
	}
}

func TestRevoke(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	ctx, ref := t.Context(), memory.Ref("a")
	p.Set("a", []byte("one"), nil)
	p.Set("a", []byte("two"), nil)
	if err := p.Revoke(ctx, ref, "1"); err != nil {
		t.Fatalf("Revoke of an old version: %v", err)
	}
	if v, err := p.Fetch(ctx, ref); err != nil || string(v.Data) != "two" {
		t.Errorf("Fetch after revoking an old version = %v, %v; want two", v, err)
	}
	if err := p.Revoke(ctx, ref, "2"); err != nil {
		t.Fatalf("Revoke of the current version: %v", err)
	}
	if err := p.Revoke(ctx, ref, "2"); err != nil {
		t.Errorf("second Revoke of the same version: %v, want nil", err)
	}
	if _, err := p.Fetch(ctx, ref); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Fetch of a revoked current version: %v, want ErrNotFound", err)
	}
	for _, v := range []string{"0", "3", "01", "+2", "two", ""} {
		if err := p.Revoke(ctx, ref, v); !errors.Is(err, providers.ErrNotFound) {
			t.Errorf("Revoke(%q) = %v, want ErrNotFound", v, err)
		}
	}
	p.Set("a", []byte("three"), nil)
	if v, err := p.Fetch(ctx, ref); err != nil || string(v.Data) != "three" {
		t.Errorf("Fetch after a new Set = %v, %v; want three", v, err)
	}
	p.Remove("a")
	p.Set("a", []byte("four"), nil) // version 4, a new life: 1..3 are gone
	if err := p.Revoke(ctx, ref, "3"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Revoke of a version from before Remove = %v, want ErrNotFound", err)
	}
	if got, want := p.Revoked("a"), []string{"1", "2"}; !slices.Equal(got, want) {
		t.Errorf("Revoked(a) = %q, want %q", got, want)
	}
}
