package file

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
)

func TestFetchParts(t *testing.T) {
	root := t.TempDir()
	cert, key := testPEM(t)
	writeFile(t, filepath.Join(root, "app.json"), []byte(`{"db": {"password": "s3cr\u0065t"}, "port": 5432}`))
	writeFile(t, filepath.Join(root, "prod.env"), []byte("export DB_PASSWORD='pa ss'\n"))
	writeFile(t, filepath.Join(root, "tls", "server.pem"), append(bytes.Clone(cert), key...))
	writeFile(t, filepath.Join(root, "config"), []byte(`{"k": "v"}`))
	writeFile(t, filepath.Join(root, "raw.txt"), []byte("raw\n"))
	p := newProvider(t, &Options{Root: root})

	for _, c := range []struct{ ref, want string }{
		{"file:app.json#/db/password", "s3cret"},
		{"file:app.json#port", "5432"},
		{"file:prod.env#DB_PASSWORD", "pa ss"},
		{"file:tls/server.pem#cert", string(cert)},
		{"file:tls/server.pem#key", string(key)},
		{"file:tls/server.pem", string(cert) + string(key)},
		{"file:config?format=json#k", "v"},
		{"file:raw.txt", "raw\n"},
		{"file://" + filepath.ToSlash(root) + "/raw.txt", "raw\n"},
	} {
		v, err := p.Fetch(t.Context(), c.ref)
		if err != nil {
			t.Errorf("Fetch(%q): %v", c.ref, err)
			continue
		}
		if string(v.Data) != c.want || v.Version == "" || v.CreatedAt.IsZero() {
			t.Errorf("Fetch(%q) = %q, version %q, created %v; want %q", c.ref, v.Data, v.Version, v.CreatedAt, c.want)
		}
	}
	for _, c := range []struct {
		ref string
		err error
	}{
		{"file:app.json#/db/user", providers.ErrNotFound},
		{"file:prod.env#OTHER", providers.ErrNotFound},
		{"file:missing.json", providers.ErrNotFound},
		{"file:raw.txt/below", providers.ErrNotFound},
		{"file:tls", providers.ErrInvalid},
	} {
		_, err := p.Fetch(t.Context(), c.ref)
		if !errors.Is(err, c.err) || !strings.HasPrefix(err.Error(), "providers/file: ") {
			t.Errorf("Fetch(%q): %v, want %v", c.ref, err, c.err)
		}
	}
}

// TestFetchPartialWrite checks that a structured file cut half-way is
// refused, with an error that quotes none of it, and parses once complete.
func TestFetchPartialWrite(t *testing.T) {
	root := t.TempDir()
	cert, key := testPEM(t)
	p := newProvider(t, &Options{Root: root})
	for _, c := range []struct {
		name, part string
		content    []byte
	}{
		{"app.json", "#/db/password", []byte(`{"db": {"user": "Zq8vX", "password": "Hv7#kP2!xQ9@mW4$"}}`)},
		{"tls.pem", "#key", append(bytes.Clone(cert), key...)},
		{"tls.pem", "#cert", append(bytes.Clone(cert), key...)},
	} {
		path := filepath.Join(root, c.name)
		for _, ref := range []string{"file:" + c.name, "file:" + c.name + c.part} {
			writeFile(t, path, c.content[:len(c.content)/2])
			_, err := p.Fetch(t.Context(), ref)
			if !errors.Is(err, providers.ErrInvalid) {
				t.Fatalf("Fetch(%q) of a half-written file: %v, want ErrInvalid", ref, err)
			}
			// The selection comes from the reference and may share words
			// with the file; what follows it must quote nothing.
			prefix := "providers/file: " + path + strings.TrimPrefix(ref, "file:"+c.name) + ": "
			msg, ok := strings.CutPrefix(err.Error(), prefix)
			if !ok {
				t.Fatalf("error %q does not start with %q", err, prefix)
			}
			checkNoContent(t, msg, c.content)

			writeFile(t, path, c.content)
			v, err := p.Fetch(t.Context(), ref)
			if err != nil {
				t.Fatalf("Fetch(%q) of the complete file: %v", ref, err)
			}
			v.Wipe()
		}
	}
}

func TestFetchOversized(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "big"), bytes.Repeat([]byte("x"), 101))
	writeFile(t, filepath.Join(root, "fits"), bytes.Repeat([]byte("x"), 100))
	p := newProvider(t, &Options{Root: root, MaxSize: 100})
	_, err := p.Fetch(t.Context(), "file:big")
	wantErr(t, err, providers.ErrInvalid)
	if msg := err.Error(); !strings.Contains(msg, "101 bytes") || !strings.Contains(msg, "limit of 100") {
		t.Errorf("error %q does not state the size and the limit", msg)
	}
	v, err := p.Fetch(t.Context(), "file:fits")
	if err != nil || len(v.Data) != 100 {
		t.Errorf("Fetch of a file at the limit: %v", err)
	}
}

func TestReadAllGrowth(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 300)
	got, err := readAll(bytes.NewReader(data), 10, 5000) // the file grew after its size was taken
	if err != nil || !bytes.Equal(got, data) || len(got) != cap(got) {
		t.Errorf("readAll: %d bytes (cap %d), %v", len(got), cap(got), err)
	}
	if _, err := readAll(bytes.NewReader(data), 10, 2999); !errors.Is(err, errTooLarge) {
		t.Errorf("readAll past the limit: %v", err)
	}
}

