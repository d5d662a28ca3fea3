package file

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// expectValue fails the test unless ref holds want.
func expectValue(t *testing.T, p *Provider, ref, want string) string {
	t.Helper()
	v, err := p.Fetch(t.Context(), ref)
	if err != nil {
		t.Fatalf("Fetch(%q): %v", ref, err)
	}
	if string(v.Data) != want {
		t.Fatalf("Fetch(%q) = %q, want %q", ref, v.Data, want)
	}
	return v.Version
}

// TestWatchChanges checks each way a file changes, through file system
// events alone (polling off), and that the signal comes promptly.
func TestWatchChanges(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, path string, s signals, data []byte)
	}{
		{"rewrite in place", func(t *testing.T, path string, _ signals, data []byte) {
			writeFile(t, path, data)
		}},
		{"rename over", func(t *testing.T, path string, _ signals, data []byte) {
			replaceFile(t, path, data)
		}},
		{"delete and re-create", func(t *testing.T, path string, s signals, data []byte) {
			removeFile(t, path)
			s.wait(t, "after the delete")
			writeFile(t, path, data)
		}},
		{"rewrite in place, same size", func(t *testing.T, path string, _ signals, data []byte) {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.WriteAt(data, 0); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "secret")
			writeFile(t, path, []byte("version-1"))
			p := newProvider(t, &Options{Root: root, PollInterval: -1})
			s := watchFile(t, p, "file:secret")
			old := expectValue(t, p, "file:secret", "version-1")

			start := time.Now()
			c.change(t, path, s, []byte("version-2"))
			s.wait(t, "after the change")
			t.Logf("signalled %v after the change", time.Since(start))
			if expectValue(t, p, "file:secret", "version-2") == old {
				t.Error("the version did not change")
			}
		})
	}
}

// TestWatchLatency checks that changes are signalled by file system
// events alone, settling off, and logs the worst delay (about 10 ms, the
// burst's coalescing, on an idle machine). It asserts no bound: on a
// loaded machine a delay of 700 ms has been seen.
func TestWatchLatency(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeFile(t, path, []byte("0"))
	p := newProvider(t, &Options{Root: root, PollInterval: -1, Settle: -1})
	s := watchFile(t, p, "file:secret")
	var worst time.Duration
	for i := range 5 {
		start := time.Now()
		replaceFile(t, path, []byte{byte('1' + i)})
		s.wait(t, "after a rename")
		worst = max(worst, time.Since(start))
		time.Sleep(2 * coalesceDelay) // let the burst end
		s.drain()
	}
	t.Logf("worst delay %v", worst)
}

// TestWatchKubernetes replays how the kubelet updates a secret volume:
// the visible name is a link through "..data", a link to a timestamped
// directory, replaced atomically by renaming a new link over it.
func TestWatchKubernetes(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "..2025_01", "password"), []byte("first"))
	mustSymlink(t, "..2025_01", filepath.Join(root, "..data"))
	mustSymlink(t, "..data/password", filepath.Join(root, "password"))
	p := newProvider(t, &Options{Root: root, PollInterval: -1})
	s := watchFile(t, p, "file:password")
	expectValue(t, p, "file:password", "first")

	swap := func(dir, data string) {
		t.Helper()
		writeFile(t, filepath.Join(root, dir, "password"), []byte(data))
		mustSymlink(t, dir, filepath.Join(root, "..data_tmp"))
		if err := os.Rename(filepath.Join(root, "..data_tmp"), filepath.Join(root, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	s.drain()
	swap("..2025_02", "second")
	s.wait(t, "after the ..data swap")
	expectValue(t, p, "file:password", "second")

	if err := os.RemoveAll(filepath.Join(root, "..2025_01")); err != nil {
		t.Fatal(err)
	}
	expectValue(t, p, "file:password", "second")

	time.Sleep(2 * coalesceDelay)
	s.drain()
	swap("..2025_03", "third")
	s.wait(t, "after a second swap")
	expectValue(t, p, "file:password", "third")
}

// TestWatchPolling checks the fallback: a change that no event in a
// watched directory reports (a link above the file's directory swapped),
// and a watched directory that is removed and created again.
func TestWatchPolling(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "v1", "secret"), []byte("one"))
	writeFile(t, filepath.Join(root, "v2", "secret"), []byte("two!"))
	writeFile(t, filepath.Join(root, "sub", "secret"), []byte("one"))
	mustSymlink(t, "v1", filepath.Join(root, "current"))
	p := newProvider(t, &Options{Root: root, PollInterval: 20 * time.Millisecond, Settle: -1})

	t.Run("link above the directory swapped", func(t *testing.T) {
		s := watchFile(t, p, "file:current/secret")
		mustSymlink(t, "v2", filepath.Join(root, "current.new"))
		if err := os.Rename(filepath.Join(root, "current.new"), filepath.Join(root, "current")); err != nil {
			t.Fatal(err)
		}
		s.wait(t, "after the link above the file was swapped")
		expectValue(t, p, "file:current/secret", "two!")
	})
	t.Run("directory re-created", func(t *testing.T) {
		s := watchFile(t, p, "file:sub/secret")
		if err := os.RemoveAll(filepath.Join(root, "sub")); err != nil {
			t.Fatal(err)
		}
		s.wait(t, "after the directory was removed")
		time.Sleep(50 * time.Millisecond) // let a poll find the directory gone
		s.drain()
		writeFile(t, filepath.Join(root, "sub", "secret"), []byte("two"))
		s.wait(t, "after the directory was created again")
		expectValue(t, p, "file:sub/secret", "two")

		time.Sleep(50 * time.Millisecond)
		s.drain()
		replaceFile(t, filepath.Join(root, "sub", "secret"), []byte("three"))
		s.wait(t, "after a rewrite in the re-created directory")
	})
}

