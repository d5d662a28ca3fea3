package guard

import (
	"errors"
	"strings"
	"testing"

	"github.com/strongroom/strongroom/internal/unpriv"
)

// These tests run as user nobody under a small RLIMIT_MEMLOCK, where mlock
// really fails: memguard would panic and wipe the process; a Guard must not.
func TestUnprivilegedLimit(t *testing.T) {
	if unpriv.Child() {
		t.Skip("parent only")
	}
	out := unpriv.Run(t, 64<<10, "TestChildSmallLimit")
	if !strings.Contains(out, "--- PASS: TestChildSmallLimit") {
		t.Errorf("child did not pass:\n%s", out)
	}
	out = unpriv.Run(t, 0, "TestChildNoLocking")
	if !strings.Contains(out, "--- PASS: TestChildNoLocking") {
		t.Errorf("child did not pass:\n%s", out)
	}
}

func TestChildSmallLimit(t *testing.T) {
	if !unpriv.Child() {
		t.Skip("runs under TestUnprivilegedLimit")
	}
	g := newGuard(t, nil) // default 2 MiB cap, but only 64 KiB allowed
	if !g.Locked() {
		t.Fatal("Locked() = false under a 64 KiB limit")
	}
	// 65536-byte slots need 64 KiB each: the second cannot fit.
	s, _ := g.Seal(make([]byte, 40000))
	err := g.Open(s, func([]byte) error { return nil })
	if !errors.Is(err, ErrLockedMemory) {
		t.Fatalf("Open beyond RLIMIT_MEMLOCK = %v, want ErrLockedMemory", err)
	}
	t.Logf("refused cleanly: %v", err)
	small, _ := g.Seal([]byte("still works"))
	if err := g.Open(small, func(p []byte) error {
		if string(p) != "still works" {
			t.Error("wrong plaintext")
		}
		return nil
	}); err != nil {
		t.Errorf("small Open after a refusal: %v", err)
	}
}

func TestChildNoLocking(t *testing.T) {
	if !unpriv.Child() {
		t.Skip("runs under TestUnprivilegedLimit")
	}
	if _, err := New(nil); !errors.Is(err, ErrLockedMemory) {
		t.Fatalf("New with RLIMIT_MEMLOCK 0 = %v, want ErrLockedMemory", err)
	}
	g := newGuard(t, &Options{AllowUnlocked: true})
	if g.Locked() {
		t.Error("Locked() = true with RLIMIT_MEMLOCK 0")
	}
	s, _ := g.Seal([]byte("sealed, unlocked"))
	if err := g.Open(s, func(p []byte) error {
		if string(p) != "sealed, unlocked" {
			t.Error("wrong plaintext")
		}
		return nil
	}); err != nil {
		t.Errorf("Open unlocked: %v", err)
	}
}
