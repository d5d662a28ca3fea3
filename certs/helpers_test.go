package certs_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// TestMain fails the package's tests if any goroutine outlives them.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// wait bounds every wait for something asynchronous; it fails a test that
// hangs, and asserts nothing about speed.
const wait = 30 * time.Second

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return c
}

// testCA is a certificate authority made by the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serials struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serials.Lock()
	defer serials.Unlock()
	serials.n++
	return big.NewInt(1000 + serials.n)
}

func newCA(t testing.TB, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pemOf("CERTIFICATE", der)}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// leaf is a certificate and key made by a testCA.
type leaf struct {
	cert    *x509.Certificate
	certPEM []byte // the leaf only
	keyPEM  []byte // PKCS #8
	serial  string
}

func (l *leaf) bundle() []byte { return append(append([]byte(nil), l.certPEM...), l.keyPEM...) }

type leafOpts struct {
	notBefore, notAfter time.Time
	ips                 []net.IP
	client              bool
}

// issue makes a leaf for names, valid for a day around now unless o says.
func (ca *testCA) issue(t testing.TB, o *leafOpts, names ...string) *leaf {
	t.Helper()
	if o == nil {
		o = &leafOpts{}
	}
	now := time.Now()
	if o.notBefore.IsZero() {
		o.notBefore = now.Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = now.Add(24 * time.Hour)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eku := x509.ExtKeyUsageServerAuth
	if o.client {
		eku = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "leaf"},
		NotBefore: o.notBefore, NotAfter: o.notAfter, DNSNames: names, IPAddresses: o.ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &leaf{cert: cert, certPEM: pemOf("CERTIFICATE", der), keyPEM: pemOf("PRIVATE KEY", kder), serial: cert.SerialNumber.Text(16)}
}

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// fixture is a store over the memory provider (and files under dir), and
// the Source under test with its events.
type fixture struct {
	t      *testing.T
	clock  *memory.Clock // nil: the wall clock
	mem    *memory.Provider
	dir    string
	store  *secrets.Store
	events chan certs.Event
}

// newFixture opens a store with the memory and file providers, on clock
// (nil: the wall clock). It checks for leaked goroutines once everything
// the test opened is closed.
func newFixture(t *testing.T, clock *memory.Clock) *fixture {
	t.Helper()
	ignore := goleak.IgnoreCurrent()
	f := &fixture{t: t, clock: clock, dir: t.TempDir(), events: make(chan certs.Event, 1000)}
	var sc secrets.Clock
	if clock != nil {
		sc = clock
		f.mem = memory.New(&memory.Options{Clock: clock})
	} else {
		f.mem = memory.New(nil)
	}
	fp, err := file.New(&file.Options{Root: f.dir})
	if err != nil {
		t.Fatal(err)
	}
	f.store, err = secrets.Open(context.Background(), &secrets.Options{Clock: sc,
		Providers: map[string]providers.Provider{"memory": f.mem, file.Scheme: fp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.store.Close(); err != nil {
			t.Errorf("store Close: %v", err)
		}
		goleak.VerifyNone(t, ignore)
	})
	return f
}

// declare adds a memory secret holding value, with spec's hooks when wrap
// is set, and waits for it.
func (f *fixture) declare(name string, value []byte, wrap func(secrets.Spec) secrets.Spec) {
	f.t.Helper()
	f.mem.Set(name, value, nil)
	// An empty secret is declared on purpose here: a pair whose renewal
	// writes its first certificate.
	spec := secrets.Spec{Name: name, Ref: memory.Ref(name), AllowEmpty: len(value) == 0}
	if wrap != nil {
		spec = wrap(spec)
	}
	if err := f.store.Add(spec); err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.Ready(ctx(f.t)); err != nil {
		f.t.Fatal(err)
	}
}

// pair declares name+"-cert" and name+"-key" in the memory provider.
func (f *fixture) pair(name string, l *leaf) certs.Pair {
	f.t.Helper()
	f.declare(name+"-cert", l.certPEM, certs.CertificateSpec)
	f.declare(name+"-key", l.keyPEM, certs.KeySpec)
	return certs.Pair{Name: name, Cert: name + "-cert", Key: name + "-key"}
}

// source makes the Source under test; it is closed at the end of the test.
func (f *fixture) source(opts *certs.Options) *certs.Source {
	f.t.Helper()
	if f.clock != nil && opts.Clock == nil {
		opts.Clock = f.clock
	}
	if opts.OnEvent == nil {
		opts.OnEvent = func(e certs.Event) { f.events <- e }
	}
	src, err := certs.New(ctx(f.t), f.store, opts)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	f.t.Cleanup(func() { src.Close() })
	return src
}

// rotate sets a memory secret's new value.
func (f *fixture) rotate(name string, value []byte) { f.mem.Set(name, value, nil) }

// next waits for the next event of kind for certificate name, skipping
// others, and returns it.
func (f *fixture) next(kind certs.EventKind, name string) certs.Event {
	f.t.Helper()
	return nextEvent(f.t, f.events, kind, name)
}

func nextEvent(t testing.TB, ch <-chan certs.Event, kind certs.EventKind, name string) certs.Event {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case e := <-ch:
			if e.Kind == kind && (name == "" || e.Certificate == name) {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event for %s within %s", kind, name, wait)
		}
	}
}

// server is a TLS server on loopback that completes handshakes and echoes
// lines.
type server struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error // handshake errors seen by the server
}

