package file

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/providertest"
)

var allCaps = providertest.Capabilities{Mutable: true, Watchable: true, Versioned: true, Writable: true, Deletable: true, Conditional: true}

// TestConformance runs the shared suite twice: with references relative to
// Options.Root, and with absolute references and no root.
func TestConformance(t *testing.T) {
	t.Run("Root", func(t *testing.T) {
		dir := t.TempDir()
		root := filepath.Join(dir, "root")
		outside := filepath.Join(dir, "outside")
		writeFile(t, outside, []byte("outside"))
		writeFile(t, filepath.Join(root, ".keep"), nil)
		mustSymlink(t, outside, filepath.Join(root, "abslink"))
		mustSymlink(t, "../outside", filepath.Join(root, "rellink"))
		providertest.Run(t, providertest.Harness{
			Open: func(t *testing.T) providers.Provider {
				p, err := New(&Options{Root: root, PollInterval: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
			Ref:    func(t *testing.T, name string) string { return "file:" + name },
			Set:    func(t *testing.T, name string, data []byte) { replaceFile(t, filepath.Join(root, name), data) },
			Remove: func(t *testing.T, name string) { removeFile(t, filepath.Join(root, name)) },
			InvalidRefs: []string{
				"file:",
				"file:../outside",
				"file:alpha/../../outside",
				"file://" + outside,
				"file:abslink",
				"file:rellink",
				"file://example.com/alpha",
				"file:alpha?format=yaml",
				"file:alpha?mode=raw",
				"file:alpha#part",
				"file:alpha/",
				"file:alpha%ZZ",
				"file:al%00pha",
				"file:alpha.env#not-a-name",
				"file:alpha.json#/bad~2escape",
			},
			Caps:        allCaps,
			ErrorPrefix: "providers/file: ",
		})
	})
	t.Run("Absolute", func(t *testing.T) {
		dir := t.TempDir()
		providertest.Run(t, providertest.Harness{
			Open: func(t *testing.T) providers.Provider {
				p, err := New(&Options{PollInterval: -1})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
			Ref:    func(t *testing.T, name string) string { return "file://" + filepath.ToSlash(filepath.Join(dir, name)) },
			Set:    func(t *testing.T, name string, data []byte) { replaceFile(t, filepath.Join(dir, name), data) },
			Remove: func(t *testing.T, name string) { removeFile(t, filepath.Join(dir, name)) },
			InvalidRefs: []string{
				"file:alpha",
				"file://example.com" + filepath.ToSlash(filepath.Join(dir, "alpha")),
				"file://" + filepath.ToSlash(dir) + "/alpha?format=bogus",
				"file://" + filepath.ToSlash(dir) + "/alpha#part",
			},
			Caps:        allCaps,
			ErrorPrefix: "providers/file: ",
		})
	})
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}
