package file

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestLinkChain(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	at := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }
	writeFile(t, at("archive", "site", "cert1.pem"), []byte("x"))
	writeFile(t, at("plain"), []byte("x"))
	writeFile(t, at("..2025_01", "password"), []byte("x"))
	for link, target := range map[string]string{
		"live/site/cert.pem": "../../archive/site/cert1.pem",
		"..data":             "..2025_01",
		"password":           "..data/password",
		"abs":                at("plain"),
		"hop":                "live/site/cert.pem",
		"dangling":           "nowhere/file",
		"loop1":              "loop2",
		"loop2":              "loop1",
		"live/site/out":      "../../../outside",
	} {
		if err := os.MkdirAll(filepath.Dir(at(link)), 0o700); err != nil {
			t.Fatal(err)
		}
		mustSymlink(t, target, at(link))
	}
	e := func(d, name string) dirEntry { return dirEntry{at(d), name} }
	for _, c := range []struct {
		path, within string
		want         []dirEntry
	}{
		{"plain", "", []dirEntry{e("", "plain")}},
		{"missing", "", []dirEntry{e("", "missing")}},
		{"no/such/dir", "", []dirEntry{e("no/such", "dir")}},
		{"live/site/cert.pem", "", []dirEntry{e("live/site", "cert.pem"), e("archive/site", "cert1.pem")}},
		{"password", "", []dirEntry{e("", "password"), e("", "..data"), e("..2025_01", "password")}},
		{"abs", "", []dirEntry{e("", "abs"), e("", "plain")}},
		{"hop", "", []dirEntry{e("", "hop"), e("live/site", "cert.pem"), e("archive/site", "cert1.pem")}},
		{"dangling", "", []dirEntry{e("", "dangling"), e("nowhere", "file")}},
		{"loop1", "", func() []dirEntry {
			var want []dirEntry
			for i := range maxLinks + 1 {
				want = append(want, e("", []string{"loop1", "loop2"}[i%2]))
			}
			return want
		}()},
		{"live/site/out", dir, []dirEntry{e("live/site", "out")}},
		{"live/site/out", "", []dirEntry{e("live/site", "out"), {filepath.Dir(dir), "outside"}}},
	} {
		t.Run(c.path, func(t *testing.T) {
			if got := linkChain(at(c.path), c.within); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v\nwant %v", got, c.want)
			}
		})
	}
}

// TestWatchLinkTargetInPlace replays certbot's layout, live/ links into
// archive/, with polling off: a certificate rewritten in place behind the
// link is signalled by file system events, and so is one behind the link
// after it was swapped to a file in another directory.
func TestWatchLinkTargetInPlace(t *testing.T) {
	root := t.TempDir()
	at := func(parts ...string) string { return filepath.Join(append([]string{root}, parts...)...) }
	writeFile(t, at("archive", "site", "cert1.pem"), []byte("one"))
	if err := os.MkdirAll(at("live", "site"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, "../../archive/site/cert1.pem", at("live", "site", "cert.pem"))
	p := newProvider(t, &Options{Root: root, PollInterval: -1, Settle: -1})
	const ref = "file:live/site/cert.pem?format=raw"
	s := watchFile(t, p, ref)

	writeFile(t, at("archive", "site", "cert1.pem"), []byte("one, rewritten"))
	s.wait(t, "after the file behind the link was rewritten in place")
	expectValue(t, p, ref, "one, rewritten")

	writeFile(t, at("renewed", "cert2.pem"), []byte("two"))
	mustSymlink(t, "../../renewed/cert2.pem", at("live", "site", "cert.pem.new"))
	if err := os.Rename(at("live", "site", "cert.pem.new"), at("live", "site", "cert.pem")); err != nil {
		t.Fatal(err)
	}
	s.wait(t, "after the link was swapped")
	expectValue(t, p, ref, "two")
	s.drain()

	writeFile(t, at("renewed", "cert2.pem"), []byte("two, rewritten"))
	s.wait(t, "after the file behind the swapped link was rewritten in place")
	expectValue(t, p, ref, "two, rewritten")
}

// TestWatchKubernetesInPlace rewrites in place the file behind a
// Kubernetes-style "..data" link, with polling off.
func TestWatchKubernetesInPlace(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "..2025_01", "password"), []byte("first"))
	mustSymlink(t, "..2025_01", filepath.Join(root, "..data"))
	mustSymlink(t, "..data/password", filepath.Join(root, "password"))
	p := newProvider(t, &Options{Root: root, PollInterval: -1})
	s := watchFile(t, p, "file:password")
	writeFile(t, filepath.Join(root, "..2025_01", "password"), []byte("second"))
	s.wait(t, "after the file behind ..data was rewritten in place")
	expectValue(t, p, "file:password", "second")
}
