package certs_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/secrets"
)

// The half-updated pair: the certificate rotates before its key (and the
// other way round). Within Options.PairGrace (on a virtual clock) the
// state is only logged at Debug, and nothing is reported when the missing
// half arrives; past it, the mismatched pair is refused with an event
// that names both secrets. The old certificate stays in service
// throughout, and the pair is accepted when the missing half arrives.
func TestHalfUpdatedPair(t *testing.T) {
	for _, first := range []string{"cert", "key"} {
		t.Run(first+" first", func(t *testing.T) {
			clock := newClock(time.Now().Truncate(time.Second))
			f := newFixture(t, clock)
			ca := newCA(t, "ca")
			old := ca.issue(t, nil, "localhost")
			logs := newLogWatch()
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { mp.Shutdown(context.Background()) })
			src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", old)}, Logger: logs.logger(), MeterProvider: mp})
			s := serve(t, certs.ServerConfig(src, nil))
			cfg := clientConfig(ca, "localhost")
			mustServe(t, s, cfg, old.serial)
			second := map[string]string{"cert": "key", "key": "cert"}[first]

			// Within the grace: the missing half arrives, nothing is refused.
			next := ca.issue(t, nil, "localhost")
			halves := map[string][]byte{"cert": next.certPEM, "key": next.keyPEM}
			f.rotate("web-"+first, halves[first])
			logs.await(t, slog.LevelDebug, "half-updated")
			mustServe(t, s, cfg, old.serial)
			clock.Advance(time.Second)
			f.rotate("web-"+second, halves[second])
			if e := f.nextOf("web", certs.EventRotated, certs.EventRejected); e.Kind != certs.EventRotated || e.Serial != next.serial {
				t.Fatalf("within the grace: %v, want a rotation to %s", e, next.serial)
			}
			mustServe(t, s, cfg, next.serial)
			if n := counter(t, reader, certs.MetricRejections); n != 0 {
				t.Errorf("%d rejections counted for a rotation completed within the grace", n)
			}
			if logs.saw(slog.LevelWarn, "rejected") {
				t.Error("a warning logged for a rotation completed within the grace")
			}

			// Past the grace: refused, with both secrets named.
			last := ca.issue(t, nil, "localhost")
			halves = map[string][]byte{"cert": last.certPEM, "key": last.keyPEM}
			f.rotate("web-"+first, halves[first])
			logs.await(t, slog.LevelDebug, "half-updated")
			clock.Advance(2 * time.Second) // the default PairGrace
			e := f.next(certs.EventRejected, "web")
			if !errors.Is(e.Err, certs.ErrMismatch) || !errors.Is(e.Err, secrets.ErrInvalid) {
				t.Fatalf("rejection %v: want ErrMismatch and secrets.ErrInvalid", e.Err)
			}
			if e.Secret != "web-"+first || !strings.Contains(e.Err.Error(), "web-"+second) {
				t.Errorf("rejection names secret %q, says %q: want it to blame web-%s and name web-%s", e.Secret, e.Err, first, second)
			}
			mustServe(t, s, cfg, next.serial)

			f.rotate("web-"+second, halves[second])
			if e := f.next(certs.EventRotated, "web"); e.Serial != last.serial {
				t.Fatalf("rotated to %s, want %s", e.Serial, last.serial)
			}
			mustServe(t, s, cfg, last.serial)
			if n := counter(t, reader, certs.MetricRejections); n != 1 {
				t.Errorf("%d rejections counted, want 1", n)
			}
		})
	}
}

