package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/secrets"
)

// fileStore is a Store over real files in a fresh directory, on the wall
// clock, watched by fsnotify.
func fileStore(t *testing.T) (*secrets.Store, string, <-chan secrets.Event) {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	dir := t.TempDir()
	fp, err := file.New(&file.Options{Root: dir, MaxSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	s, err := secrets.Open(context.Background(), &secrets.Options{Providers: map[string]providers.Provider{file.Scheme: fp}})
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan secrets.Event, 100)
	cancel, _ := s.Subscribe("*", func(e secrets.Event) { ch <- e })
	t.Cleanup(func() {
		cancel()
		s.Close()
		goleak.VerifyNone(t, ignore)
	})
	return s, dir, ch
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func current(t *testing.T, s *secrets.Store, name string) string {
	t.Helper()
	var v string
	if err := s.Use(ctx(t), name, func(b []byte) error { v = string(b); return nil }); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return v
}

func TestFilesKubernetesSymlinkSwap(t *testing.T) {
	s, dir, ev := fileStore(t)
	mkdir := func(name, value string) {
		os.Mkdir(filepath.Join(dir, name), 0o700)
		write(t, filepath.Join(dir, name, "token"), value)
	}
	mkdir("..2026_01_01", "first")
	os.Symlink("..2026_01_01", filepath.Join(dir, "..data"))
	os.Symlink("..data/token", filepath.Join(dir, "token"))
	if err := s.Add(secrets.Spec{Name: "token", Ref: "file:token"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for i, gen := range []string{"..2026_01_02", "..2026_01_03"} {
		mkdir(gen, "value "+gen)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(gen, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
		next(t, ev, secrets.EventRotated)
		if got := current(t, s, "token"); got != "value "+gen {
			t.Fatalf("swap %d: %q", i, got)
		}
	}
}

func TestFilesRenameDeleteRecreate(t *testing.T) {
	s, dir, ev := fileStore(t)
	path := filepath.Join(dir, "db")
	write(t, path, "one")
	s.Add(secrets.Spec{Name: "db", Ref: "file:db"})
	s.Ready(ctx(t))
	write(t, path+".tmp", "two") // an editor's save
	os.Rename(path+".tmp", path)
	next(t, ev, secrets.EventRotated)
	if got := current(t, s, "db"); got != "two" {
		t.Fatalf("after rename-over: %q", got)
	}
	os.Remove(path)
	fail := next(t, ev, secrets.EventRefreshFailed)
	if !errors.Is(fail.Err, secrets.ErrNotFound) {
		t.Errorf("deleted file: %v, want ErrNotFound", fail.Err)
	}
	if got := current(t, s, "db"); got != "two" {
		t.Fatalf("after delete, last good value = %q", got)
	}
	write(t, path, "three")
	next(t, ev, secrets.EventRotated)
	if got := current(t, s, "db"); got != "three" {
		t.Fatalf("after re-create: %q", got)
	}
}

func TestFilesBadContentKeepsOld(t *testing.T) {
	s, dir, _ := fileStore(t)
	path := filepath.Join(dir, "app.json")
	write(t, path, `{"db":{"password":"good"}}`)
	s.Add(secrets.Spec{Name: "db", Ref: "file:app.json#/db/password"})
	s.Ready(ctx(t))
	tests := []struct {
		name, content string
	}{
		{"partial write", `{"db":{"passw`},
		{"oversized", `{"db":{"password":"` + string(make([]byte, 2000)) + `"}}`},
		{"missing key", `{"db":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			write(t, path, tt.content)
			if err := s.Refresh(ctx(t), "db"); err == nil {
				t.Fatal("Refresh accepted bad content")
			} else if errors.Is(err, providers.ErrInvalid) == errors.Is(err, providers.ErrNotFound) {
				t.Errorf("error %v matches neither ErrInvalid nor ErrNotFound", err)
			}
			if got := current(t, s, "db"); got != "good" {
				t.Fatalf("value after %s = %q, want the old one", tt.name, got)
			}
		})
	}
	write(t, path, `{"db":{"password":"better"}}`)
	if err := s.Refresh(ctx(t), "db"); err != nil {
		t.Fatal(err)
	}
	if got := current(t, s, "db"); got != "better" {
		t.Errorf("after a good write: %q", got)
	}
}

func TestFilesPathEscapeRefused(t *testing.T) {
	s, dir, _ := fileStore(t)
	outside := filepath.Join(filepath.Dir(dir), "outside-"+filepath.Base(dir))
	write(t, outside, "not yours")
	defer os.Remove(outside)
	os.Symlink(outside, filepath.Join(dir, "link"))
	for i, ref := range []string{"file:../" + filepath.Base(outside), "file://" + outside, "file:link"} {
		name := "escape" + string(rune('a'+i))
		s.Add(secrets.Spec{Name: name, Ref: ref})
		if _, err := s.Get(ctx(t), name); !errors.Is(err, secrets.ErrInvalid) || !errors.Is(err, providers.ErrInvalidRef) {
			t.Errorf("%s: Get = %v, want ErrInvalid wrapping providers.ErrInvalidRef", ref, err)
		}
	}
}
