//go:build unix

package file

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// TestFetchNotRegular checks that a FIFO where a secret file was expected
// is refused at once, without blocking on the open.
func TestFetchNotRegular(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	p := newProvider(t, &Options{Root: root})
	done := make(chan error, 1)
	go func() {
		_, err := p.Fetch(t.Context(), "file:fifo")
		done <- err
	}()
	select {
	case err := <-done:
		wantErr(t, err, providers.ErrInvalid)
	case <-time.After(5 * time.Second):
		t.Fatal("Fetch of a FIFO blocked")
	}
}
