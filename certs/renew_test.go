package certs_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// flaky is an Issuer that fails while failing is set, and otherwise asks
// the DevCA.
type flaky struct {
	ca      *certs.DevCA
	failing atomic.Bool
	calls   atomic.Int32
	during  func() // when set, called in Issue once the certificate is made
	before  func() // when set, called in Issue before the certificate is made
}

var errIssuerDown = errors.New("issuer down")

func (f *flaky) Issue(ctx context.Context, csr *x509.CertificateRequest) ([][]byte, error) {
	f.calls.Add(1)
	if f.before != nil {
		f.before()
	}
	if f.failing.Load() {
		return nil, errIssuerDown
	}
	chain, err := f.ca.Issue(ctx, csr)
	if f.during != nil {
		f.during()
	}
	return chain, err
}

// renewalFixture is a store on a virtual clock with a DevCA and a pair
// whose secrets are declared (in the memory provider) but hold nothing
// yet, so that New obtains the first certificate from the issuer.
func renewalFixture(t *testing.T, r *certs.Renewal) (*fixture, *memory.Clock, *flaky, *certs.Source) {
	t.Helper()
	start := time.Now().Truncate(time.Second)
	clock := newClock(start)
	f := newFixture(t, clock)
	ca, err := certs.NewDevCA(ctx(t), f.store, &certs.DevCAOptions{Clock: clock, LeafLifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	iss := &flaky{ca: ca}
	r.Issuer = iss
	for _, s := range []secrets.Spec{
		certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "memory://web-cert"}),
		certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "memory://web-key"}),
	} {
		if err := f.store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	src := f.source(&certs.Options{
		Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key", Renewal: r,
			Validation: &certs.Validation{Roots: ca.CertPool()}}},
		Random: rand.NewChaCha8([32]byte{7}),
	})
	return f, clock, iss, src
}

// The first certificate comes from the issuer and is written back to the
// store; renewal starts at two thirds of the lifetime (with at most 10%
// jitter), and the renewed pair is written back and served.
func TestRenewalSchedule(t *testing.T) {
	f, clock, iss, src := renewalFixture(t, &certs.Renewal{DNSNames: []string{"localhost"}})
	first := f.next(certs.EventRenewed, "web")
	if first.Err != nil {
		t.Fatalf("first issuance not written back: %v", first.Err)
	}
	f.next(certs.EventLoaded, "web")
	info := src.Certificates()[0]
	if info.InMemory || info.CertVersion == "" || info.Serial != first.Serial {
		t.Fatalf("after the first issuance: %+v", info)
	}
	md, err := f.store.Metadata("web-cert")
	if err != nil || md.Details["serial"] != first.Serial {
		t.Fatalf("store holds serial %q (%v), want the issued %s", md.Details["serial"], err, first.Serial)
	}
	life := info.NotAfter.Sub(info.NotBefore)
	due := info.NextRenewal.Sub(info.NotBefore)
	if due > life*2/3 || due < life*2/3-life/10 {
		t.Fatalf("renewal due after %v of a %v lifetime, want within [2/3 - 10%%, 2/3]", due, life)
	}
	clock.Advance(due - time.Second)
	if n := iss.calls.Load(); n != 1 {
		t.Fatalf("issuer called %d times before the renewal was due", n)
	}
	clock.Advance(time.Second)
	renewed := f.next(certs.EventRenewed, "web")
	if e := f.next(certs.EventRotated, "web"); e.Serial != renewed.Serial || e.PreviousFingerprint != first.Fingerprint {
		t.Fatalf("rotated to %s from %s, want %s from %s", e.Serial, e.PreviousFingerprint, renewed.Serial, first.Fingerprint)
	}
	if md, _ := f.store.Metadata("web-cert"); md.Details["serial"] != renewed.Serial {
		t.Errorf("store holds serial %s after renewal, want %s", md.Details["serial"], renewed.Serial)
	}
	if got, err := servedSerial(src, "localhost"); err != nil || got != renewed.Serial {
		t.Fatalf("serving serial %s (%v), want the renewed %s", got, err, renewed.Serial)
	}
}

