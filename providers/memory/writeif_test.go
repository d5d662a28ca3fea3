package memory_test

import (
	"errors"
	"testing"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
)

// TestWriteIfVersions: the current version WriteIf compares with is the one
// Fetch reports: the version number, or none for a revoked value; scripted
// fetch faults do not reach WriteIf.
func TestWriteIfVersions(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	ctx, ref := t.Context(), memory.Ref("a")
	p.Set("a", []byte("A1"), nil)
	p.Set("a", []byte("A2"), nil)

	for _, tc := range []struct {
		name      string
		ifVersion string
		want      string // the new version, or "" for a conflict
	}{
		{"an earlier version", "1", ""},
		{"a version to come", "3", ""},
		{"not a number", "two", ""},
		{"none", "", ""},
		{"the current version", "2", "3"},
		{"the version WriteIf returned", "3", "4"},
	} {
		got, err := p.WriteIf(ctx, ref, []byte("new"), tc.ifVersion)
		if tc.want == "" {
			if !errors.Is(err, providers.ErrConflict) {
				t.Errorf("WriteIf on %s (%q): %q, %v; want a conflict", tc.name, tc.ifVersion, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("WriteIf on %s (%q): %q, %v; want %q", tc.name, tc.ifVersion, got, err, tc.want)
		}
	}

	if err := p.Revoke(ctx, ref, "4"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteIf(ctx, ref, []byte("B"), "4"); !errors.Is(err, providers.ErrConflict) {
		t.Errorf("WriteIf on a revoked current version: %v, want a conflict (Fetch reports no version)", err)
	}
	if got, err := p.WriteIf(ctx, ref, []byte("B"), ""); err != nil || got != "5" {
		t.Errorf(`WriteIf on "" with the current version revoked: %q, %v; want "5"`, got, err)
	}

	p.Fail("a", errors.New("scripted"), -1)
	if got, err := p.WriteIf(ctx, ref, []byte("C"), "5"); err != nil || got != "6" {
		t.Errorf("WriteIf while fetches fail: %q, %v; want %q", got, err, "6")
	}
}

// TestWriteIfSignalsWatches: a WriteIf that writes signals the watches of
// the name, as Write does.
func TestWriteIfSignalsWatches(t *testing.T) {
	p := memory.New(nil)
	defer p.Close()
	signals := make(chan struct{}, 1)
	stop, err := p.Watch(t.Context(), memory.Ref("a"), func() {
		select {
		case signals <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := p.WriteIf(t.Context(), memory.Ref("a"), []byte("A"), ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a signal after WriteIf", func() bool {
		select {
		case <-signals:
			return true
		default:
			return false
		}
	})
}