func serve(t testing.TB, cfg *tls.Config) *server {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{addr: ln.Addr().String(), ln: ln}
	var conns sync.WaitGroup
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				conns.Wait()
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					s.mu.Lock()
					s.errs = append(s.errs, err)
					s.mu.Unlock()
					return
				}
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// dial handshakes with s as a client trusting roots for serverName, and
// returns the connection.
func dial(s *server, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: wait}
	c, err := tls.DialWithDialer(d, "tcp", s.addr, cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// handshake dials s, closes the connection and returns the serial of the
// leaf the server presented.
func handshake(t testing.TB, s *server, cfg *tls.Config) (string, error) {
	t.Helper()
	c, err := dial(s, cfg)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// The server reports a refused client certificate only after the
	// client's handshake returns: a round trip tells.
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		return "", err
	}
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16), nil
}

// clientConfig trusts ca for serverName.
func clientConfig(ca *testCA, serverName string) *tls.Config {
	return &tls.Config{RootCAs: ca.pool(), ServerName: serverName, MinVersion: tls.VersionTLS13}
}

// mustServe asserts that a handshake for serverName presents serial.
func mustServe(t testing.TB, s *server, cfg *tls.Config, serial string) {
	t.Helper()
	got, err := handshake(t, s, cfg)
	if err != nil {
		t.Fatalf("handshake (%s): %v", cfg.ServerName, err)
	}
	if got != serial {
		t.Fatalf("handshake (%s) got serial %s, want %s", cfg.ServerName, got, serial)
	}
}

// newClock is a virtual clock starting at start.
func newClock(start time.Time) *memory.Clock { return memory.NewClock(start) }

// rotatedTo waits until certificate name rotates to the leaf with serial,
// skipping other events (a rewrite in place may be seen half-written, and
// refused, on the way).
func (f *fixture) rotatedTo(name, serial string) {
	f.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case e := <-f.events:
			if e.Kind == certs.EventRotated && e.Certificate == name && e.Serial == serial {
				return
			}
		case <-timeout:
			f.t.Fatalf("%s did not rotate to serial %s within %s", name, serial, wait)
		}
	}
}

// nextOf waits for the next event of certificate name whose kind is one of
// kinds, skipping others.
func (f *fixture) nextOf(name string, kinds ...certs.EventKind) certs.Event {
	f.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case e := <-f.events:
			for _, k := range kinds {
				if e.Kind == k && e.Certificate == name {
					return e
				}
			}
		case <-timeout:
			f.t.Fatalf("no %v event for %s within %s", kinds, name, wait)
		}
	}
}

func ctxTimeout(t testing.TB, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// testCSR makes a certificate request for names with a fresh key.
func testCSR(t testing.TB, names ...string) *x509.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// logWatch is a slog handler that keeps every record's level and message,
// so that a test can wait for one (to know the code under test got there
// before it moves a virtual clock).
type logWatch struct {
	mu      sync.Mutex
	records []logRecord
	wake    chan struct{}
}

type logRecord struct {
	level slog.Level
	msg   string
}

func newLogWatch() *logWatch { return &logWatch{wake: make(chan struct{}, 1)} }

func (w *logWatch) logger() *slog.Logger { return slog.New(w) }

func (w *logWatch) Enabled(context.Context, slog.Level) bool { return true }

func (w *logWatch) Handle(_ context.Context, r slog.Record) error {
	w.mu.Lock()
	w.records = append(w.records, logRecord{r.Level, r.Message})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

func (w *logWatch) WithAttrs([]slog.Attr) slog.Handler { return w }

func (w *logWatch) WithGroup(string) slog.Handler { return w }

// take removes and reports the first record at level whose message
// contains text.
func (w *logWatch) take(level slog.Level, text string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, r := range w.records {
		if r.level == level && strings.Contains(r.msg, text) {
			w.records = append(w.records[:i], w.records[i+1:]...)
			return true
		}
	}
	return false
}

// saw reports whether a record at level whose message contains text is
// kept.
func (w *logWatch) saw(level slog.Level, text string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.records {
		if r.level == level && strings.Contains(r.msg, text) {
			return true
		}
	}
	return false
}

// await waits for a record at level whose message contains text, and
// removes it.
func (w *logWatch) await(t testing.TB, level slog.Level, text string) {
	t.Helper()
	timeout := time.After(wait)
	for !w.take(level, text) {
		select {
		case <-w.wake:
		case <-timeout:
			t.Fatalf("no %v log record with %q within %s", level, text, wait)
		}
	}
}

// counter returns the sum of an Int64 counter's data points.
func counter(t testing.TB, r *sdkmetric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
					n += p.Value
				}
			}
		}
	}
	return n
}
