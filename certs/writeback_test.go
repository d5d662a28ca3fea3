package certs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// gatedWriter is the memory provider with writes of one secret that fail
// while failing is set, or wait at the gate while it is set; script, when
// set, decides every write first (an error fails it).
type gatedWriter struct {
	*memory.Provider
	secret  string
	failing *atomic.Bool
	gate    *atomic.Pointer[chan struct{}] // when set, a write signals entered and waits for it to close
	entered chan struct{}
	script  *atomic.Pointer[func(ref string) error]
}

var errBackend = errors.New("backend hiccup")

func (p gatedWriter) Write(ctx context.Context, ref string, data []byte) (string, error) {
	if fn := p.script.Load(); fn != nil {
		if err := (*fn)(ref); err != nil {
			return "", err
		}
	}
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
	return writerFixtureOn(t, nil)
}

// writerFixtureOn is writerFixture on clock (nil: the wall clock).
func writerFixtureOn(t *testing.T, clock *memory.Clock) (*fixture, gatedWriter, *certs.Source) {
	t.Helper()
	f := newFixture(t, clock) // for its goroutine check; the store under test is another
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	var sc secrets.Clock
	mem := memory.New(nil)
	if clock != nil {
		sc, mem = clock, memory.New(&memory.Options{Clock: clock})
	}
	w := gatedWriter{Provider: mem, secret: "web-cert", failing: &atomic.Bool{},
		gate: &atomic.Pointer[chan struct{}]{}, entered: make(chan struct{}, 10),
		script: &atomic.Pointer[func(string) error]{}}
	store, err := secrets.Open(ctx(t), &secrets.Options{Clock: sc, Providers: map[string]providers.Provider{"memory": w}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f.store, f.mem = store, mem
	dopts := &certs.DevCAOptions{}
	if clock != nil {
		dopts.Clock = clock
	}
	ca, err := certs.NewDevCA(ctx(t), store, dopts)
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
	opts := &certs.Options{Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key",
		Renewal: &certs.Renewal{Issuer: ca, DNSNames: []string{"localhost"}}}}}
	if clock != nil {
		opts.Clock = clock
	}
	src := f.source(opts)
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

// A certificate write that fails long after the key's (a slow backend
// timing out, past the key secret's Spec.Overlap, when Store.Previous no
// longer has the old key) still puts the old key back: the store holds a
// matching pair, and the renewal is served from memory.
func TestLateFailedWriteBackRestoresKey(t *testing.T) {
	clock := newClock(time.Now().Truncate(time.Second))
	f, w, src := writerFixtureOn(t, clock)
	before := src.Certificates()[0].Serial
	slow := func(ref string) error {
		if ref == memory.Ref("web-cert") {
			clock.Advance(10 * time.Minute) // the write takes long, then fails
			return errBackend
		}
		return nil
	}
	w.script.Store(&slow)
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	e := f.next(certs.EventRenewed, "web")
	if !errors.Is(e.Err, errBackend) {
		t.Fatalf("EventRenewed.Err = %v, want the backend's error", e.Err)
	}
	w.script.Store(nil)
	replica, err := certs.New(ctx(t), f.store, &certs.Options{Clock: clock, Certificates: []certs.Pair{{Name: "replica", Cert: "web-cert", Key: "web-key"}}})
	if err != nil {
		t.Fatalf("the store holds a pair that does not match after a late failed write-back: %v", err)
	}
	defer replica.Close()
	if got := replica.Certificates()[0].Serial; got != before {
		t.Errorf("the store holds serial %s, want %s from before the renewal", got, before)
	}
}

// A write-back whose certificate write fails and whose key cannot be put
// back either serves the renewal from memory and keeps the pair in
// service and renewable: nothing was revoked or deleted, although the
// backend's errors say "not found" (which the store reports as
// secrets.ErrNotFound).
func TestFailedRestoreKeepsPairInService(t *testing.T) {
	f, w, src := writerFixture(t)
	keyWrites := 0
	lost := fmt.Errorf("backend lost its mount: %w", providers.ErrNotFound)
	down := func(ref string) error {
		switch ref {
		case memory.Ref("web-cert"):
			return lost
		case memory.Ref("web-key"):
			if keyWrites++; keyWrites > 1 { // the restore
				return lost
			}
		}
		return nil
	}
	w.script.Store(&down)
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	e := f.next(certs.EventRenewed, "web")
	if e.Err == nil || !strings.Contains(e.Err.Error(), "the new key stays in secret web-key") {
		t.Fatalf("EventRenewed.Err = %v, want the write error saying the key could not be put back", e.Err)
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); err != nil {
		t.Errorf("GetCertificate after the failed write-back: %v", err)
	}
	if info := src.Certificates()[0]; !info.InMemory || info.Serial != e.Serial {
		t.Errorf("serving %s (in memory %v), want the renewal %s from memory", info.Serial, info.InMemory, e.Serial)
	}
	w.script.Store(nil)
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Errorf("Renew once the backend is back: %v", err)
	}
}