// Renewals that fail back off, keep the certificate in service, withdraw
// it once MaxStale is spent, and bring it back when the issuer recovers.
func TestRenewalBackoffAndStaleness(t *testing.T) {
	f, clock, iss, src := renewalFixture(t, &certs.Renewal{DNSNames: []string{"localhost"}, Jitter: -1,
		MinBackoff: time.Minute, MaxBackoff: 4 * time.Minute, MaxStale: 10 * time.Minute})
	f.next(certs.EventLoaded, "web")
	iss.failing.Store(true)
	clock.Advance(40 * time.Minute) // two thirds of the hour
	var start time.Time
	var waits []time.Duration
	last := clock.Now()
	for failures := 1; ; failures++ {
		e := f.nextOf("web", certs.EventRenewalFailed, certs.EventWithdrawn)
		if e.Kind == certs.EventWithdrawn {
			if !errors.Is(e.Err, certs.ErrStale) {
				t.Fatalf("withdrawn: %v, want ErrStale", e.Err)
			}
			if got := e.Time.Sub(start); got != 10*time.Minute {
				t.Errorf("withdrawn %v after the first failure, want MaxStale (10m)", got)
			}
			break
		}
		if !errors.Is(e.Err, errIssuerDown) || !errors.Is(e.Err, certs.ErrIssue) {
			t.Fatalf("failure %d: %v", failures, e.Err)
		}
		if failures == 1 {
			start = e.Time
		}
		if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); err != nil && e.Time.Sub(start) < 10*time.Minute {
			t.Fatalf("certificate not served after %d failures, within MaxStale: %v", failures, err)
		}
		next := src.Certificates()[0].NextRenewal
		waits = append(waits, next.Sub(last))
		last = next
		clock.Set(next)
		if failures > 20 {
			t.Fatal("certificate never withdrawn")
		}
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); !errors.Is(err, certs.ErrStale) {
		t.Fatalf("GetCertificate after MaxStale = %v, want ErrStale", err)
	}
	for i, w := range waits {
		bound := min(time.Minute<<i, 4*time.Minute)
		if w < time.Minute/10 || w > bound {
			t.Errorf("wait %d = %v, want within [6s, %v]", i+1, w, bound)
		}
	}
	if err := src.Health(); !errors.Is(err, certs.ErrStale) {
		t.Errorf("Health = %v, want ErrStale", err)
	}
	iss.failing.Store(false)
	clock.Set(src.Certificates()[0].NextRenewal)
	f.next(certs.EventRenewed, "web")
	f.next(certs.EventRotated, "web")
	if err := src.Health(); err != nil {
		t.Errorf("Health after recovery = %v", err)
	}
}

// Where the provider cannot write (here a part of a PEM file), the
// renewed pair is served from memory, and EventRenewed says why it was
// not written back.
func TestRenewalNotWritable(t *testing.T) {
	f := newFixture(t, nil)
	ca, err := certs.NewDevCA(ctx(t), f.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	old := newCA(t, "old")
	l := old.issue(t, nil, "localhost")
	if err := os.WriteFile(filepath.Join(f.dir, "tls.pem"), l.bundle(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, s := range []secrets.Spec{
		certs.CertificateSpec(secrets.Spec{Name: "c", Ref: "file:tls.pem#cert"}),
		certs.KeySpec(secrets.Spec{Name: "k", Ref: "file:tls.pem#key"}),
	} {
		if err := f.store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	src := f.source(&certs.Options{Certificates: []certs.Pair{{Name: "web", Cert: "c", Key: "k",
		Renewal: &certs.Renewal{Issuer: ca}}}})
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatal(err)
	}
	e := f.next(certs.EventRenewed, "web")
	if !errors.Is(e.Err, secrets.ErrUnsupported) {
		t.Errorf("EventRenewed.Err = %v, want secrets.ErrUnsupported", e.Err)
	}
	info := src.Certificates()[0]
	if !info.InMemory || info.Issuer != ca.Certificate().Subject.String() || info.DNSNames[0] != "localhost" {
		t.Errorf("after renewal: %+v", info)
	}
	if err := src.Renew(ctx(t), "nope"); !errors.Is(err, certs.ErrConfig) {
		t.Errorf("Renew(unknown) = %v, want ErrConfig", err)
	}
}

// servedSerial returns the serial of the certificate src serves for name.
func servedSerial(src *certs.Source, name string) (string, error) {
	c, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil {
		return "", err
	}
	return c.Leaf.SerialNumber.Text(16), nil
}