// Every kind of bad value is refused with the old certificate kept in
// service: whether the store's hooks (CertificateSpec, KeySpec) catch it
// or the Source does, for a secret declared without them.
func TestRefusedValuesKeepOldCertificate(t *testing.T) {
	ca, other := newCA(t, "ca"), newCA(t, "other ca")
	now := time.Now()
	cases := []struct {
		name string
		bad  func() []byte
		kind error // as the Source reports it for a secret without hooks
	}{
		{"expired", func() []byte {
			return ca.issue(t, &leafOpts{notBefore: now.Add(-48 * time.Hour), notAfter: now.Add(-time.Hour)}, "localhost").bundle()
		}, certs.ErrExpired},
		{"not yet valid", func() []byte {
			return ca.issue(t, &leafOpts{notBefore: now.Add(time.Hour), notAfter: now.Add(48 * time.Hour)}, "localhost").bundle()
		}, certs.ErrNotYetValid},
		{"mismatched", func() []byte {
			a, b := ca.issue(t, nil, "localhost"), ca.issue(t, nil, "localhost")
			return append(a.certPEM, b.keyPEM...)
		}, certs.ErrMismatch},
		{"wrong chain", func() []byte { return other.issue(t, nil, "localhost").bundle() }, certs.ErrUntrusted},
		{"missing name", func() []byte { return ca.issue(t, nil, "elsewhere.test").bundle() }, certs.ErrMissingName},
		{"garbage", func() []byte { return []byte("-----BEGIN CERTIFICATE-----\nnot base64 at all\n") }, certs.ErrMalformed},
		{"no key", func() []byte { return ca.issue(t, nil, "localhost").certPEM }, certs.ErrMalformed},
	}
	for _, hooks := range []bool{true, false} {
		for _, c := range cases {
			name := c.name + map[bool]string{true: " (store hooks)", false: " (plain secret)"}[hooks]
			t.Run(name, func(t *testing.T) {
				f := newFixture(t, nil)
				good := ca.issue(t, nil, "localhost")
				wrap := certs.CertificateSpec
				if !hooks {
					wrap = nil
				}
				f.declare("web", good.bundle(), wrap)
				src := f.source(&certs.Options{Certificates: []certs.Pair{{Cert: "web",
					Validation: &certs.Validation{Roots: ca.pool(), DNSNames: []string{"localhost"}}}}})
				s := serve(t, certs.ServerConfig(src, nil))
				cfg := clientConfig(ca, "localhost")
				mustServe(t, s, cfg, good.serial)

				f.rotate("web", c.bad())
				e := f.next(certs.EventRejected, "web")
				if e.Secret != "web" || !strings.Contains(e.Err.Error(), "web") {
					t.Errorf("rejection %q does not name the secret web", e.Err)
				}
				if !errors.Is(e.Err, secrets.ErrInvalid) {
					t.Errorf("rejection %v does not match secrets.ErrInvalid", e.Err)
				}
				if !hooks && !errors.Is(e.Err, c.kind) {
					t.Errorf("rejection %v, want %v", e.Err, c.kind)
				}
				mustServe(t, s, cfg, good.serial)
				if err := src.Health(); err != nil {
					t.Errorf("Health after a refusal: %v", err)
				}
			})
		}
	}
}

// A certificate refused as not yet valid is taken when it becomes valid
// (on a virtual clock: no waiting).
func TestNotYetValidTakenWhenValid(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	clock := newClock(start)
	f := newFixture(t, clock)
	ca := newCA(t, "ca")
	good := ca.issue(t, &leafOpts{notBefore: start.Add(-time.Hour), notAfter: start.Add(24 * time.Hour)}, "localhost")
	early := ca.issue(t, &leafOpts{notBefore: start.Add(time.Hour), notAfter: start.Add(48 * time.Hour)}, "localhost")
	f.declare("web", good.bundle(), nil)
	f.source(&certs.Options{Certificates: []certs.Pair{{Cert: "web"}}})
	f.rotate("web", early.bundle())
	if e := f.next(certs.EventRejected, "web"); !errors.Is(e.Err, certs.ErrNotYetValid) {
		t.Fatalf("rejection %v, want ErrNotYetValid", e.Err)
	}
	clock.Advance(time.Hour + time.Second)
	if e := f.next(certs.EventRotated, "web"); e.Serial != early.serial {
		t.Fatalf("rotated to %s, want %s", e.Serial, early.serial)
	}
}

// SNI: exact name, then wildcard, then the default.
func TestSNISelection(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	exact := ca.issue(t, nil, "a.example.com")
	wild := ca.issue(t, nil, "*.example.com")
	def := ca.issue(t, nil, "default.test")
	explicit := ca.issue(t, nil, "api.internal")
	src := f.source(&certs.Options{Certificates: []certs.Pair{
		f.pair("wild", wild),
		f.pair("exact", exact),
		{Name: "default", Cert: f.pair("def", def).Cert, Key: "def-key", Default: true},
		{Name: "explicit", Cert: f.pair("ex", explicit).Cert, Key: "ex-key", ServerNames: []string{"svc.internal"}},
	}})
	s := serve(t, certs.ServerConfig(src, nil))
	for _, c := range []struct{ sni, serial string }{
		{"a.example.com", exact.serial},
		{"A.Example.COM", exact.serial},
		{"b.example.com", wild.serial},
		{"deep.b.example.com", def.serial}, // a wildcard covers one label
		{"unknown.test", def.serial},
		{"svc.internal", explicit.serial},
	} {
		cfg := &tls.Config{ServerName: c.sni, InsecureSkipVerify: true}
		mustServe(t, s, cfg, c.serial)
	}
	// No SNI at all (a client dialling an IP address): the default.
	mustServe(t, s, &tls.Config{InsecureSkipVerify: true}, def.serial)
	if got, err := servedSerial(src, "a.example.com."); err != nil || got != exact.serial {
		t.Errorf("GetCertificate(trailing dot) = serial %s, %v; want %s", got, err, exact.serial)
	}
}

