package guard

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

func newGuard(t testing.TB, opts *Options) *Guard {
	t.Helper()
	g, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestSealOpenRoundTrip(t *testing.T) {
	g := newGuard(t, nil)
	for _, n := range []int{0, 1, 31, 32, 64, 65, 1000, 4096, 70000, 1 << 20, 1<<20 + 1} {
		plain := bytes.Repeat([]byte{0xA5}, n)
		s, err := g.Seal(plain)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", n, err)
		}
		if n >= 8 && bytes.Contains(s.box, plain[:min(n, 16)]) {
			t.Errorf("%d bytes: ciphertext contains the plaintext", n)
		}
		var seen []byte
		err = g.Open(s, func(p []byte) error {
			seen = append([]byte(nil), p...)
			return nil
		})
		if err != nil {
			t.Fatalf("Open(%d bytes): %v", n, err)
		}
		if !bytes.Equal(seen, plain) {
			t.Errorf("Open(%d bytes) returned different bytes", n)
		}
	}
}

func TestOpenWipesScratch(t *testing.T) {
	g := newGuard(t, nil)
	s, _ := g.Seal([]byte("correct horse battery staple"))
	var kept []byte
	g.Open(s, func(p []byte) error { kept = p; return nil })
	if !bytes.Equal(kept, make([]byte, len(kept))) {
		t.Errorf("scratch still holds %d non-zero bytes after Open returned", len(kept)-bytes.Count(kept, []byte{0}))
	}
	func() {
		defer func() { recover() }()
		g.Open(s, func(p []byte) error { kept = p; panic("boom") })
	}()
	if !bytes.Equal(kept, make([]byte, len(kept))) {
		t.Error("scratch not wiped after the callback panicked")
	}
}

func TestOpenReturnsCallbackError(t *testing.T) {
	g := newGuard(t, nil)
	s, _ := g.Seal([]byte("x"))
	want := errors.New("mine")
	if err := g.Open(s, func([]byte) error { return want }); err != want {
		t.Errorf("Open = %v, want the callback's error", err)
	}
}

func TestCorrupt(t *testing.T) {
	g := newGuard(t, nil)
	other := newGuard(t, nil)
	s, _ := g.Seal([]byte("value"))
	tests := []struct {
		name string
		s    *Sealed
		g    *Guard
	}{
		{"other guard's key", s, other},
		{"flipped bit", &Sealed{box: flip(s.box)}, g},
		{"truncated", &Sealed{box: s.box[:10]}, g},
		{"destroyed", func() *Sealed { d, _ := g.Seal([]byte("v")); d.Destroy(); return d }(), g},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := tt.g.Open(tt.s, func([]byte) error { called = true; return nil })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("Open = %v, want ErrCorrupt", err)
			}
			if called {
				t.Error("callback ran on a value that failed authentication")
			}
		})
	}
}

func flip(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-1] ^= 1
	return c
}

func TestScratch(t *testing.T) {
	g := newGuard(t, nil)
	var kept []byte
	err := g.Scratch(100, func(b []byte) error {
		if len(b) != 100 || !bytes.Equal(b, make([]byte, 100)) {
			t.Errorf("scratch: len %d, zeroed %v", len(b), bytes.Equal(b, make([]byte, len(b))))
		}
		copy(b, bytes.Repeat([]byte{1}, 100))
		kept = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kept, make([]byte, 100)) {
		t.Error("scratch not wiped")
	}
}

func TestBudgetRefusesWithoutPanic(t *testing.T) {
	// Room for the key page and nothing else.
	g := newGuard(t, &Options{MaxLocked: int64(2 * pageSize)})
	s, _ := g.Seal(make([]byte, 5000)) // needs an 8 KiB slot: over budget
	err := g.Open(s, func([]byte) error { return nil })
	var le *LockError
	if !errors.Is(err, ErrLockedMemory) || !errors.As(err, &le) {
		t.Fatalf("Open over budget = %v, want a *LockError", err)
	}
	if le.Need != int64(16384) || le.Budget != int64(2*pageSize) {
		t.Errorf("LockError = %+v", le)
	}
	if got := g.LockedBytes(); got > int64(2*pageSize) {
		t.Errorf("LockedBytes = %d, over the budget", got)
	}
}

func TestBudgetWaitsForSlot(t *testing.T) {
	// Key page plus one page of 64-byte slots.
	g := newGuard(t, &Options{MaxLocked: int64(2 * pageSize)})
	s, _ := g.Seal([]byte("small"))
	slots := pageSize / 64
	hold := make(chan struct{})
	var inside, done sync.WaitGroup
	inside.Add(slots)
	done.Add(slots)
	for range slots {
		go func() {
			defer done.Done()
			g.Open(s, func([]byte) error { inside.Done(); <-hold; return nil })
		}()
	}
	inside.Wait() // every slot is now held
	extra := make(chan error)
	go func() { extra <- g.Open(s, func([]byte) error { return nil }) }()
	select {
	case err := <-extra:
		t.Fatalf("Open with every slot held returned %v; want it to wait", err)
	default:
	}
	close(hold)
	if err := <-extra; err != nil {
		t.Errorf("Open after slots came back: %v", err)
	}
	done.Wait()
}

func TestConcurrentOpen(t *testing.T) {
	g := newGuard(t, nil)
	vals := [][]byte{[]byte("a"), bytes.Repeat([]byte("b"), 300), bytes.Repeat([]byte("c"), 5000)}
	var sealed []*Sealed
	for _, v := range vals {
		s, _ := g.Seal(v)
		sealed = append(sealed, s)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := (w + i) % len(vals)
				g.Open(sealed[k], func(p []byte) error {
					if !bytes.Equal(p, vals[k]) {
						t.Errorf("value %d mixed up", k)
					}
					return nil
				})
			}
		}()
	}
	wg.Wait()
}

