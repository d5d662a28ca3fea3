package certs_test

import (
	"context"
	"errors"
	"testing"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/secrets"
)

// New refuses bad options with ErrConfig, and a pair it cannot read with
// ErrUnavailable naming the secret, leaving no goroutine behind (the
// fixture checks).
func TestNewErrors(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	p := f.pair("web", ca.issue(t, nil, "localhost"))
	on := func(certs.Event) {}
	for _, c := range []struct {
		name string
		opts *certs.Options
		kind error
	}{
		{"no options", nil, certs.ErrConfig},
		{"no pairs", &certs.Options{OnEvent: on}, certs.ErrConfig},
		{"no cert secret", &certs.Options{Certificates: []certs.Pair{{Key: "web-key"}}, OnEvent: on}, certs.ErrConfig},
		{"two pairs, one name", &certs.Options{Certificates: []certs.Pair{p, p}, OnEvent: on}, certs.ErrConfig},
		{"renewal without issuer", &certs.Options{Certificates: []certs.Pair{{Cert: "web-cert", Key: "web-key", Renewal: &certs.Renewal{}}}, OnEvent: on}, certs.ErrConfig},
		{"jitter above ahead", &certs.Options{Certificates: []certs.Pair{{Cert: "web-cert", Key: "web-key",
			Renewal: &certs.Renewal{Issuer: &flaky{}, Ahead: 0.5, Jitter: 0.6}}}, OnEvent: on}, certs.ErrConfig},
		{"bad threshold", &certs.Options{Certificates: []certs.Pair{p}, Thresholds: []certs.Threshold{{Fraction: 2}}, OnEvent: on}, certs.ErrConfig},
		{"undeclared secret", &certs.Options{Certificates: []certs.Pair{{Cert: "nope"}}, OnEvent: on}, certs.ErrUnavailable},
	} {
		t.Run(c.name, func(t *testing.T) {
			src, err := certs.New(ctx(t), f.store, c.opts)
			if !errors.Is(err, c.kind) {
				t.Fatalf("New = %v, %v; want %v", src, err, c.kind)
			}
			if c.name == "undeclared secret" && !errors.Is(err, secrets.ErrNotFound) {
				t.Errorf("New = %v, want it to wrap the store's ErrNotFound", err)
			}
		})
	}
	if _, err := certs.New(context.Background(), nil, &certs.Options{Certificates: []certs.Pair{p}}); !errors.Is(err, certs.ErrConfig) {
		t.Errorf("New(nil store) = %v, want ErrConfig", err)
	}
}

// A trust bundle that does not parse, or holds a private key, is refused
// with an event naming the secret; the pool in service stays.
func TestTrustBundleRefusals(t *testing.T) {
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	f.declare("plain", ca.pem, nil)
	events := make(chan certs.Event, 10)
	b, err := certs.NewTrustBundle(ctx(t), f.store, "plain", &certs.TrustOptions{OnEvent: func(e certs.Event) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	nextEvent(t, events, certs.EventLoaded, "plain")
	for _, bad := range [][]byte{[]byte("garbage"), ca.issue(t, nil, "x").bundle()} {
		f.rotate("plain", bad)
		e := nextEvent(t, events, certs.EventRejected, "plain")
		if e.Secret != "plain" || !errors.Is(e.Err, certs.ErrMalformed) {
			t.Errorf("rejection %+v: want ErrMalformed naming secret plain", e)
		}
		if got := b.Certificates(); len(got) != 1 || !got[0].Equal(ca.cert) {
			t.Errorf("after a refusal the bundle trusts %d certificates", len(got))
		}
	}
	if _, err := certs.NewTrustBundle(ctx(t), f.store, "", nil); !errors.Is(err, certs.ErrConfig) {
		t.Errorf("NewTrustBundle without a secret = %v, want ErrConfig", err)
	}
}
