package certs_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/secrets"
)

// The store's inventory shows, for every certificate secret, the public
// facts of its leaf, and for a key secret its algorithm and public key
// fingerprint, which ties it to its certificate.
func TestInventoryDetails(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "inventory ca")
	l := ca.issue(t, nil, "localhost", "www.localhost")
	f.pair("web", l)
	md, err := f.store.Metadata("web-cert")
	if err != nil {
		t.Fatal(err)
	}
	d := md.Details
	want := map[string]string{
		"subject": "CN=leaf", "issuer": "CN=inventory ca", "serial": l.serial,
		"dns_names": "localhost,www.localhost", "chain_length": "1", "algorithm": "ECDSA P-256",
		"not_before": l.cert.NotBefore.UTC().Format(time.RFC3339), "not_after": l.cert.NotAfter.UTC().Format(time.RFC3339),
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("Details[%q] = %q, want %q", k, d[k], v)
		}
	}
	if len(d["sha256"]) != 64 {
		t.Errorf("Details[sha256] = %q, want a SHA-256 in hex", d["sha256"])
	}
	if md.Kind != secrets.KindCertificate || !md.ExpiresAt.Equal(l.cert.NotAfter) {
		t.Errorf("certificate secret: kind %v, expires %v; want certificate, %v", md.Kind, md.ExpiresAt, l.cert.NotAfter)
	}
	kmd, _ := f.store.Metadata("web-key")
	if kmd.Kind != secrets.KindKey || kmd.Details["public_key_sha256"] != d["public_key_sha256"] || kmd.Details["algorithm"] != "ECDSA P-256" {
		t.Errorf("key secret: kind %v, details %v; want key, the certificate's public key fingerprint", kmd.Kind, kmd.Details)
	}
	if len(kmd.Details) != 2 {
		t.Errorf("key details %v: want only algorithm and public_key_sha256", kmd.Details)
	}
}

// No private key material reaches a log record, an error, an event, a
// metric, fmt output or JSON: the test runs rotations, refusals, renewals
// and expiry with everything recorded, and looks for the key's PEM body,
// its DER and its private scalar, in text and in hex.
func TestNoKeyMaterialInOutput(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clock := newClock(start)
	f := newFixture(t, clock)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	ca := newCA(t, "ca")
	devca, err := certs.NewDevCA(ctx(t), f.store, &certs.DevCAOptions{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	l1 := ca.issue(t, &leafOpts{notBefore: start, notAfter: start.Add(time.Hour)}, "localhost")
	l2 := ca.issue(t, &leafOpts{notBefore: start, notAfter: start.Add(time.Hour)}, "localhost")
	f.declare("b", l1.bundle(), nil) // a bundle without hooks: the Source parses it
	src := f.source(&certs.Options{Logger: logger, MeterProvider: mp, PairGrace: -1, Certificates: []certs.Pair{
		f.pair("web", l1),
		{Name: "bundle", Cert: "b", SealedKey: true, Renewal: &certs.Renewal{Issuer: devca}, ServerNames: []string{"bundle.test"}},
	}})
	f.rotate("web-cert", l2.certPEM) // half-updated: refused
	half := f.next(certs.EventRejected, "web")
	f.rotate("b", append(l2.certPEM, l1.keyPEM...)) // mismatched bundle
	bad := f.next(certs.EventRejected, "bundle")
	if err := src.Renew(ctx(t), "bundle"); err != nil {
		t.Fatal(err)
	}
	f.next(certs.EventRenewed, "bundle")
	c, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "bundle.test"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	f.next(certs.EventExpired, "web")

	var out strings.Builder
	for _, e := range []certs.Event{half, bad} {
		fmt.Fprintf(&out, "%v %+v %#v %s %q\n", e, e, e, e.Err, e.Err)
		b, _ := json.Marshal(e)
		out.Write(b)
	}
	for _, v := range []any{src, devca, src.Certificates()} {
		fmt.Fprintf(&out, "%v %+v %#v %s\n", v, v, v, v)
	}
	fmt.Fprintf(&out, "%v %+v %#v\n", c.PrivateKey, c.PrivateKey, c.PrivateKey)
	var rm metricdata.ResourceMetrics
	reader.Collect(context.Background(), &rm)
	fmt.Fprintf(&out, "%+v\n", rm)
	src.Close()
	out.WriteString(logs.String())
	for _, inv := range f.store.Inventory() {
		fmt.Fprintf(&out, "%+v\n", inv)
	}
	text := out.String()
	if !strings.Contains(text, "does not match") || !strings.Contains(text, l1.serial) {
		t.Fatalf("the recorded output is missing what it should hold:\n%s", text)
	}
	for _, l := range []*leaf{l1, l2} {
		for _, secret := range keyForms(t, l.keyPEM) {
			if strings.Contains(text, secret) {
				t.Fatalf("key material (%q...) found in output", secret[:12])
			}
		}
	}
}

// keyForms returns the ways key material could leak: the PEM body's
// lines, the DER and the private scalar in hex and base64-ish text.
func keyForms(t *testing.T, keyPEM []byte) []string {
	t.Helper()
	b, _ := pem.Decode(keyPEM)
	var forms []string
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) > 20 && !strings.HasPrefix(line, "-----") {
			forms = append(forms, line)
		}
	}
	forms = append(forms, fmt.Sprintf("%x", b.Bytes), fmt.Sprintf("%X", b.Bytes))
	k, err := parseECKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	d := k.D
	forms = append(forms, fmt.Sprintf("%x", d.Bytes()), d.String(), fmt.Sprint(d.Bytes()))
	return forms
}