// TestWatchRewatch checks that the event watch itself comes back after its
// directory is re-created, with polling far too slow to notice a change.
func TestWatchRewatch(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "sub", "secret"), []byte("one"))
	p := newProvider(t, &Options{Root: root, PollInterval: 30 * time.Millisecond})
	s := watchFile(t, p, "file:sub/secret")
	if err := os.RemoveAll(filepath.Join(root, "sub")); err != nil {
		t.Fatal(err)
	}
	s.wait(t, "after the directory was removed")
	writeFile(t, filepath.Join(root, "sub", "secret"), []byte("two"))
	s.wait(t, "after the directory was created again")
	deadline := time.Now().Add(5 * time.Second)
	for !p.hub.watching(filepath.Join(root, "sub")) {
		if time.Now().After(deadline) {
			t.Fatal("the re-created directory is not watched for events again")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchStop checks that a stopped watch is never called again while
// another watch of the same file goes on, and that stop is idempotent.
func TestWatchStop(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeFile(t, path, []byte("one"))
	p := newProvider(t, &Options{Root: root, PollInterval: -1})
	var calls atomic.Int32
	stop, err := p.Watch(t.Context(), "file:secret", func() { calls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	kept := watchFile(t, p, "file:secret")
	stop()
	stop()
	replaceFile(t, path, []byte("two"))
	kept.wait(t, "for the watch that was kept")
	time.Sleep(5 * coalesceDelay)
	if n := calls.Load(); n != 0 {
		t.Errorf("a stopped watch was called %d times", n)
	}
	if n := p.hub.dirCount(); n != 1 {
		t.Errorf("%d directories watched, want 1", n)
	}
	kept.drain()
}

// watching reports whether dir is in the fsnotify watch list.
func (h *hub) watching(dir string) bool {
	for _, d := range h.fsw.WatchList() {
		if d == dir {
			return true
		}
	}
	return false
}

func (h *hub) dirCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.dirs)
}

// TestWatchClose checks that Close ends every watch and leaves no
// goroutine behind, and that Watch after Close fails.
func TestWatchClose(t *testing.T) {
	before := goleak.IgnoreCurrent()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a"), []byte("a"))
	writeFile(t, filepath.Join(root, "sub", "b"), []byte("b"))
	p, err := New(&Options{Root: root, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var stops []func()
	for _, ref := range []string{"file:a", "file:sub/b", "file:missing/c"} {
		stop, err := p.Watch(t.Context(), ref, func() {})
		if err != nil {
			t.Fatal(err)
		}
		stops = append(stops, stop)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, stop := range stops {
		stop()
	}
	goleak.VerifyNone(t, before)
	if _, err := p.Watch(t.Context(), "file:a", func() {}); err == nil {
		t.Error("Watch after Close succeeded")
	}
}
