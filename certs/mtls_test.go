package certs_test

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
)

// mTLS through a CA rotation on both sides, with the overlap in the
// bundles: both trust bundles gain the new CA, then the server and the
// client certificates move to it one after the other, then the bundles
// drop the old CA; no restart, and every step is checked by real
// handshakes. Last, a client still on the old CA is refused, and so is a
// server.
func TestMTLSRotationWithOverlap(t *testing.T) {
	f := newFixture(t, nil)
	ca1, ca2 := newCA(t, "ca1"), newCA(t, "ca2")
	srv1, cli1 := ca1.issue(t, nil, "localhost"), ca1.issue(t, &leafOpts{client: true}, "client")
	srv2, cli2 := ca2.issue(t, nil, "localhost"), ca2.issue(t, &leafOpts{client: true}, "client")

	f.declare("clients-ca", ca1.pem, certs.BundleSpec)
	f.declare("servers-ca", ca1.pem, certs.BundleSpec)
	clientCAs, err := certs.NewTrustBundle(ctx(t), f.store, "clients-ca", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clientCAs.Close() })
	serverCAs, err := certs.NewTrustBundle(ctx(t), f.store, "servers-ca", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { serverCAs.Close() })
	bundleEvents := make(chan certs.Event, 100)
	for _, b := range []*certs.TrustBundle{clientCAs, serverCAs} {
		cancel, _ := b.Subscribe(func(e certs.Event) { bundleEvents <- e })
		t.Cleanup(cancel)
	}

	srvSrc := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("srv", srv1)}})
	cliSrc := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("cli", cli1)}})
	s := serve(t, certs.ServerConfig(srvSrc, &certs.ServerConfigOptions{ClientCAs: clientCAs}))
	client := certs.ClientConfig(cliSrc, &certs.ClientConfigOptions{RootCAs: serverCAs, ServerName: "localhost"})

	step := func(what, serial string) {
		t.Helper()
		got, err := handshake(t, s, client)
		if err != nil {
			t.Fatalf("%s: handshake: %v", what, err)
		}
		if got != serial {
			t.Fatalf("%s: server presented %s, want %s", what, got, serial)
		}
	}
	step("start, all on ca1", srv1.serial)

	both := append(append([]byte(nil), ca1.pem...), ca2.pem...)
	f.rotate("clients-ca", both)
	nextEvent(t, bundleEvents, certs.EventRotated, "clients-ca")
	f.rotate("servers-ca", both)
	nextEvent(t, bundleEvents, certs.EventRotated, "servers-ca")
	step("bundles trust ca1 and ca2", srv1.serial)

	f.rotate("srv-key", srv2.keyPEM)
	f.rotate("srv-cert", srv2.certPEM)
	f.rotatedTo("srv", srv2.serial)
	step("server on ca2, client on ca1", srv2.serial)

	f.rotate("cli-key", cli2.keyPEM)
	f.rotate("cli-cert", cli2.certPEM)
	f.rotatedTo("cli", cli2.serial)
	step("both on ca2", srv2.serial)

	f.rotate("clients-ca", ca2.pem)
	nextEvent(t, bundleEvents, certs.EventRotated, "clients-ca")
	f.rotate("servers-ca", ca2.pem)
	nextEvent(t, bundleEvents, certs.EventRotated, "servers-ca")
	step("bundles trust ca2 only", srv2.serial)

	stale := &tls.Config{ServerName: "localhost", RootCAs: ca2.pool(), Certificates: []tls.Certificate{tlsCert(t, cli1)}}
	if _, err := handshake(t, s, stale); err == nil {
		t.Error("server accepted a client certificate from the retired ca1")
	}
	old := serve(t, &tls.Config{Certificates: []tls.Certificate{tlsCert(t, srv1)}})
	if _, err := handshake(t, old, client); err == nil {
		t.Error("client accepted a server certificate from the retired ca1")
	}
}

