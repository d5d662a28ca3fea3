package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// certCA issues the ECDSA P-256 certificates the certs benchmarks serve.
type certCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

var certSerial atomic.Int64

func newCertCA(b *testing.B) *certCA {
	b.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial.Add(1)), Subject: pkix.Name{CommonName: "bench ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &certCA{cert: cert, key: key}
}

func (ca *certCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf returns a certificate for localhost and its key, in PEM, and its
// serial.
func (ca *certCA) leaf(b *testing.B) (certPEM, keyPEM []byte, serial string) {
	b.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(certSerial.Add(1)), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		b.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), tmpl.SerialNumber.Text(16)
}

// certSource returns a Source serving one certificate of ca from the
// memory provider, with its key sealed between signatures when sealed is
// set; both are closed when b ends.
func certSource(b *testing.B, ca *certCA, sealed bool) *certs.Source {
	b.Helper()
	ctx := context.Background()
	mem := memory.New(nil)
	certPEM, keyPEM, _ := ca.leaf(b)
	mem.Set("web-cert", certPEM, nil)
	mem.Set("web-key", keyPEM, nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	store.Add(certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "memory://web-cert"}))
	store.Add(certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "memory://web-key"}))
	src, err := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{{Cert: "web-cert", Key: "web-key", SealedKey: sealed}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	return src
}

// handshakeServer accepts TLS connections on loopback and completes one
// full handshake on each. Connections close with SO_LINGER 0, so that
// thousands of them a second leave no TIME_WAIT behind to exhaust ports.
func handshakeServer(b *testing.B, cfg *tls.Config) string {
	b.Helper()
	cfg.MinVersion = tls.VersionTLS13
	cfg.SessionTicketsDisabled = true // every handshake a full one
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.(*net.TCPConn).SetLinger(0)
				tc := tls.Server(c, cfg)
				tc.Handshake()
				tc.Close()
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// fullHandshake dials addr, completes a TLS 1.3 handshake verifying the
// server for localhost, and closes.
func fullHandshake(b *testing.B, addr string, cfg *tls.Config) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c.(*net.TCPConn).SetLinger(0)
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		b.Fatal(err)
	}
	tc.Close()
}

