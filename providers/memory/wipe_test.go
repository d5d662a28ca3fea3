package memory

import (
	"testing"
)

// TestStoredCopiesAreWiped checks, from inside, that the provider overwrites
// its own copy of a value when the value is replaced, removed or closed.
func TestStoredCopiesAreWiped(t *testing.T) {
	for _, tc := range []struct {
		name string
		drop func(p *Provider)
	}{
		{"overwrite", func(p *Provider) { p.Set("a", []byte("new"), nil) }},
		{"Remove", func(p *Provider) { p.Remove("a") }},
		{"Delete", func(p *Provider) { p.Delete(t.Context(), Ref("a")) }},
		{"Close", func(p *Provider) { p.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New(nil)
			defer p.Close()
			p.Set("a", []byte("secret"), nil)
			p.Corrupt("a", []byte("corrupt"), -1)
			stored, corrupt := p.entries["a"].data, p.corrupts["a"].data
			tc.drop(p)
			if string(stored) != "\x00\x00\x00\x00\x00\x00" {
				t.Errorf("the stored copy holds %q after %s, want zeros", stored, tc.name)
			}
			if tc.name == "Close" && string(corrupt) != "\x00\x00\x00\x00\x00\x00\x00" {
				t.Errorf("the corrupt data holds %q after Close, want zeros", corrupt)
			}
		})
	}
}

func TestCorruptDataWipedWhenSpent(t *testing.T) {
	p := New(nil)
	defer p.Close()
	p.Set("a", []byte("secret"), nil)
	p.Corrupt("a", []byte("bad"), 1)
	corrupt := p.corrupts["a"].data
	p.Fetch(t.Context(), Ref("a"))
	if string(corrupt) != "\x00\x00\x00" {
		t.Errorf("spent corrupt data holds %q, want zeros", corrupt)
	}
}
