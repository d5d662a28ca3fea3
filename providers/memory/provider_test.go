package memory_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
)

func TestSetMetadata(t *testing.T) {
	clock := memory.NewClock(epoch)
	created := epoch.Add(-24 * time.Hour)
	for _, tc := range []struct {
		name        string
		opts        *memory.SetOptions
		wantExpires time.Time
		wantCreated time.Time
	}{
		{"nil options", nil, time.Time{}, epoch},
		{"TTL", &memory.SetOptions{TTL: time.Hour}, epoch.Add(time.Hour), epoch},
		{"TTL overrides ExpiresAt", &memory.SetOptions{TTL: time.Hour, ExpiresAt: epoch.Add(time.Minute)}, epoch.Add(time.Hour), epoch},
		{"ExpiresAt", &memory.SetOptions{ExpiresAt: epoch.Add(time.Minute)}, epoch.Add(time.Minute), epoch},
		{"CreatedAt", &memory.SetOptions{CreatedAt: created}, time.Time{}, created},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := memory.New(&memory.Options{Clock: clock})
			defer p.Close()
			p.Set("a", []byte("A"), tc.opts)
			v, err := p.Fetch(t.Context(), memory.Ref("a"))
			if err != nil {
				t.Fatal(err)
			}
			if !v.ExpiresAt.Equal(tc.wantExpires) || !v.CreatedAt.Equal(tc.wantCreated) {
				t.Errorf("ExpiresAt, CreatedAt = %v, %v; want %v, %v", v.ExpiresAt, v.CreatedAt, tc.wantExpires, tc.wantCreated)
			}
		})
	}
}

func TestExpiredValueIsServed(t *testing.T) {
	clock, p := clocked(t)
	p.Set("a", []byte("A"), &memory.SetOptions{TTL: time.Minute})
	clock.Advance(time.Hour)
	v, err := p.Fetch(t.Context(), memory.Ref("a"))
	if err != nil || string(v.Data) != "A" || !v.ExpiresAt.Before(clock.Now()) {
		t.Errorf("Fetch past expiry = %v, %v; want the expired value with its ExpiresAt", v, err)
	}
}

func TestLabelsAreCopied(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	labels := map[string]string{"owner": "payments"}
	p.Set("a", []byte("A"), &memory.SetOptions{Labels: labels})
	labels["owner"] = "changed after Set"
	v, err := p.Fetch(t.Context(), memory.Ref("a"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v.Labels["owner"]; got != "payments" {
		t.Errorf("label owner = %q, want payments: Set must copy the map", got)
	}
}

func TestVersionsCountPerName(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	var got []string
	got = append(got, p.Set("a", []byte("1"), nil), p.Set("b", []byte("1"), nil), p.Set("a", []byte("2"), nil))
	p.Remove("a")
	got = append(got, p.Set("a", []byte("3"), nil))
	w, err := p.Write(t.Context(), memory.Ref("a"), []byte("4"))
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, w)
	if want := []string{"1", "1", "2", "3", "4"}; !slices.Equal(got, want) {
		t.Errorf("versions = %q, want %q (a version is never reused for a name)", got, want)
	}
}

func TestAfterClose(t *testing.T) {
	p := memory.New(nil)
	p.Set("a", []byte("A"), nil)
	p.Close()
	if v := p.Set("a", []byte("B"), nil); v != "" {
		t.Errorf("Set after Close = %q, want \"\"", v)
	}
	p.Remove("a") // must not panic
	if _, err := p.Fetch(t.Context(), memory.Ref("a")); !errors.Is(err, providers.ErrClosed) {
		t.Errorf("Fetch after Close: %v, want ErrClosed", err)
	}
}

// staysAt checks, after giving wrong calls time to show up, that changed
// was called n times.
func staysAt(t *testing.T, calls *atomic.Int32, n int32) {
	t.Helper()
	time.Sleep(50 * time.Millisecond)
	if got := calls.Load(); got != n {
		t.Errorf("changed was called %d times, want %d", got, n)
	}
}

// watched starts a watch of name that counts its calls.
func watched(t *testing.T, p *memory.Provider, name string) (calls *atomic.Int32, stop func()) {
	t.Helper()
	calls = new(atomic.Int32)
	stop, err := p.Watch(t.Context(), memory.Ref(name), func() { calls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	return calls, stop
}

func TestWatchSignals(t *testing.T) {
	ctx, ref := context.Background(), memory.Ref("a")
	for _, tc := range []struct {
		name   string
		change func(p *memory.Provider)
		signal bool
	}{
		{"Set", func(p *memory.Provider) { p.Set("a", []byte("new"), nil) }, true},
		{"Remove", func(p *memory.Provider) { p.Remove("a") }, true},
		{"Write", func(p *memory.Provider) { p.Write(ctx, ref, []byte("new")) }, true},
		{"Delete", func(p *memory.Provider) { p.Delete(ctx, ref) }, true},
		{"Revoke", func(p *memory.Provider) { p.Revoke(ctx, ref, "1") }, true},
		{"Notify", func(p *memory.Provider) { p.Notify("a") }, true},
		{"Set of another name", func(p *memory.Provider) { p.Set("b", []byte("new"), nil) }, false},
		{"Remove of a missing name", func(p *memory.Provider) { p.Remove("missing") }, false},
		{"Fail", func(p *memory.Provider) { p.Fail("a", nil, 1) }, false},
		{"Corrupt", func(p *memory.Provider) { p.Corrupt("a", []byte("bad"), 1) }, false},
		{"Fetch", func(p *memory.Provider) { p.Fetch(ctx, ref) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := memory.New(nil)
			defer p.Close()
			p.Set("a", []byte("A"), nil)
			calls, stop := watched(t, p, "a")
			defer stop()
			tc.change(p)
			if tc.signal {
				waitFor(t, "changed is called", func() bool { return calls.Load() > 0 })
				return
			}
			staysAt(t, calls, 0)
		})
	}
}

// TestWatchCallbackMayUseProvider shows that changed may call the provider,
// even Set the name it watches, without deadlock; signals that arrive while
// it runs coalesce.
func TestWatchCallbackMayUseProvider(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	var calls atomic.Int32
	release := make(chan struct{})
	stop, err := p.Watch(t.Context(), memory.Ref("a"), func() {
		if calls.Add(1) == 1 {
			<-release // hold the first call while more signals arrive
			p.Set("a", []byte("from the callback"), nil)
		}
		v, _ := p.Fetch(context.Background(), memory.Ref("a"))
		v.Wipe()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	p.Set("a", []byte("1"), nil)
	waitFor(t, "the first call starts", func() bool { return calls.Load() == 1 })
	for range 5 {
		p.Set("a", []byte("more"), nil)
	}
	close(release)
	waitFor(t, "the coalesced call", func() bool { return calls.Load() >= 2 })
	staysAt(t, &calls, 2) // the first, then one for the burst, its own Set included
}

func TestWatchNilChangedPanics(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	defer func() {
		if recover() == nil {
			t.Error("Watch with a nil func did not panic")
		}
	}()
	p.Watch(t.Context(), memory.Ref("a"), nil)
}