// A TrustBundle's own overlap: the bundle moves from ca1 to ca2 in one
// step, and ca1 stays trusted for Overlap (on a virtual clock), then not.
func TestTrustBundleOverlapWindow(t *testing.T) {
	f := newFixture(t, nil)
	clock := newClock(time.Now())
	ca1, ca2 := newCA(t, "ca1"), newCA(t, "ca2")
	srv := ca2.issue(t, nil, "localhost")
	cli1 := ca1.issue(t, &leafOpts{client: true}, "client")
	f.declare("clients-ca", ca1.pem, certs.BundleSpec)
	bundle, err := certs.NewTrustBundle(ctx(t), f.store, "clients-ca", &certs.TrustOptions{Overlap: time.Hour, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bundle.Close() })
	events := make(chan certs.Event, 10)
	cancel, _ := bundle.Subscribe(func(e certs.Event) { events <- e })
	t.Cleanup(cancel)
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("srv", srv)}})
	s := serve(t, certs.ServerConfig(src, &certs.ServerConfigOptions{ClientCAs: bundle}))
	client := &tls.Config{ServerName: "localhost", RootCAs: ca2.pool(), Certificates: []tls.Certificate{tlsCert(t, cli1)}}

	f.rotate("clients-ca", ca2.pem)
	nextEvent(t, events, certs.EventRotated, "clients-ca")
	if n := len(bundle.Certificates()); n != 2 {
		t.Fatalf("during the overlap the bundle trusts %d CAs, want 2", n)
	}
	if _, err := handshake(t, s, client); err != nil {
		t.Fatalf("client on the retired CA refused during the overlap: %v", err)
	}
	clock.Advance(time.Hour)
	waitFor(t, "the overlap to end", func() bool { return len(bundle.Certificates()) == 1 })
	if _, err := handshake(t, s, client); err == nil {
		t.Fatal("client on the retired CA accepted after the overlap")
	}
}

// tlsCert makes a static tls.Certificate of l.
func tlsCert(t testing.TB, l *leaf) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(l.certPEM, l.keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds, failing the test after wait.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(wait); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, wait)
		}
		time.Sleep(time.Millisecond)
	}
}

// The Hook functions add rotation to configs the program already has:
// their own GetConfigForClient and VerifyConnection still run, and
// Certificates set before are cleared in favour of the hooks.
func TestHookExistingConfigs(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	srv, cli := ca.issue(t, nil, "localhost"), ca.issue(t, &leafOpts{client: true}, "client")
	f.declare("ca", ca.pem, certs.BundleSpec)
	bundle, err := certs.NewTrustBundle(ctx(t), f.store, "ca", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bundle.Close() })
	srvSrc := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("srv", srv)}})
	cliSrc := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("cli", cli)}})

	var sawHello, sawVerify bool
	server := &tls.Config{
		Certificates: []tls.Certificate{tlsCert(t, ca.issue(t, nil, "stale"))},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			sawHello = true
			return nil, nil
		},
	}
	certs.HookServerConfig(server, srvSrc, &certs.ServerConfigOptions{ClientCAs: bundle})
	client := &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS13,
		VerifyConnection: func(cs tls.ConnectionState) error {
			sawVerify = len(cs.PeerCertificates) > 0
			return nil
		}}
	certs.HookClientConfig(client, cliSrc, &certs.ClientConfigOptions{RootCAs: bundle})
	s := serve(t, server)
	mustServe(t, s, client, srv.serial)
	if !sawHello || !sawVerify {
		t.Errorf("the config's own hooks ran: GetConfigForClient %v, VerifyConnection %v", sawHello, sawVerify)
	}
	// The client's verification against the bundle is real: a server
	// certificate for another name is refused.
	other := client.Clone()
	other.ServerName = "elsewhere.test"
	if _, err := handshake(t, s, other); err == nil {
		t.Error("client accepted a certificate for the wrong name")
	}
	// No client certificate: the server refuses.
	bare := certs.ClientConfig(nil, &certs.ClientConfigOptions{RootCAs: bundle, ServerName: "localhost"})
	if _, err := handshake(t, s, bare); err == nil {
		t.Error("server accepted a client without a certificate")
	}
}
