package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testSettle is the settle period of the tests that rewrite files in
// place, and testPause the writer's pauses: far shorter, so that a writer
// slowed by a loaded machine still pauses for less than the period.
const (
	testSettle = 500 * time.Millisecond
	testPause  = 40 * time.Millisecond
)

// rewriteInPlace rewrites path as a naive writer does: it opens the file
// with O_TRUNC, pauses, writes the first half of data, pauses, and writes
// the rest. It returns the longest time the file stayed in one state, as
// far as the writer can tell (from before one call to after the next).
func rewriteInPlace(path string, data []byte) (longest time.Duration, err error) {
	start := time.Now()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	for _, part := range [][]byte{data[:len(data)/2], data[len(data)/2:]} {
		time.Sleep(testPause)
		if _, err := f.Write(part); err != nil {
			return 0, err
		}
		longest = max(longest, time.Since(start))
		start = time.Now()
	}
	return longest, nil
}

// writeSettled writes a file that was last modified an hour ago, so that
// it has long settled.
func writeSettled(t *testing.T, path string, data []byte) {
	t.Helper()
	writeFile(t, path, data)
	past := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, past, past); err != nil {
		t.Fatal(err)
	}
}

// inconclusive skips the test when the writer's pauses, stretched by the
// scheduler, were not shorter than the settle period: a state that lasted
// that long may rightly be read.
func inconclusive(t *testing.T, longest time.Duration) {
	t.Helper()
	if longest >= testSettle {
		t.Skipf("the writer stayed %v in one state, not less than the settle period %v: the machine is too loaded", longest, testSettle)
	}
}

// TestFetchInPlaceRewrite replays a writer that rewrites a raw file in
// place with pauses, while Fetch runs in a loop: no Fetch returns the
// file empty or half-written.
func TestFetchInPlaceRewrite(t *testing.T) {
	const old, new = "good-password-1", "good-password-2"
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeSettled(t, path, []byte(old))
	p := newProvider(t, &Options{Root: root, PollInterval: -1, Settle: testSettle})

	var (
		done atomic.Bool
		mu   sync.Mutex
		got  []string
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for !done.Load() {
			v, err := p.Fetch(context.Background(), "file:secret")
			if err != nil {
				t.Errorf("Fetch: %v", err)
				return
			}
			mu.Lock()
			got = append(got, string(v.Data))
			mu.Unlock()
		}
	})
	time.Sleep(testPause) // let the loop fetch the old value a few times
	longest, err := rewriteInPlace(path, []byte(new))
	if err != nil {
		t.Fatal(err)
	}
	expectValue(t, p, "file:secret", new)
	done.Store(true)
	wg.Wait()
	inconclusive(t, longest)

	mu.Lock()
	defer mu.Unlock()
	for _, v := range got {
		if v != old && v != new {
			t.Fatalf("Fetch returned %q; want only %q or %q (all: %q)", v, old, new, got)
		}
	}
	if !slices.Contains(got, old) {
		t.Errorf("the loop fetched %q; want the old value before the rewrite", got)
	}
}

// TestWatchInPlaceRewrite replays the same writer with a watch, fetching
// at every signal: no signal leads to an empty or half-written value, and
// the new value is signalled.
func TestWatchInPlaceRewrite(t *testing.T) {
	const old, new = "good-password-1", "good-password-2"
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeSettled(t, path, []byte(old))
	p := newProvider(t, &Options{Root: root, PollInterval: -1, Settle: testSettle})
	expectValue(t, p, "file:secret", old)
	s := watchFile(t, p, "file:secret")

	var got []string
	written := make(chan time.Duration, 1)
	go func() {
		longest, err := rewriteInPlace(path, []byte(new))
		if err != nil {
			t.Error(err)
			longest = testSettle // nothing to conclude
		}
		written <- longest
	}()
	for len(got) == 0 || got[len(got)-1] != new {
		s.wait(t, "after the rewrite")
		v, err := p.Fetch(t.Context(), "file:secret")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(v.Data))
		if v := string(v.Data); v != old && v != new {
			break
		}
	}
	inconclusive(t, <-written)
	for _, v := range got {
		if v != old && v != new {
			t.Fatalf("after a signal, Fetch returned %q; want only %q or %q (all: %q)", v, old, new, got)
		}
	}
}