// A renewal served from memory (the store cannot take it) is not replaced
// by the certificate the store still holds when something forces a
// re-read of the pair: here its trust bundle rotates.
func TestInMemoryRenewalSurvivesForcedReread(t *testing.T) {
	f := newFixture(t, nil) // for its goroutine check; the store under test is another
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	mem := memory.New(nil)
	w := gatedWriter{Provider: mem, secret: "web", failing: &atomic.Bool{},
		gate: &atomic.Pointer[chan struct{}]{}, entered: make(chan struct{}, 10),
		script: &atomic.Pointer[func(string) error]{}}
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
	f.declare("bundle", ca.PEM(), certs.BundleSpec)
	bundleEvents := make(chan certs.Event, 100)
	tb, err := certs.NewTrustBundle(ctx(t), store, "bundle", &certs.TrustOptions{OnEvent: func(e certs.Event) { bundleEvents <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if err := store.Add(certs.CertificateSpec(secrets.Spec{Name: "web", Ref: memory.Ref("web")})); err != nil {
		t.Fatal(err)
	}
	iss := &flaky{ca: ca}
	src := f.source(&certs.Options{Certificates: []certs.Pair{{Name: "web", Cert: "web", Validation: &certs.Validation{Trust: tb},
		Renewal: &certs.Renewal{Issuer: iss, DNSNames: []string{"localhost"}}}}})
	f.next(certs.EventLoaded, "web") // the first certificate, issued at New and written back
	w.failing.Store(true)
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	var renewed certs.Event
	for renewed.Err == nil {
		renewed = f.next(certs.EventRenewed, "web")
	}
	f.rotatedTo("web", renewed.Serial) // the renewal put in service, from memory
	calls := iss.calls.Load()
	f.rotate("bundle", append(append([]byte(nil), ca.PEM()...), newCA(t, "other").pem...))
	nextEvent(t, bundleEvents, certs.EventRotated, "bundle")
	select {
	case e := <-f.events:
		if e.Kind == certs.EventRotated {
			t.Errorf("the pair rotated after its bundle did: %v", e)
		}
	case <-time.After(time.Second): // the re-read changed nothing
	}
	if info := src.Certificates()[0]; info.Serial != renewed.Serial || !info.InMemory {
		t.Errorf("after the bundle rotated: serving %s (in memory %v), want the renewal %s", info.Serial, info.InMemory, renewed.Serial)
	}
	if n := iss.calls.Load(); n != calls {
		t.Errorf("the issuer was called %d more times after the bundle rotated", n-calls)
	}
}

// A renewal served from memory gives way to a newer pair the store gets
// later, even one refused at first for not being valid yet: the re-read
// at its NotBefore puts it in service.
func TestNewerPairReplacesInMemoryRenewal(t *testing.T) {
	clock := newClock(time.Now().Truncate(time.Second))
	f, w, src := writerFixtureOn(t, clock)
	readOnly := func(ref string) error { return errBackend }
	w.script.Store(&readOnly)
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	var renewed certs.Event
	for renewed.Err == nil {
		renewed = f.next(certs.EventRenewed, "web")
	}
	f.rotatedTo("web", renewed.Serial)
	nbf := clock.Now().Add(10 * time.Minute)
	l := newCA(t, "ops").issue(t, &leafOpts{notBefore: nbf, notAfter: nbf.Add(90 * 24 * time.Hour)}, "localhost")
	f.mem.Set("web-key", l.keyPEM, nil)
	f.mem.Set("web-cert", l.certPEM, nil)
	for {
		e := f.nextOf("web", certs.EventRejected)
		if errors.Is(e.Err, certs.ErrNotYetValid) {
			break
		}
	}
	clock.Set(nbf.Add(time.Second))
	f.rotatedTo("web", l.serial)
	if info := src.Certificates()[0]; info.InMemory || info.Serial != l.serial {
		t.Errorf("serving %s (in memory %v), want the store's newer pair %s", info.Serial, info.InMemory, l.serial)
	}
}
