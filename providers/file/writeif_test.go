package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
)

func TestWriteIf(t *testing.T) {
	if !canLock {
		t.Skip("no file locks on this system")
	}
	root := t.TempDir()
	p := newProvider(t, &Options{Root: root, Settle: -1})
	ctx := t.Context()

	// A missing directory holds no file: a version is a conflict, "" is
	// the error Write gives.
	_, err := p.WriteIf(ctx, "file:sub/new", []byte("fresh"), "0123456789abcdef")
	wantErr(t, err, providers.ErrConflict)
	_, err = p.WriteIf(ctx, "file:sub/new", []byte("fresh"), "")
	wantErr(t, err, providers.ErrNotFound)

	// Parts and invalid data are refused as Write refuses them.
	_, err = p.WriteIf(ctx, "file:app.json#/a", []byte(`"x"`), "")
	wantErr(t, err, providers.ErrUnsupported)
	_, err = p.WriteIf(ctx, "file:app.json", []byte(`{"a": "Zq8#xV!p`), "")
	wantErr(t, err, providers.ErrInvalid)
	checkNoContent(t, err.Error(), []byte(`{"a": "Zq8#xV!p`))

	// A structured file's version is that of the whole file.
	first, err := p.WriteIf(ctx, "file:app.json", []byte(`{"a": "x"}`), "")
	if err != nil {
		t.Fatal(err)
	}
	expectValue(t, p, "file:app.json#a", "x")
	if v := expectValue(t, p, "file:app.json", `{"a": "x"}`); v != first {
		t.Errorf("WriteIf returned version %q, Fetch %q", first, v)
	}

	// Versions are this Provider's: another's never match.
	other := newProvider(t, &Options{Root: root, Settle: -1})
	_, err = other.WriteIf(ctx, "file:app.json", []byte(`{"a": "y"}`), first)
	wantErr(t, err, providers.ErrConflict)
	expectValue(t, p, "file:app.json#a", "x")

	// Versions are hashes of content: content written again by another
	// writer compares equal.
	replaceFile(t, filepath.Join(root, "app.json"), []byte(`{"a": "x"}`))
	if _, err := p.WriteIf(ctx, "file:app.json", []byte(`{"a": "z"}`), first); err != nil {
		t.Errorf("WriteIf on the version of content written again: %v", err)
	}

	info, err := os.Lstat(filepath.Join(root, ".app.json.lock"))
	if err != nil {
		t.Fatalf("no lock file: %v", err)
	}
	if runtime.GOOS != "windows" && info.Mode() != 0o600 {
		t.Errorf("lock file mode %v, want a regular file with mode 0600", info.Mode())
	}
	if err := p.Delete(ctx, "file:app.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, ".app.json.lock")); err != nil {
		t.Errorf("Delete removed the lock file: %v", err)
	}
	wantErr(t, p.Delete(ctx, "file:missing"), providers.ErrNotFound)
	if _, err := os.Lstat(filepath.Join(root, ".missing.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Delete of a missing file created a lock file: %v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = p.WriteIf(ctx, "file:app.json", []byte(`{}`), "")
	wantErr(t, err, providers.ErrClosed)
}

// TestLockExcludesWriters: Write, WriteIf and Delete wait for the lock that
// another holds, until their context ends.
func TestLockExcludesWriters(t *testing.T) {
	if !canLock {
		t.Skip("no file locks on this system")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	writeFile(t, path, []byte("old"))
	p := newProvider(t, &Options{Settle: -1})
	ref := "file://" + filepath.ToSlash(path)
	version := expectValue(t, p, ref, "old")

	f, err := os.OpenFile(filepath.Join(dir, ".secret.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if locked, err := tryLock(f); !locked {
		t.Fatalf("tryLock: %v, %v", locked, err)
	}
	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Write", func(ctx context.Context) error { _, err := p.Write(ctx, ref, []byte("new")); return err }},
		{"WriteIf", func(ctx context.Context) error { _, err := p.WriteIf(ctx, ref, []byte("new"), version); return err }},
		{"Delete", func(ctx context.Context) error { return p.Delete(ctx, ref) }},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err := tc.call(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s while another holds the lock: %v, want the context's error", tc.name, err)
		}
	}
	expectValue(t, p, ref, "old")

	done := make(chan error, 1)
	go func() {
		_, err := p.WriteIf(t.Context(), ref, []byte("new"), version)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := unlockFile(f); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WriteIf once the lock was released: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WriteIf still waiting 5s after the lock was released")
	}
	expectValue(t, p, ref, "new")
}