// TestFetchWhileChanging checks that a file that keeps changing is read
// once it settles, and that a fetch whose context ends first fails with
// an error that names the file and quotes none of it.
func TestFetchWhileChanging(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "log")
	writeFile(t, path, []byte("Zq8vX-"))
	p := newProvider(t, &Options{Root: root, Settle: 100 * time.Millisecond})

	stop := make(chan struct{})
	appended := make(chan []byte)
	go func() {
		content := []byte("Zq8vX-")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			close(appended)
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				appended <- content
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := f.Write([]byte("Hv7kP2")); err != nil {
				t.Error(err)
			}
			content = append(content, "Hv7kP2"...)
		}
	}()

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err := p.Fetch(ctx, "file:log")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) {
		t.Errorf("Fetch of a file that kept changing until the deadline: %v; want an error naming the file and wrapping the context's", err)
	}
	if err != nil {
		checkNoContent(t, strings.ReplaceAll(err.Error(), path, ""), []byte("Zq8vX-Hv7kP2"))
	}

	fetched := make(chan []byte, 1)
	go func() {
		v, err := p.Fetch(context.Background(), "file:log")
		if err != nil {
			t.Error(err)
			fetched <- nil
			return
		}
		fetched <- v.Data
	}()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	final := <-appended
	if got := <-fetched; string(got) != string(final) {
		t.Errorf("Fetch started while the file changed returned %d bytes; want the %d it settled with", len(got), len(final))
	}
}

// TestFetchFutureModTime checks that a file whose modification time is in
// the future (a clock set wrong, a copied timestamp) is still read, once
// it has been seen unchanged for the settle period.
func TestFetchFutureModTime(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeFile(t, path, []byte("from the future"))
	future := time.Now().Add(24 * time.Hour)
	if err := os.Chtimes(path, future, future); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, &Options{Root: root, Settle: 50 * time.Millisecond})
	expectValue(t, p, "file:secret", "from the future")
}

// TestEmptyOldFileWaitsToSettle: a truncation changes a file's size before
// its modification time, so a stat can see an empty file with the old,
// long-settled time (seen on ext4 under load: the store then served ""). An
// empty file's time is not trusted: it is read only once it has stayed
// empty for the settle period.
func TestEmptyOldFileWaitsToSettle(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeSettled(t, path, nil)
	p := newProvider(t, &Options{Root: root, PollInterval: -1, Settle: 200 * time.Millisecond})
	start := time.Now()
	if _, err := p.Fetch(context.Background(), "file:secret"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("an empty file with an old modification time was read after %v, before the settle period", d)
	}
}

// TestChangeWithOldTimeWaitsToSettle: a file seen in one state and then in
// another whose modification time is old (a writer that keeps times, such
// as rsync -t or cp -p, or a truncation caught half-way) is not taken to
// have settled since that time: the new state began after the old one was
// last seen.
func TestChangeWithOldTimeWaitsToSettle(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "secret")
	writeSettled(t, path, []byte("good-password-1"))
	p := newProvider(t, &Options{Root: root, PollInterval: -1, Settle: 200 * time.Millisecond})
	if _, err := p.Fetch(context.Background(), "file:secret"); err != nil {
		t.Fatal(err)
	}
	writeSettled(t, path, []byte("good-password-22"))
	start := time.Now()
	v, err := p.Fetch(context.Background(), "file:secret")
	if err != nil {
		t.Fatal(err)
	}
	if string(v.Data) != "good-password-22" {
		t.Fatalf("read %q", v.Data)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("a change with an old modification time was read after %v, before it could have settled", d)
	}
}
