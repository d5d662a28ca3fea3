package certs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/secrets"
)

// Certificates in real files rotate on disk the three ways deployments
// rotate them, each served on the next handshake after the rotation event:
// a rewrite in place, a rename over the old file, and Kubernetes' "..data"
// symbolic link swap; plus one PEM bundle read as two secrets through the
// file provider's "#cert" and "#key" parts.
func TestFileRotation(t *testing.T) {
	type layout struct {
		certRef, keyRef string
		setup           func(t *testing.T, dir string, l *leaf)
		rotate          func(t *testing.T, dir string, l *leaf, gen int)
	}
	write := func(t *testing.T, path string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	renameOver := func(t *testing.T, path string, data []byte) {
		t.Helper()
		tmp := path + ".tmp"
		write(t, tmp, data)
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	kubeGen := func(t *testing.T, dir string, l *leaf, gen int) {
		t.Helper()
		ts := filepath.Join(dir, "..2026_01_0"+string(rune('0'+gen)))
		if err := os.Mkdir(ts, 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(ts, "tls.crt"), l.certPEM)
		write(t, filepath.Join(ts, "tls.key"), l.keyPEM)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	layouts := map[string]layout{
		"rewrite in place": {"file:tls.crt", "file:tls.key",
			func(t *testing.T, dir string, l *leaf) {
				write(t, filepath.Join(dir, "tls.crt"), l.certPEM)
				write(t, filepath.Join(dir, "tls.key"), l.keyPEM)
			},
			func(t *testing.T, dir string, l *leaf, _ int) {
				write(t, filepath.Join(dir, "tls.key"), l.keyPEM)
				write(t, filepath.Join(dir, "tls.crt"), l.certPEM)
			}},
		"rename over": {"file:tls.crt", "file:tls.key",
			func(t *testing.T, dir string, l *leaf) {
				write(t, filepath.Join(dir, "tls.crt"), l.certPEM)
				write(t, filepath.Join(dir, "tls.key"), l.keyPEM)
			},
			func(t *testing.T, dir string, l *leaf, _ int) {
				renameOver(t, filepath.Join(dir, "tls.key"), l.keyPEM)
				renameOver(t, filepath.Join(dir, "tls.crt"), l.certPEM)
			}},
		"kubernetes ..data swap": {"file:tls.crt", "file:tls.key",
			func(t *testing.T, dir string, l *leaf) {
				kubeGen(t, dir, l, 0)
				for _, n := range []string{"tls.crt", "tls.key"} {
					if err := os.Symlink("..data/"+n, filepath.Join(dir, n)); err != nil {
						t.Fatal(err)
					}
				}
			},
			kubeGen},
		"one bundle file, two parts": {"file:tls.pem#cert", "file:tls.pem#key",
			func(t *testing.T, dir string, l *leaf) { write(t, filepath.Join(dir, "tls.pem"), l.bundle()) },
			func(t *testing.T, dir string, l *leaf, _ int) {
				renameOver(t, filepath.Join(dir, "tls.pem"), l.bundle())
			}},
	}
	for name, lay := range layouts {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			ca := newCA(t, "ca")
			first := ca.issue(t, nil, "localhost")
			lay.setup(t, f.dir, first)
			for _, s := range []secrets.Spec{
				certs.CertificateSpec(secrets.Spec{Name: "tls-cert", Ref: lay.certRef}),
				certs.KeySpec(secrets.Spec{Name: "tls-key", Ref: lay.keyRef}),
			} {
				if err := f.store.Add(s); err != nil {
					t.Fatal(err)
				}
			}
			src := f.source(&certs.Options{Certificates: []certs.Pair{{Name: "tls", Cert: "tls-cert", Key: "tls-key"}}})
			s := serve(t, certs.ServerConfig(src, nil))
			cfg := clientConfig(ca, "localhost")
			mustServe(t, s, cfg, first.serial)
			for gen := 1; gen <= 3; gen++ {
				next := ca.issue(t, nil, "localhost")
				lay.rotate(t, f.dir, next, gen)
				f.rotatedTo("tls", next.serial)
				mustServe(t, s, cfg, next.serial)
			}
		})
	}
}
