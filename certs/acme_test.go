package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/secrets"
)

// ACME against a real Pebble (built by .ci/build-pebble), which validates
// every http-01 challenge by fetching the answer from this test's HTTP
// server: the first certificate is issued at New into files that do not
// exist yet, served over TLS and verified to Pebble's root; Renew issues a
// new one; and, with Pebble issuing 12-second certificates, renewal at two
// thirds of the lifetime happens on its own, on the wall clock.
func TestACMEIssuanceAndRenewalWithPebble(t *testing.T) {
	f := newFixture(t, nil)
	p := testservers.StartPebble(t, &testservers.PebbleOptions{Validity: 12 * time.Second})
	solver := &certs.HTTP01Solver{}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: solver.Handler(nil)}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	issuer, err := certs.NewACME(&certs.ACMEOptions{DirectoryURL: p.DirectoryURL, HTTPClient: p.HTTPClient,
		Solvers: []certs.Solver{solver}, Contact: []string{"mailto:certs-test@example.com"}, Prompt: certs.AcceptTOS})
	if err != nil {
		t.Fatal(err)
	}
	roots := p.Roots(t)
	for _, s := range []secrets.Spec{
		certs.CertificateSpec(secrets.Spec{Name: "acme-cert", Ref: "file:tls.crt"}),
		certs.KeySpec(secrets.Spec{Name: "acme-key", Ref: "file:tls.key"}),
	} {
		if err := f.store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	src := f.source(&certs.Options{Certificates: []certs.Pair{{Name: "acme", Cert: "acme-cert", Key: "acme-key",
		Renewal: &certs.Renewal{Issuer: issuer, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second},
		Validation: &certs.Validation{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}}}})
	first := f.next(certs.EventRenewed, "acme")
	if first.Err != nil {
		t.Fatalf("first certificate not written back: %v", first.Err)
	}
	if got := fileSerial(t, filepath.Join(f.dir, "tls.crt")); got != first.Serial {
		t.Fatalf("tls.crt holds serial %s, want the issued %s", got, first.Serial)
	}
	s := serve(t, certs.ServerConfig(src, nil))
	client := &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	mustServe(t, s, client, first.Serial)
	ipClient := client.Clone()
	ipClient.ServerName = "127.0.0.1"
	mustServe(t, s, ipClient, first.Serial)

	if err := src.Renew(ctx(t), "acme"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	second := f.next(certs.EventRenewed, "acme")
	if second.Serial == first.Serial {
		t.Fatal("Renew returned the same certificate")
	}
	mustServe(t, s, client, second.Serial)
	if got := fileSerial(t, filepath.Join(f.dir, "tls.crt")); got != second.Serial {
		t.Fatalf("tls.crt holds serial %s after Renew, want %s", got, second.Serial)
	}

	info := src.Certificates()[0]
	life := info.NotAfter.Sub(info.NotBefore)
	t.Logf("pebble %s issued serial %s, %v lifetime; renewal due at %v", testservers.PebbleVersion, info.Serial, life,
		info.NextRenewal.Sub(info.NotBefore))
	third := f.nextOf("acme", certs.EventRenewed, certs.EventRenewalFailed)
	if third.Kind != certs.EventRenewed {
		t.Fatalf("scheduled renewal failed: %v", third.Err)
	}
	if third.Serial == second.Serial || third.Time.Before(info.NotBefore.Add(life/2)) {
		t.Fatalf("scheduled renewal at %v into a %v lifetime gave serial %s", third.Time.Sub(info.NotBefore), life, third.Serial)
	}
	f.rotatedTo("acme", third.Serial) // in service: EventRenewed comes first
	mustServe(t, s, client, third.Serial)
}

// An ACME issuer needs a directory and a solver, and reports a CA that
// cannot be reached as an issuance failure.
func TestACMEErrors(t *testing.T) {
	if _, err := certs.NewACME(&certs.ACMEOptions{DirectoryURL: "https://127.0.0.1:1/dir"}); !errors.Is(err, certs.ErrConfig) {
		t.Errorf("NewACME without solvers = %v, want ErrConfig", err)
	}
	if _, err := certs.NewACME(nil); !errors.Is(err, certs.ErrConfig) {
		t.Errorf("NewACME(nil) = %v, want ErrConfig", err)
	}
	iss, err := certs.NewACME(&certs.ACMEOptions{DirectoryURL: "https://127.0.0.1:1/dir", Solvers: []certs.Solver{&certs.HTTP01Solver{}}, Prompt: certs.AcceptTOS})
	if err != nil {
		t.Fatal(err)
	}
	csr := testCSR(t, "localhost")
	c, cancel := ctxTimeout(t, 2*time.Second)
	defer cancel()
	if _, err := iss.Issue(c, csr); !errors.Is(err, certs.ErrIssue) {
		t.Errorf("Issue against nothing = %v, want ErrIssue", err)
	}
}

func fileSerial(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}
