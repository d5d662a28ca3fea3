//go:build linux

package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/strongroom/strongroom/internal/memscan"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/secrets"
)

// Searches the process's own memory for a value after each step of its
// life in the store (a fetch from a real file, a Use, a refresh, Close)
// and fails on any copy left outside the store's sealed memory. The test
// holds the value only masked (see internal/memscan). What it cannot rule
// out: copies the kernel keeps (the file's page cache), and copies made by
// code outside strongroom (the user's function given to Use).
func TestNoPlaintextLeftInMemory(t *testing.T) {
	for _, size := range []int{24, 100} { // one block of the cipher, and several
		t.Run(sizeName(size), func(t *testing.T) { noPlaintextLeft(t, size) })
	}
}

func sizeName(n int) string {
	return "bytes=" + string(rune('0'+n/100)) + string(rune('0'+n/10%10)) + string(rune('0'+n%10))
}

func noPlaintextLeft(t *testing.T, size int) {
	marker := memscan.NewMarker(size)
	dir := t.TempDir()
	path := filepath.Join(dir, "db-password")
	writeMarker(t, marker, path)

	fp, err := file.New(&file.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	store, err := secrets.Open(context.Background(), &secrets.Options{
		Providers: map[string]providers.Provider{"file": fp},
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			store.Close()
		}
	}()
	check := func(step string) {
		t.Helper()
		runtime.GC()
		found, err := marker.Find()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range found {
			t.Errorf("after %s: a copy of the value at %v", step, m)
		}
	}

	if err := store.Add(secrets.Spec{Name: "db-password", Ref: "file:db-password"}); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("the first fetch")

	seen := false
	err = store.Use(context.Background(), "db-password", func(v []byte) error {
		seen = marker.Equal(v)
		return nil
	})
	if err != nil || !seen {
		t.Fatalf("Use: %v; value as written: %v", err, seen)
	}
	check("Use")

	if err := store.Refresh(context.Background(), "db-password"); err != nil {
		t.Fatal(err)
	}
	check("a refresh of the same value")

	closed = true
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	check("Close")
}

// writeMarker writes the marker to path without a copy in Go memory.
func writeMarker(t *testing.T, m *memscan.Marker, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := m.Reveal(func(b []byte) error { _, err := f.Write(b); return err }); err != nil {
		t.Fatal(err)
	}
}
