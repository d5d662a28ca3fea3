package file

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newProvider returns a provider that the test closes when it ends.
func newProvider(t *testing.T, opts *Options) *Provider {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// writeFile writes data to path in place (truncate and write), as a naive
// writer does.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes data to a temporary file and renames it over path, as
// editors and careful writers do.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp-test"
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// checkNoContent fails the test when msg contains any run of 4 bytes of
// content.
func checkNoContent(t *testing.T, msg string, content []byte) {
	t.Helper()
	for i := 0; i+4 <= len(content); i++ {
		if w := string(content[i : i+4]); strings.Contains(msg, w) {
			t.Errorf("message %q contains %q, from the content", msg, w)
			return
		}
	}
}

// wantErr fails the test unless err wraps target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one wrapping %v", err, target)
	}
}

// testPEM returns a self-signed certificate and its EC private key, as PEM.
func testPEM(t testing.TB) (cert, key []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "strongroom test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// signals is a changed callback's channel: one pending call at most.
type signals chan struct{}

// watchFile starts a watch of ref that the test stops when it ends.
func watchFile(t *testing.T, p *Provider, ref string) signals {
	t.Helper()
	s := make(signals, 1)
	stop, err := p.Watch(t.Context(), ref, func() {
		select {
		case s <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatalf("Watch(%q): %v", ref, err)
	}
	t.Cleanup(stop)
	return s
}

// wait fails the test unless a call comes within 5 s.
func (s signals) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case <-s:
	case <-time.After(5 * time.Second):
		t.Fatalf("no change signalled within 5s %s", what)
	}
}

// drain forgets a pending call.
func (s signals) drain() {
	select {
	case <-s:
	default:
	}
}