func TestClose(t *testing.T) {
	g, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := g.Seal([]byte("v"))
	g.Open(s, func([]byte) error { return nil })
	if g.LockedBytes() == 0 {
		t.Error("LockedBytes = 0 after an Open")
	}
	g.Close()
	if err := g.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := g.Seal([]byte("v")); !errors.Is(err, ErrClosed) {
		t.Errorf("Seal after Close = %v, want ErrClosed", err)
	}
	if err := g.Scratch(10, func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Scratch after Close = %v, want ErrClosed", err)
	}
}

func BenchmarkOpen32(b *testing.B) {
	g := newGuard(b, nil)
	s, _ := g.Seal(make([]byte, 32))
	fn := func([]byte) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		g.Open(s, fn)
	}
}

// A burst in one size class must not starve the others once it is over:
// idle regions are reclaimed when the budget is spent.
func TestReclaimIdleRegions(t *testing.T) {
	g := newGuard(t, &Options{MaxLocked: int64(8 * pageSize)})
	big, _ := g.Seal(make([]byte, 1000))
	hold := make(chan struct{})
	var inside, done sync.WaitGroup
	const burst = 24 // 1024-byte slots: 6 pages, with the key 7 of the 8
	inside.Add(burst)
	done.Add(burst)
	for range burst {
		go func() {
			defer done.Done()
			g.Open(big, func([]byte) error { inside.Done(); <-hold; return nil })
		}()
	}
	inside.Wait()
	close(hold)
	done.Wait()
	// Two more classes need a page each: only one page is left unless the
	// 1024-byte regions, idle now, are given back.
	for _, n := range []int{100, 3000} {
		s, _ := g.Seal(make([]byte, n))
		if err := g.Open(s, func([]byte) error { return nil }); err != nil {
			t.Errorf("Open of %d bytes after the burst: %v", n, err)
		}
	}
	if err := g.Open(big, func([]byte) error { return nil }); err != nil {
		t.Errorf("Open in the reclaimed class: %v", err)
	}
}

// TestStarvedOpensAllFinish runs many more Opens than there are slots, on
// every core, with slots of one class spread over shards: each Open that
// finds its shard and the shared list empty steals from the others or
// waits, and a slot given back to a shard while it waits is handed over,
// so that all finish (a lost wake-up would hang here).
func TestStarvedOpensAllFinish(t *testing.T) {
	// Key page plus one page: one 4096-byte slot in all.
	g := newGuard(t, &Options{MaxLocked: int64(2 * pageSize)})
	v := bytes.Repeat([]byte("k"), 3000)
	s, _ := g.Seal(v)
	small, _ := g.Seal([]byte("small")) // a class that must not take the page for good
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				target, want := s, v
				if (w+i)%5 == 0 {
					target, want = small, []byte("small")
				}
				if err := g.Open(target, func(p []byte) error {
					if !bytes.Equal(p, want) {
						t.Error("value mixed up")
					}
					return nil
				}); err != nil && !errors.Is(err, ErrLockedMemory) {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}