// BenchmarkCertHandshake times full TLS 1.3 handshakes (ECDSA P-256,
// X25519, loopback, a new TCP connection each) against a server whose
// certificate is a static tls.Config.Certificates entry ("static"),
// strongroom's GetCertificate hook ("hook"), and the hook with the key
// sealed between signatures ("sealed-key"). Client and server share the
// machine's two cores; the Parallel forms run one client per core.
func BenchmarkCertHandshake(b *testing.B) {
	ca := newCertCA(b)
	configs := []struct {
		name string
		make func(b *testing.B) *tls.Config
	}{
		{"static", func(b *testing.B) *tls.Config {
			certPEM, keyPEM, _ := ca.leaf(b)
			c, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				b.Fatal(err)
			}
			return &tls.Config{Certificates: []tls.Certificate{c}}
		}},
		{"hook", func(b *testing.B) *tls.Config { return certs.ServerConfig(certSource(b, ca, false), nil) }},
		{"sealed-key", func(b *testing.B) *tls.Config { return certs.ServerConfig(certSource(b, ca, true), nil) }},
	}
	client := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MinVersion: tls.VersionTLS13}
	for _, c := range configs {
		b.Run(c.name, func(b *testing.B) {
			addr := handshakeServer(b, c.make(b))
			b.ReportAllocs()
			for b.Loop() {
				fullHandshake(b, addr, client)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
		b.Run(c.name+"/Parallel", func(b *testing.B) {
			addr := handshakeServer(b, c.make(b))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					fullHandshake(b, addr, client)
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// BenchmarkCertGetCertificate times the hook alone: an SNI lookup and two
// atomic loads.
func BenchmarkCertGetCertificate(b *testing.B) {
	src := certSource(b, newCertCA(b), false)
	hello := &tls.ClientHelloInfo{ServerName: "localhost"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.GetCertificate(hello); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCertSign times one ECDSA P-256 signature of a handshake
// transcript hash with the parsed key the hook serves by default
// ("parsed"), and with Pair.SealedKey's signer, which opens the sealed
// PKCS #8 key into locked memory and parses it for every signature
// ("sealed").
func BenchmarkCertSign(b *testing.B) {
	ca := newCertCA(b)
	digest := sha256.Sum256([]byte("transcript"))
	for _, sealed := range []bool{false, true} {
		name := map[bool]string{false: "parsed", true: "sealed"}[sealed]
		b.Run(name, func(b *testing.B) {
			c, err := certSource(b, ca, sealed).GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
			if err != nil {
				b.Fatal(err)
			}
			signer := c.PrivateKey.(crypto.Signer)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCertReload times, per operation, one rotation of certificate
// files on disk, from the rename that puts the new file in place to the
// Source serving the new certificate (measured when its EventRotated
// arrives, which is published after the swap: an upper bound), with the
// file provider watching through fsnotify (its 5 s poll never comes into
// play). "bundle" renames one PEM file holding chain and key; "pair"
// renames the key file, then the certificate file, and times from the
// second rename. It reports the median and the 99th percentile.
func BenchmarkCertReload(b *testing.B) {
	for _, layout := range []string{"bundle", "pair"} {
		b.Run(layout, func(b *testing.B) {
			ctx := context.Background()
			ca := newCertCA(b)
			dir := b.TempDir()
			const ring = 16
			type gen struct{ certPEM, keyPEM []byte }
			gens := make([]gen, ring)
			serials := make([]string, ring)
			for i := range gens {
				gens[i].certPEM, gens[i].keyPEM, serials[i] = ca.leaf(b)
			}
			put := func(name string, data []byte) {
				tmp := filepath.Join(dir, "."+name+".tmp")
				if err := os.WriteFile(tmp, data, 0o600); err != nil {
					b.Fatal(err)
				}
				if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
					b.Fatal(err)
				}
			}
			write := func(g gen) {
				if layout == "bundle" {
					put("tls.pem", append(append([]byte(nil), g.certPEM...), g.keyPEM...))
					return
				}
				put("tls.key", g.keyPEM)
				put("tls.crt", g.certPEM)
			}
			write(gens[0])
			fp, err := file.New(&file.Options{Root: dir})
			if err != nil {
				b.Fatal(err)
			}
			store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{file.Scheme: fp}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { store.Close() })
			pair := certs.Pair{Name: "web", Cert: "web"}
			if layout == "bundle" {
				store.Add(certs.CertificateSpec(secrets.Spec{Name: "web", Ref: "file:tls.pem"}))
			} else {
				store.Add(certs.CertificateSpec(secrets.Spec{Name: "web", Ref: "file:tls.crt"}))
				store.Add(certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "file:tls.key"}))
				pair.Key = "web-key"
			}
			rotated := make(chan string, 64)
			src, err := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{pair},
				OnEvent: func(e certs.Event) {
					if e.Kind == certs.EventRotated {
						rotated <- e.Serial
					}
				}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { src.Close() })
			hello := &tls.ClientHelloInfo{ServerName: "localhost"}
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i = (i + 1) % ring
				if layout == "pair" {
					put("tls.key", gens[i].keyPEM)
				}
				start := time.Now()
				if layout == "pair" {
					put("tls.crt", gens[i].certPEM)
				} else {
					write(gens[i])
				}
				timeout := time.After(10 * time.Second)
			wait:
				for {
					select {
					case s := <-rotated:
						if s == serials[i] {
							break wait
						}
					case <-timeout:
						b.Fatalf("rotation %d not served within 10 s", i)
					}
				}
				lat = append(lat, time.Since(start))
				if c, err := src.GetCertificate(hello); err != nil || c.Leaf.SerialNumber.Text(16) != serials[i] {
					b.Fatalf("after the event, serving %v (%v)", c, err)
				}
			}
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "ms-p50")
			b.ReportMetric(pct(0.99), "ms-p99")
		})
	}
}