// A swap does not touch connections already established: they keep
// working on the old certificate, while new ones get the new one.
func TestExistingConnectionsUnaffected(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	old, next := ca.issue(t, nil, "localhost"), ca.issue(t, nil, "localhost")
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", old)}})
	s := serve(t, certs.ServerConfig(src, nil))
	cfg := clientConfig(ca, "localhost")
	conn, err := dial(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	echo := func(msg string) {
		t.Helper()
		if _, err := io.WriteString(conn, msg+"\n"); err != nil {
			t.Fatal(err)
		}
		if got, err := r.ReadString('\n'); err != nil || got != msg+"\n" {
			t.Fatalf("echo %q = %q, %v", msg, got, err)
		}
	}
	echo("before")
	f.rotate("web-key", next.keyPEM)
	f.rotate("web-cert", next.certPEM)
	f.next(certs.EventRotated, "web")
	mustServe(t, s, cfg, next.serial)
	echo("after")
	if got := conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16); got != old.serial {
		t.Errorf("existing connection's certificate is %s, want the old %s", got, old.serial)
	}
}

// The hooks honour the handshake's context, and fail after Close.
func TestHooksHonourContextAndClose(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", ca.issue(t, nil, "localhost"))}})
	hookErr := make(chan error, 1)
	cfg := &tls.Config{
		// Ends the handshake's context before GetCertificate runs.
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			hello.Context().Value(cancelKey{}).(context.CancelFunc)()
			return nil, nil
		},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := src.GetCertificate(hello)
			hookErr <- err
			return c, err
		},
	}
	s := serveWithContext(t, cfg)
	if _, err := handshake(t, s, clientConfig(ca, "localhost")); err == nil {
		t.Fatal("handshake succeeded with its context ended")
	}
	if err := <-hookErr; !errors.Is(err, context.Canceled) {
		t.Errorf("GetCertificate with an ended context = %v, want context.Canceled", err)
	}

	src.Close()
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); !errors.Is(err, certs.ErrClosed) {
		t.Errorf("GetCertificate after Close = %v, want ErrClosed", err)
	}
	if _, err := src.GetClientCertificate(&tls.CertificateRequestInfo{}); !errors.Is(err, certs.ErrClosed) {
		t.Errorf("GetClientCertificate after Close = %v, want ErrClosed", err)
	}
	if _, err := src.Subscribe(func(certs.Event) {}); !errors.Is(err, certs.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

type cancelKey struct{}

// serveWithContext is a TLS server on loopback that handshakes each
// connection under a cancellable context whose cancel function the
// context carries, then closes it.
func serveWithContext(t *testing.T, cfg *tls.Config) *server {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			ctx = context.WithValue(ctx, cancelKey{}, context.CancelFunc(cancel))
			c.(*tls.Conn).HandshakeContext(ctx)
			cancel()
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Revoking a pair's secret takes its certificate out of service at once.
func TestRevokedSecretWithdraws(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", ca.issue(t, nil, "localhost"))}})
	if err := f.store.Revoke(ctx(t), "web-key"); err != nil {
		t.Fatal(err)
	}
	e := f.next(certs.EventWithdrawn, "web")
	if e.Err == nil || !strings.Contains(e.Err.Error(), "web-key") {
		t.Errorf("withdrawal %v does not name the revoked secret", e.Err)
	}
	if _, err := src.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"}); !errors.Is(err, certs.ErrNoCertificate) {
		t.Errorf("GetCertificate after revocation = %v, want ErrNoCertificate", err)
	}
	if err := src.Health(); err == nil {
		t.Error("Health reports nothing after a revocation")
	}
}
