package certs_test

import (
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/secrets"
)

// A revoked pair stays out of service: its renewal timer no longer fires
// an attempt, an explicit Renew fails with ErrNoCertificate, and a
// renewal that could not write back because the secret is revoked never
// serves from memory. When the secret is declared and loaded again, the
// pair comes back and its renewals resume.
func TestRevokedPairNotRenewed(t *testing.T) {
	f, clock, iss, src := renewalFixture(t, &certs.Renewal{DNSNames: []string{"localhost"}})
	f.next(certs.EventLoaded, "web")
	due := src.Certificates()[0].NextRenewal
	calls := iss.calls.Load()
	if err := f.store.Revoke(ctx(t), "web-key"); err != nil {
		t.Fatal(err)
	}
	e := f.next(certs.EventWithdrawn, "web")
	if !errors.Is(e.Err, certs.ErrNoCertificate) || e.Err.(*certs.Error).Secret != "web-key" {
		t.Fatalf("withdrawal %v: want ErrNoCertificate naming web-key", e.Err)
	}
	src.Certificates() // the withdrawal, timers included, is complete once the pair's lock is free
	clock.Set(due.Add(time.Minute))
	if err := src.Renew(ctx(t), "web"); !errors.Is(err, certs.ErrNoCertificate) {
		t.Fatalf("Renew of a revoked pair = %v, want ErrNoCertificate", err)
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); !errors.Is(err, certs.ErrNoCertificate) {
		t.Fatalf("GetCertificate after revocation and the renewal's due time = %v, want ErrNoCertificate", err)
	}
	if n := iss.calls.Load(); n != calls {
		t.Fatalf("the issuer was asked %d more time(s) for a revoked pair", n-calls)
	}

	// Declared and loaded again: back in service, renewals resume.
	l := newCA(t, "ca").issue(t, &leafOpts{notBefore: clock.Now().Add(-time.Minute), notAfter: clock.Now().Add(time.Hour)}, "localhost")
	f.mem.Set("web-cert", l.certPEM, nil)
	if err := f.store.Refresh(ctx(t), "web-cert"); err != nil { // the pair is still ended: ignored
		t.Fatal(err)
	}
	f.mem.Set("web-key", l.keyPEM, nil)
	if err := f.store.Add(certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "memory://web-key"})); err != nil {
		t.Fatal(err)
	}
	// The pair's Validation wants the DevCA's roots: this leaf is refused,
	// but read, which shows the pair is no longer ended.
	if e := f.next(certs.EventRejected, "web"); !errors.Is(e.Err, certs.ErrUntrusted) {
		t.Fatalf("after the secret came back: %v, want the new value read (and refused as untrusted)", e.Err)
	}
	if err := src.Renew(ctx(t), "web"); err != nil {
		t.Fatalf("Renew once the secret is back: %v", err)
	}
	if e := f.next(certs.EventRotated, "web"); e.Serial == "" {
		t.Fatal("no rotation after the renewal")
	}
}

// A renewal whose write-back finds the secret revoked (the revocation
// event not handled yet) drops the new certificate rather than serve it
// from memory, and takes the pair out of service.
func TestRenewalWriteBackRevokedIsFatal(t *testing.T) {
	f, _, iss, src := renewalFixture(t, &certs.Renewal{DNSNames: []string{"localhost"}})
	f.next(certs.EventLoaded, "web")
	// Revoke from inside Issue: the attempt has passed its first check,
	// and its write-back meets the revoked secret.
	iss.during = func() {
		if err := f.store.Revoke(ctx(t), "web-cert"); err != nil {
			t.Error(err)
		}
	}
	err := src.Renew(ctx(t), "web")
	if !errors.Is(err, secrets.ErrRevoked) && !errors.Is(err, certs.ErrNoCertificate) {
		t.Fatalf("Renew racing a revocation = %v, want secrets.ErrRevoked or ErrNoCertificate", err)
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); err == nil {
		t.Fatal("the renewed certificate is served from memory although its secret is revoked")
	}
	if info := src.Certificates()[0]; info.Served || info.InMemory {
		t.Fatalf("after the revocation: %+v", info)
	}
}

// When the store stops serving a pair's secret (its staleness budget is
// spent), the pair is withdrawn with ErrStale; when the store serves it
// again, even the same version, which the store reports with no event,
// the pair comes back.
func TestStoreStalenessWithdrawsPair(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clock := newClock(start)
	f := newFixture(t, clock)
	ca := newCA(t, "ca")
	l := ca.issue(t, nil, "localhost")
	f.declare("web", l.bundle(), func(s secrets.Spec) secrets.Spec {
		s = certs.CertificateSpec(s)
		s.MaxStale = time.Minute
		return s
	})
	src := f.source(&certs.Options{Certificates: []certs.Pair{{Cert: "web"}}})
	f.next(certs.EventLoaded, "web")

	f.mem.Fail("web", nil, -1)
	f.store.Refresh(ctx(t), "web") // fails: the staleness budget starts
	clock.Advance(time.Minute)
	e := f.next(certs.EventWithdrawn, "web")
	if !errors.Is(e.Err, certs.ErrStale) || !errors.Is(e.Err, secrets.ErrStale) {
		t.Fatalf("withdrawal %v: want certs.ErrStale wrapping secrets.ErrStale", e.Err)
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); !errors.Is(err, certs.ErrStale) {
		t.Fatalf("GetCertificate while the store does not serve the secret = %v, want ErrStale", err)
	}
	src.Certificates() // the re-read is armed once the pair's lock is free

	f.mem.Heal("web")
	if err := f.store.Refresh(ctx(t), "web"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute) // past the re-read's backoff
	if e := f.next(certs.EventRotated, "web"); e.Serial != l.serial {
		t.Fatalf("back in service with %s, want %s", e.Serial, l.serial)
	}
	if err := src.Health(); err != nil {
		t.Fatalf("Health after the store recovered: %v", err)
	}
}

// A name whose pair is withdrawn goes to the next pair claiming it, and
// a name only that pair claimed goes to the default.
func TestSNIFallbackWhenWithdrawn(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	first := ca.issue(t, nil, "a.example", "only.example")
	second := ca.issue(t, nil, "a.example")
	def := ca.issue(t, nil, "default.example")
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("first", first), f.pair("second", second),
		{Name: "default", Cert: f.pair("def", def).Cert, Key: "def-key", Default: true}}})
	s := serve(t, certs.ServerConfig(src, nil))
	insecure := func(name string) *tls.Config { return &tls.Config{ServerName: name, InsecureSkipVerify: true} }
	mustServe(t, s, insecure("a.example"), first.serial)
	mustServe(t, s, insecure("only.example"), first.serial)

	if err := f.store.Revoke(ctx(t), "first-key"); err != nil {
		t.Fatal(err)
	}
	f.next(certs.EventWithdrawn, "first")
	mustServe(t, s, insecure("a.example"), second.serial)
	mustServe(t, s, insecure("only.example"), def.serial)
}
