package testservers

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// PebbleVersion is the Pebble release .ci/build-pebble builds.
const PebbleVersion = "v2.10.1"

// Pebble is a Pebble ACME test CA on loopback, for one test.
type Pebble struct {
	// DirectoryURL is the ACME directory ("https://127.0.0.1:PORT/dir").
	DirectoryURL string
	// HTTPClient talks to Pebble: it trusts the certificate Pebble's own
	// HTTPS listeners present (made for this run).
	HTTPClient *http.Client
	// HTTPPort is the port Pebble's validation authority connects to, on
	// the identifier's address, to fetch http-01 answers: a test serving
	// them listens on 127.0.0.1 at this port and orders certificates for
	// "localhost" or 127.0.0.1.
	HTTPPort int

	management string
	*process
}

// PebbleOptions configure StartPebble. Nil means the defaults.
type PebbleOptions struct {
	// AlwaysValid makes Pebble consider every challenge answered
	// (PEBBLE_VA_ALWAYS_VALID), for tests that solve none. False: it
	// validates, fetching http-01 answers from HTTPPort.
	AlwaysValid bool
	// Validity is the lifetime of the certificates Pebble issues, in
	// whole seconds. Zero: Pebble's default (about 90 days).
	Validity time.Duration
}

// StartPebble starts Pebble (built by .ci/build-pebble, found by Binary)
// with a configuration of its own: both listeners and the validation port
// on free loopback ports, a TLS certificate made for this run, no random
// nonce rejection and no validation delays. It waits until the directory
// answers, and stops Pebble when the test ends.
func StartPebble(t testing.TB, opts *PebbleOptions) *Pebble {
	t.Helper()
	bin := Binary(t, "pebble", ".ci/build-pebble")
	if opts == nil {
		opts = &PebbleOptions{}
	}
	dir := t.TempDir()
	pool := pebbleTLS(t, dir)
	listen, mgmt := FreePort(t), FreePort(t)
	p := &Pebble{
		DirectoryURL: "https://127.0.0.1:" + strconv.Itoa(listen) + "/dir",
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second},
		HTTPPort:     FreePort(t),
		management:   "https://127.0.0.1:" + strconv.Itoa(mgmt),
	}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":           "127.0.0.1:" + strconv.Itoa(listen),
		"managementListenAddress": "127.0.0.1:" + strconv.Itoa(mgmt),
		"certificate":             filepath.Join(dir, "cert.pem"),
		"privateKey":              filepath.Join(dir, "key.pem"),
		"httpPort":                p.HTTPPort,
		"tlsPort":                 FreePort(t),
		"keyAlgorithm":            "ecdsa",
		"retryAfter":              map[string]int{"authz": 1, "order": 1},
	}}
	if opts.Validity > 0 {
		cfg["pebble"].(map[string]any)["profiles"] = map[string]any{
			"default": map[string]any{"description": "test", "validityPeriod": int(opts.Validity / time.Second)},
		}
	}
	b, _ := json.Marshal(cfg)
	conf := filepath.Join(dir, "pebble.json")
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", conf)
	cmd.Env = append(os.Environ(), "PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0")
	if opts.AlwaysValid {
		cmd.Env = append(cmd.Env, "PEBBLE_VA_ALWAYS_VALID=1")
	}
	cmd.Dir = dir
	t.Cleanup(p.HTTPClient.CloseIdleConnections) // after the process stops
	p.process = start(t, "pebble", cmd, 5*time.Second)
	p.waitReady(t, 30*time.Second, func() (bool, error) {
		resp, err := p.HTTPClient.Get(p.DirectoryURL)
		if err != nil {
			return false, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return p
}

// Roots returns the pool of Pebble's issuing root, which is new at every
// start: certificates it issues verify to it.
func (p *Pebble) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	resp, err := p.HTTPClient.Get(p.management + "/roots/0")
	if err != nil {
		t.Fatalf("fetching pebble's root: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fetching pebble's root: %d %v", resp.StatusCode, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(body) {
		t.Fatalf("pebble's root does not parse:\n%s", body)
	}
	return pool
}

// pebbleTLS writes the certificate and key of Pebble's HTTPS listeners
// (for 127.0.0.1 and localhost, from a CA made here) into dir and returns
// a pool that trusts them.
func pebbleTLS(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pebble listener CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, data := range map[string][]byte{
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}