// Keys of superseded certificates are dropped at once: after a rotation
// the old private key is unreachable (the garbage collector frees it).
func TestSupersededKeyDropped(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	old, next := ca.issue(t, nil, "localhost"), ca.issue(t, nil, "localhost")
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", old)}})
	w := oldKey(t, src)
	f.rotate("web-key", next.keyPEM)
	f.rotate("web-cert", next.certPEM)
	f.rotatedTo("web", next.serial)
	for range 5 {
		runtime.GC()
		if w.Value() == nil {
			return
		}
	}
	t.Fatal("the superseded private key is still reachable after the rotation")
}

func oldKey(t *testing.T, src *certs.Source) weak.Pointer[ecdsa.PrivateKey] {
	c, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	return weak.Make(certs.UnwrapKey(c.PrivateKey).(*ecdsa.PrivateKey))
}

// A SealedKey pair serves handshakes with a signer that keeps the key
// sealed, not with a parsed key.
func TestSealedKeyServes(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	l := ca.issue(t, nil, "localhost")
	p := f.pair("web", l)
	p.SealedKey = true
	src := f.source(&certs.Options{Certificates: []certs.Pair{p}})
	c, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if _, parsed := c.PrivateKey.(*ecdsa.PrivateKey); parsed {
		t.Fatal("SealedKey pair serves a parsed *ecdsa.PrivateKey")
	}
	if !c.PrivateKey.(crypto.Signer).Public().(*ecdsa.PublicKey).Equal(l.cert.PublicKey) {
		t.Fatal("sealed signer has the wrong public key")
	}
	if !src.Certificates()[0].SealedKey {
		t.Error("Info.SealedKey not set")
	}
	s := serve(t, certs.ServerConfig(src, nil))
	for range 3 {
		mustServe(t, s, clientConfig(ca, "localhost"), l.serial)
	}
}

// The DevCA's root key is generated into guarded memory and sealed in the
// store, where the inventory lists it; leaves it issues verify to its
// root.
func TestDevCA(t *testing.T) {
	f := newFixture(t, nil)
	ca, err := certs.NewDevCA(ctx(t), f.store, &certs.DevCAOptions{LeafLifetime: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	md, err := f.store.Metadata("certs/dev-ca-key")
	if err != nil {
		t.Fatal(err)
	}
	if md.Kind != secrets.KindKey || md.Source != "generated" || md.Details["algorithm"] != "ECDSA P-256" {
		t.Errorf("root key in the inventory: %+v", md)
	}
	if _, err := certs.NewDevCA(ctx(t), f.store, nil); err == nil {
		t.Error("a second DevCA with the same KeySecret succeeded")
	}
	f.declare("c", nil, nil)
	src := f.source(&certs.Options{Certificates: []certs.Pair{{Name: "web", Cert: "c",
		Renewal: &certs.Renewal{Issuer: ca, DNSNames: []string{"localhost"}}, Validation: &certs.Validation{Roots: ca.CertPool()}}}})
	in := src.Certificates()[0]
	if got := in.NotAfter.Sub(in.NotBefore); got != time.Minute {
		t.Errorf("leaf lifetime %v, want 1m", got)
	}
	if !bytes.Contains(ca.PEM(), []byte("BEGIN CERTIFICATE")) || ca.Certificate().Subject.CommonName != "strongroom development CA" {
		t.Errorf("root: %s", ca)
	}
}

func parseECKey(der []byte) (*ecdsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	return k.(*ecdsa.PrivateKey), nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
