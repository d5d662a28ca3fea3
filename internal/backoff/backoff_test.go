package backoff

import (
	"bytes"
	"testing"
	"time"
)

// ones is a source of 0xff bytes: every draw is just under its bound.
type ones struct{}

func (ones) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 0xff
	}
	return len(b), nil
}

func TestBackoffBounds(t *testing.T) {
	r := New(ones{})
	var got []time.Duration
	for n := 1; n <= 6; n++ {
		got = append(got, r.Backoff(n, time.Second, 8*time.Second).Round(time.Millisecond))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff bounds = %v, want %v", got, want)
		}
	}
	// All-zero randomness gives the floor, never zero.
	if d := New(bytes.NewReader(make([]byte, 64))).Backoff(3, time.Second, time.Minute); d != 100*time.Millisecond {
		t.Errorf("floor = %v, want 100ms", d)
	}
}

func TestUptoRange(t *testing.T) {
	r := New(nil)
	for range 1000 {
		if d := r.Upto(time.Second); d < 0 || d >= time.Second {
			t.Fatalf("Upto(1s) = %v", d)
		}
	}
	if r.Upto(0) != 0 || r.Upto(-time.Second) != 0 {
		t.Error("Upto of a non-positive duration is not 0")
	}
}
