package certs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// gatedWriter is the memory provider with writes of one secret that fail
// while failing is set, or wait at the gate while it is set.
type gatedWriter struct {
	*memory.Provider
	secret  string
	failing *atomic.Bool
	gate    *atomic.Pointer[chan struct{}] // when set, a write signals entered and waits for it to close
	entered chan struct{}
}

var errBackend = errors.New("backend hiccup")

func (p gatedWriter) Write(ctx context.Context, ref string, data []byte) (string, error) {
	if ref == memory.Ref(p.secret) {
		if p.failing.Load() {
			return "", errBackend
		}
		if g := p.gate.Load(); g != nil {
			p.entered <- struct{}{}
			<-*g
		}
	}
	return p.Provider.Write(ctx, ref, data)
}

// writerFixture is a store whose provider's writes of the secret "web-cert"
// can fail or wait, a DevCA, and a Source renewing a two-secret pair
// whose first certificate the DevCA issued at New.
func writerFixture(t *testing.T) (*fixture, gatedWriter, *certs.Source) {
	t.Helper()
	f := newFixture(t, nil) // for its goroutine check; the store under test is another
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	mem := memory.New(nil)
	w := gatedWriter{Provider: mem, secret: "web-cert", failing: &atomic.Bool{},
		gate: &atomic.Pointer[chan struct{}]{}, entered: make(chan struct{}, 10)}
	store, err := secrets.Open(ctx(t), &secrets.Options{Providers: map[string]providers.Provider{"memory": w}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store, f.mem = store, mem
	ca, err := certs.NewDevCA(ctx(t), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []secrets.Spec{
		certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "memory://web-cert"}),
		certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "memory://web-key"}),
	} {
		if err := store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	src := f.source(&certs.Options{Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key",
		Renewal: &certs.Renewal{Issuer: ca, DNSNames: []string{"localhost"}}}}})
	f.next(certs.EventLoaded, "web")
	return f, w, src
}

// A two-secret write-back whose certificate write fails puts the key's
// previous value back, so that the store never holds the new key with the
// old certificate: another reader of the same secrets gets a pair that
// matches. The renewed certificate is served from memory.
func TestWriteBackFailureRestoresKey(t *testing.T) {
	f, w, src := writerFixture(t)
	before := src.Certificates()[0].Serial
	w.failing.Store(true)
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	e := f.next(certs.EventRenewed, "web")
	if !errors.Is(e.Err, errBackend) {
		t.Fatalf("EventRenewed.Err = %v, want the backend's error", e.Err)
	}
	replica, err := certs.New(ctx(t), f.store, &certs.Options{Certificates: []certs.Pair{{Name: "replica", Cert: "web-cert", Key: "web-key"}}})
	if err != nil {
		t.Fatalf("the store holds a pair that does not match after the failed write-back: %v", err)
	}
	defer replica.Close()
	if got := replica.Certificates()[0].Serial; got != before {
		t.Errorf("the store holds serial %s, want the pair from before the renewal, %s", got, before)
	}
	if info := src.Certificates()[0]; !info.InMemory || info.Serial != e.Serial {
		t.Errorf("after the failed write-back the Source serves %s (in memory %v), want the renewed %s from memory", info.Serial, info.InMemory, e.Serial)
	}
}

// The pair's lock is not held across the write-back's I/O: Certificates
// answers while a write waits at the backend.
func TestWriteBackDoesNotBlockCertificates(t *testing.T) {
	_, w, src := writerFixture(t)
	gate := make(chan struct{})
	w.gate.Store(&gate)
	renewed := make(chan error, 1)
	go func() { renewed <- src.Renew(context.Background(), "web") }()
	<-w.entered // the certificate's write waits at the backend
	answered := make(chan []certs.Info, 1)
	go func() { answered <- src.Certificates() }()
	blocked := false
	select {
	case infos := <-answered:
		if !infos[0].Served {
			t.Errorf("no certificate in service during the write-back: %+v", infos[0])
		}
	case <-time.After(wait):
		t.Error("Certificates blocked behind the write-back")
		blocked = true
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); err != nil {
		t.Errorf("GetCertificate during the write-back: %v", err)
	}
	w.gate.Store(nil)
	close(gate)
	if err := <-renewed; err != nil {
		t.Fatalf("Renew: %v", err)
	}
	if blocked {
		<-answered
	}
}

// A scheduled renewal that waited behind a Renew finds the certificate no
// longer due and does not go to the issuer again.
func TestScheduledRenewalSkippedAfterRenew(t *testing.T) {
	f, clock, iss, src := renewalFixture(t, &certs.Renewal{DNSNames: []string{"localhost"}})
	f.next(certs.EventLoaded, "web")
	due := src.Certificates()[0].NextRenewal
	entered, release := make(chan struct{}, 10), make(chan struct{})
	iss.before = func() {
		entered <- struct{}{}
		<-release
	}
	renewed := make(chan error, 1)
	go func() { renewed <- src.Renew(context.Background(), "web") }()
	<-entered      // Renew is at the issuer, holding the attempt lock
	clock.Set(due) // the scheduled attempt starts, and waits for the lock
	close(release) // Renew completes: a new certificate, issued now and due later
	if err := <-renewed; err != nil {
		t.Fatalf("Renew: %v", err)
	}
	src.Close() // waits for the scheduled attempt
	if n := iss.calls.Load(); n != 2 {
		t.Errorf("the issuer was called %d times, want 2 (the first certificate, Renew)", n)
	}
}