// TestFetchEscape checks that nothing outside Options.Root can be reached,
// while symbolic links inside it work.
func TestFetchEscape(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	outside := filepath.Join(dir, "outside")
	writeFile(t, outside, []byte("outside"))
	writeFile(t, filepath.Join(root, "sub", "inside"), []byte("inside"))
	mustSymlink(t, "../outside", filepath.Join(root, "rel-out"))
	mustSymlink(t, outside, filepath.Join(root, "abs-out"))
	mustSymlink(t, "../../outside", filepath.Join(root, "sub", "dotdot-out"))
	mustSymlink(t, "sub/inside", filepath.Join(root, "in"))
	mustSymlink(t, "../sub/inside", filepath.Join(root, "sub", "up-and-in"))
	p := newProvider(t, &Options{Root: root})

	for _, ref := range []string{
		"file:../outside", "file:sub/../../outside", "file://" + filepath.ToSlash(outside),
		"file:rel-out", "file:abs-out", "file:sub/dotdot-out",
	} {
		_, err := p.Fetch(t.Context(), ref)
		if !errors.Is(err, providers.ErrInvalidRef) {
			t.Errorf("Fetch(%q): %v, want ErrInvalidRef", ref, err)
		}
		if stop, err := p.Watch(t.Context(), ref, func() {}); !errors.Is(err, providers.ErrInvalidRef) {
			t.Errorf("Watch(%q): %v, want ErrInvalidRef", ref, err)
			if err == nil {
				stop()
			}
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("the file outside is gone: %v", err)
	}
	for _, ref := range []string{"file:in", "file:sub/up-and-in", "file://" + filepath.ToSlash(root) + "/in"} {
		v, err := p.Fetch(t.Context(), ref)
		if err != nil || string(v.Data) != "inside" {
			t.Errorf("Fetch(%q) through a link inside the root: %v", ref, err)
		}
	}
}

// TestFetchModeWarning checks that a file open to others is reported once,
// without its content, and a private one not at all.
func TestFetchModeWarning(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	root := t.TempDir()
	content := []byte("Wk3#pQ8!vZ")
	for name, mode := range map[string]os.FileMode{"open": 0o644, "private": 0o600} {
		writeFile(t, filepath.Join(root, name), content)
		if err := os.Chmod(filepath.Join(root, name), mode); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	p := newProvider(t, &Options{Root: root, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	for range 3 {
		for _, ref := range []string{"file:open", "file:private"} {
			if _, err := p.Fetch(t.Context(), ref); err != nil {
				t.Fatal(err)
			}
		}
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, filepath.Join(root, "open")) || !strings.Contains(out, "-rw-r--r--") {
		t.Errorf("the warning does not name the path and mode: %s", out)
	}
	checkNoContent(t, out, content)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestFetchDuringRewrites rewrites a file in place, alternating two
// documents of different lengths, while Fetch runs with settling off (the
// file never settles): every Fetch that succeeds returns one of the two
// values, whole, never a mix. (A Fetch that meets the file truncated and
// not yet written fails: an in-place writer exposes that state, and only
// the JSON parser can tell.)
func TestFetchDuringRewrites(t *testing.T) {
	root := t.TempDir()
	docs := [][]byte{
		[]byte(`{"v": "` + strings.Repeat("a", 3000) + `"}`),
		[]byte(`{"v": "` + strings.Repeat("b", 5000) + `"}`),
	}
	path := filepath.Join(root, "s.json")
	writeFile(t, path, docs[0])
	p := newProvider(t, &Options{Root: root, Settle: -1})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := os.WriteFile(path, docs[i%2], 0o600); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	ok := 0
	for range 300 {
		v, err := p.Fetch(t.Context(), "file:s.json#v")
		if err != nil {
			if !errors.Is(err, providers.ErrInvalid) {
				t.Errorf("Fetch: %v", err)
			}
			continue
		}
		if s := string(v.Data); s != strings.Repeat("a", 3000) && s != strings.Repeat("b", 5000) {
			t.Fatalf("Fetch returned a mix: %d bytes", len(s))
		}
		ok++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d of 300 fetches succeeded during rewrites", ok)
	if ok == 0 {
		t.Error("no Fetch succeeded")
	}
}

func TestFetchVersion(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a.json"), []byte(`{"x": "same", "y": "same"}`))
	writeFile(t, filepath.Join(root, "b"), []byte("same"))
	p := newProvider(t, &Options{Root: root})
	var versions []string
	for _, ref := range []string{"file:a.json#x", "file:a.json#y", "file:b"} {
		v, err := p.Fetch(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v.Version)
	}
	if versions[0] != versions[1] || versions[1] != versions[2] {
		t.Errorf("equal data, versions %q", versions)
	}
	other := newProvider(t, nil)
	v, err := other.Fetch(t.Context(), "file://"+filepath.ToSlash(root)+"/b")
	if err != nil || v.Version == versions[0] {
		t.Errorf("two providers share a version key: %q, %v", v.Version, err)
	}
}

func TestNewRootErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file"), nil)
	for _, root := range []string{filepath.Join(dir, "missing"), filepath.Join(dir, "file")} {
		if p, err := New(&Options{Root: root}); err == nil {
			p.Close()
			t.Errorf("New with root %s: no error", root)
		}
	}
	_, err := New(&Options{Root: filepath.Join(dir, "missing")})
	wantErr(t, err, providers.ErrNotFound)
}
