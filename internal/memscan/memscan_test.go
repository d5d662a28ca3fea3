//go:build linux

package memscan

import (
	"runtime"
	"testing"
)

func TestFindsHeapCopyAndNotAfterWipe(t *testing.T) {
	m := NewMarker(24)
	if found, err := m.Find(); err != nil || len(found) != 0 {
		t.Fatalf("before any copy: %v, %v", found, err)
	}
	var heap []byte
	m.Reveal(func(b []byte) error {
		heap = make([]byte, len(b))
		copy(heap, b)
		return nil
	})
	found, err := m.Find()
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("found %d copies, want the one on the heap: %v", len(found), found)
	}
	clear(heap)
	runtime.KeepAlive(heap)
	if found, _ := m.Find(); len(found) != 0 {
		t.Fatalf("found after the wipe: %v", found)
	}
}

func TestFrom(t *testing.T) {
	m := NewMarker(16)
	var other *Marker
	m.Reveal(func(b []byte) error { other = m.From(b); return nil })
	if found, _ := other.Find(); len(found) != 0 {
		t.Fatalf("a marker made with From is found in clear: %v", found)
	}
}
