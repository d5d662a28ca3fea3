package providertest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/strongroom/strongroom/providers"
)

func testCancelledContext(t *testing.T, h Harness) {
	f := open(t, h)
	want := f.set("alpha")
	ref := f.ref("alpha")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var (
		v   *providers.Value
		err error
	)
	within(t, "Fetch with a cancelled context", func() { v, err = f.p.Fetch(ctx, ref) })
	defer v.Wipe()
	switch {
	case err == nil:
		if v == nil || !bytes.Equal(v.Data, want) {
			t.Errorf("providertest: Fetch with a cancelled context returned no error and not the value")
		}
	case errors.Is(err, context.Canceled):
		f.checkErr(err, "Fetch with a cancelled context")
	default:
		t.Errorf("providertest: Fetch with a cancelled context: got error %q, want one wrapping %q, or the value", err, context.Canceled)
	}
}

func testConcurrent(t *testing.T, h Harness) {
	const workers, rounds = 8, 50
	f := open(t, h)
	f.set("alpha")
	ctx, ref := t.Context(), f.ref("alpha")

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions = make(map[string]string) // version -> data
	)
	for range workers {
		wg.Go(func() {
			for range rounds {
				v, err := f.p.Fetch(ctx, ref)
				if err != nil {
					f.checkErr(err, "concurrent Fetch")
					t.Errorf("providertest: concurrent Fetch: %v", err)
					return
				}
				if !f.isSecret(v.Data) {
					t.Errorf("providertest: concurrent Fetch returned %q, which was never set", v.Data)
				}
				if v.Version != "" {
					mu.Lock()
					if data, ok := versions[v.Version]; ok && data != string(v.Data) {
						t.Errorf("providertest: concurrent fetches returned version %q for %q and for %q", v.Version, data, v.Data)
					}
					versions[v.Version] = string(v.Data)
					mu.Unlock()
				}
				v.Wipe()
			}
		})
	}
	if w, ok := f.p.(providers.Writer); ok {
		wg.Go(func() {
			for range rounds {
				if _, err := w.Write(ctx, ref, f.secret("alpha")); err != nil {
					f.checkErr(err, "concurrent Write")
					t.Errorf("providertest: concurrent Write: %v", err)
					return
				}
			}
		})
	}
	if w, ok := f.p.(providers.Watcher); ok {
		wg.Go(func() {
			for range rounds {
				stop, err := w.Watch(ctx, ref, func() {})
				if err != nil {
					f.checkErr(err, "concurrent Watch")
					t.Errorf("providertest: concurrent Watch: %v", err)
					return
				}
				stop()
			}
		})
	}
	if h.Caps.Mutable {
		for range rounds {
			f.set("alpha")
		}
	}
	wg.Wait()
}

func testClose(t *testing.T, h Harness) {
	before := goleak.IgnoreCurrent()
	f := open(t, h)
	f.set("alpha")
	f.fetch("alpha", "Fetch before Close").Wipe()
	if w, ok := f.p.(providers.Watcher); ok {
		for _, keep := range []bool{false, true} { // Close must end the watch that is kept
			stop, err := w.Watch(t.Context(), f.ref("alpha"), func() {})
			if err != nil {
				f.checkErr(err, "Watch before Close")
				t.Fatalf("providertest: Watch before Close: %v", err)
			}
			if !keep {
				stop()
			}
		}
	}
	if err := f.close("first Close"); err != nil {
		t.Errorf("providertest: first Close: %v", err)
	}
	if err := f.close("second Close"); err != nil {
		t.Errorf("providertest: second Close returned %q, want nil", err)
	}
	for _, o := range f.ops() {
		f.expectErr(o.call(t.Context(), f.ref("alpha")), providers.ErrClosed, o.name+" after Close")
	}
	goleak.VerifyNone(t, before)
}

func testCloseConcurrent(t *testing.T, h Harness) {
	const workers = 8
	f := open(t, h)
	want := f.set("alpha")
	ctx, ref := t.Context(), f.ref("alpha")
	start, closed := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			<-start
			for deadline := time.Now().Add(eventually); ; {
				var after bool // this Fetch began after Close returned
				select {
				case <-closed:
					after = true
				default:
				}
				v, err := f.p.Fetch(ctx, ref)
				if err != nil {
					f.expectErr(err, providers.ErrClosed, "Fetch concurrent with Close")
					return
				}
				if !bytes.Equal(v.Data, want) {
					t.Errorf("providertest: Fetch concurrent with Close returned %q, want %q", v.Data, want)
				}
				v.Wipe()
				if after {
					t.Errorf("providertest: Fetch begun after Close returned gave a value")
					return
				}
				if time.Now().After(deadline) {
					t.Errorf("providertest: Fetch still did not fail %v after Close began", eventually)
					return
				}
			}
		})
	}
	close(start)
	if err := f.close("Close concurrent with Fetch"); err != nil {
		t.Errorf("providertest: Close concurrent with Fetch: %v", err)
	}
	close(closed)
	wg.Wait()
}
