package file

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

func TestWrite(t *testing.T) {
	root := t.TempDir()
	p := newProvider(t, &Options{Root: root})
	ctx := t.Context()

	_, err := p.Write(ctx, "file:sub/new", []byte("fresh"))
	if !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Write into a missing directory: %v, want ErrNotFound", err)
	}
	writeFile(t, filepath.Join(root, "secret"), []byte("old"))
	if err := os.Chmod(filepath.Join(root, "secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	version, err := p.Write(ctx, "file:secret", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if v := expectValue(t, p, "file:secret", "new"); v != version {
		t.Errorf("Write returned version %q, Fetch %q", version, v)
	}
	info, err := os.Stat(filepath.Join(root, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("mode after Write: %v, want 0600", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 2 || entries[0].Name() != ".secret.lock" {
		t.Errorf("Write left files other than its lock file behind: %v", entries)
	}

	_, err = p.Write(ctx, "file:app.json#/a", []byte(`"x"`))
	wantErr(t, err, providers.ErrUnsupported)
	_, err = p.Write(ctx, "file:app.json", []byte(`{"a": "Zq8#xV!p`))
	wantErr(t, err, providers.ErrInvalid)
	checkNoContent(t, err.Error(), []byte(`{"a": "Zq8#xV!p`))
	if _, err := os.Stat(filepath.Join(root, "app.json")); !os.IsNotExist(err) {
		t.Errorf("a refused Write created the file: %v", err)
	}
	if _, err = p.Write(ctx, "file:app.json", []byte(`{"a": "x"}`)); err != nil {
		t.Fatal(err)
	}
	expectValue(t, p, "file:app.json#a", "x")
}

func TestDelete(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "app.json"), []byte(`{"a": "x"}`))
	writeFile(t, filepath.Join(root, "dir", "x"), nil)
	writeFile(t, filepath.Join(root, "target"), []byte("kept"))
	mustSymlink(t, "target", filepath.Join(root, "link"))
	p := newProvider(t, &Options{Root: root})
	ctx := t.Context()

	wantErr(t, p.Delete(ctx, "file:app.json#a"), providers.ErrUnsupported)
	wantErr(t, p.Delete(ctx, "file:dir"), providers.ErrInvalidRef)
	if err := p.Delete(ctx, "file:link"); err != nil {
		t.Fatal(err)
	}
	expectValue(t, p, "file:target", "kept")
	if err := p.Delete(ctx, "file:app.json"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, p.Delete(ctx, "file:app.json"), providers.ErrNotFound)
}
