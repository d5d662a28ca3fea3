package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/strongroom/strongroom/secrets"
)

// DevCAOptions configure a [DevCA]. A nil *DevCAOptions means the defaults.
type DevCAOptions struct {
	// KeySecret is the name under which the root key is created in the
	// store. Zero: "certs/dev-ca-key".
	KeySecret string

	// CommonName is the root's subject. Zero: "strongroom development CA".
	CommonName string

	// Lifetime is the root's. Zero: 30 days.
	Lifetime time.Duration

	// LeafLifetime is that of every certificate issued (capped at the
	// root's NotAfter). Zero: 1 hour.
	LeafLifetime time.Duration

	// Backdate sets a leaf's NotBefore this long before it is issued, for
	// peers whose clocks run behind. Zero: none.
	Backdate time.Duration

	// Clock is the source of time for validity periods. Nil: the wall
	// clock.
	Clock secrets.Clock
}

// DevCA is a local certificate authority for development and tests: it
// issues short-lived leaf certificates (an [Issuer]) under a root whose
// ECDSA P-256 key is generated straight into guarded memory and kept
// sealed in the store, as a secret of kind KindKey that lives only in this
// process (the inventory lists it). Programs that trust it add
// [DevCA.Certificate] to their roots. Not for production: the root dies
// with the process, and nothing outside it trusts it.
//
// Signing opens the sealed key, parses it into a crypto/ecdsa key on the
// Go heap for the one signature, and drops it; that parsed copy is not
// wiped (crypto/ecdsa offers no way to), and lives until the garbage
// collector reuses its memory.
//
// A DevCA is safe for concurrent use. It starts no goroutine and needs no
// Close; destroy its key with Store.Forget(KeySecret) when done, or let
// the store's Close wipe it.
type DevCA struct {
	store    *secrets.Store
	keyName  string
	root     *x509.Certificate
	leafLife time.Duration
	backdate time.Duration
	clock    secrets.Clock
}

// NewDevCA creates the root key in store (failing with secrets.ErrExists
// when KeySecret is taken) and self-signs the root certificate.
func NewDevCA(ctx context.Context, store *secrets.Store, opts *DevCAOptions) (*DevCA, error) {
	var o DevCAOptions
	if opts != nil {
		o = *opts
	}
	if o.KeySecret == "" {
		o.KeySecret = "certs/dev-ca-key"
	}
	if o.CommonName == "" {
		o.CommonName = "strongroom development CA"
	}
	if o.Lifetime == 0 {
		o.Lifetime = 30 * 24 * time.Hour
	}
	if o.LeafLifetime == 0 {
		o.LeafLifetime = time.Hour
	}
	if o.Clock == nil {
		o.Clock = secrets.WallClock{}
	}
	if store == nil || o.Lifetime < 0 || o.LeafLifetime < 0 || o.Backdate < 0 {
		return nil, &Error{Op: "new", Certificate: o.CommonName, Kind: ErrConfig, Err: reason("a store and non-negative lifetimes are required")}
	}
	ca := &DevCA{store: store, keyName: o.KeySecret, leafLife: o.LeafLifetime, backdate: o.Backdate, clock: o.Clock}
	_, err := store.Create(ctx, secrets.Spec{
		Name: o.KeySecret, Kind: secrets.KindKey, Classification: secrets.Restricted,
		Labels: map[string]string{"certs": "development CA root key"},
		Describe: func([]byte) map[string]string {
			return map[string]string{"algorithm": "ECDSA P-256", "use": "development CA root key"}
		},
	}, p256Scalar{})
	if err != nil {
		return nil, &Error{Op: "new", Certificate: o.CommonName, Secret: o.KeySecret, Kind: ErrUnavailable, Err: err}
	}
	now := o.Clock.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: []string{"strongroom development"}},
		NotBefore:             now.Add(-o.Backdate),
		NotAfter:              now.Add(o.Lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := ca.sign(ctx, func(key *ecdsa.PrivateKey) ([]byte, error) {
		pub, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return nil, err
		}
		id := sha256.Sum256(pub)
		tmpl.SubjectKeyId = id[:20]
		return x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	})
	if err != nil {
		store.Forget(o.KeySecret)
		return nil, err
	}
	if ca.root, err = x509.ParseCertificate(der); err != nil {
		store.Forget(o.KeySecret)
		return nil, &Error{Op: "new", Certificate: o.CommonName, Kind: ErrIssue, Err: err}
	}
	return ca, nil
}

// sign opens the root key and calls fn with it parsed.
func (ca *DevCA) sign(ctx context.Context, fn func(*ecdsa.PrivateKey) ([]byte, error)) ([]byte, error) {
	var der []byte
	_, err := readSecret(ctx, ca.store, ca.keyName, func(raw []byte) error {
		key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), raw)
		if err != nil {
			return reason("the sealed root key does not parse")
		}
		der, err = fn(key)
		if err != nil {
			return reason("signing: %v", err)
		}
		return nil
	})
	if err != nil {
		e := err.(*Error)
		e.Op = "issue (dev ca)"
		return nil, e
	}
	return der, nil
}

// Issue signs a leaf certificate for the public key and names of csr,
// valid from now (less Backdate) for LeafLifetime, for server and client
// authentication. It checks the request's signature and needs at least one
// name.
func (ca *DevCA) Issue(ctx context.Context, csr *x509.CertificateRequest) ([][]byte, error) {
	bad := func(format string, args ...any) ([][]byte, error) {
		return nil, &Error{Op: "issue (dev ca)", Kind: ErrIssue, Err: reason(format, args...)}
	}
	if err := csr.CheckSignature(); err != nil {
		return bad("the request's signature does not verify: %v", err)
	}
	if len(csr.DNSNames) == 0 && len(csr.IPAddresses) == 0 {
		return bad("the request names no DNS name or IP address")
	}
	now := ca.clock.Now()
	notAfter := now.Add(ca.leafLife)
	if notAfter.After(ca.root.NotAfter) {
		notAfter = ca.root.NotAfter
	}
	cn := csr.Subject.CommonName
	if cn == "" && len(csr.DNSNames) > 0 {
		cn = csr.DNSNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:   randomSerial(),
		Subject:        pkix.Name{CommonName: cn},
		DNSNames:       csr.DNSNames,
		IPAddresses:    append([]net.IP(nil), csr.IPAddresses...),
		NotBefore:      now.Add(-ca.backdate),
		NotAfter:       notAfter,
		KeyUsage:       x509.KeyUsageDigitalSignature,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		AuthorityKeyId: ca.root.SubjectKeyId,
	}
	der, err := ca.sign(ctx, func(key *ecdsa.PrivateKey) ([]byte, error) {
		return x509.CreateCertificate(rand.Reader, tmpl, ca.root, csr.PublicKey, key)
	})
	if err != nil {
		return nil, err
	}
	return [][]byte{der}, nil
}

// Certificate returns the root certificate.
func (ca *DevCA) Certificate() *x509.Certificate { return ca.root }

// CertPool returns a new pool holding the root, for RootCAs or ClientCAs.
func (ca *DevCA) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.root)
	return p
}

// PEM returns the root certificate in PEM, for a trust bundle secret.
func (ca *DevCA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw})
}

// String describes the CA without its key.
func (ca *DevCA) String() string {
	return fmt.Sprintf("certs.DevCA{%s, key sealed in secret %s}", ca.root.Subject.CommonName, ca.keyName)
}

// Format makes every fmt verb print String.
func (ca *DevCA) Format(f fmt.State, _ rune) { io.WriteString(f, ca.String()) }

// randomSerial returns a random positive 127-bit serial number.
func randomSerial() *big.Int {
	var b [16]byte
	rand.Read(b[:])
	b[0] &= 0x7f
	b[0] |= 0x01 // never zero, never a leading zero byte
	return new(big.Int).SetBytes(b[:])
}

// p256Scalar generates a P-256 private key as its 32-byte big-endian
// scalar, drawn uniformly from [1, n-1] by rejection, straight into the
// store's locked scratch memory.
type p256Scalar struct{}

// p256Order returns the order n of the P-256 group, big-endian.
func p256Order() [32]byte {
	return [32]byte{
		0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
	}
}

func (p256Scalar) Size() int { return 32 }

func (p256Scalar) Generate(dst []byte, r io.Reader) error {
	for range 64 { // a draw is refused with probability about 2^-32
		if _, err := io.ReadFull(r, dst); err != nil {
			clear(dst)
			return fmt.Errorf("reading randomness: %w", err)
		}
		if belowOrder(dst) {
			return nil
		}
	}
	clear(dst)
	return fmt.Errorf("no P-256 scalar in 64 draws")
}

// belowOrder reports whether 0 < k < n for the 32-byte big-endian k.
func belowOrder(k []byte) bool {
	n := p256Order()
	nonzero := false
	for _, c := range k {
		nonzero = nonzero || c != 0
	}
	if !nonzero || len(k) != len(n) {
		return false
	}
	for i := range k {
		if k[i] != n[i] {
			return k[i] < n[i]
		}
	}
	return false // k == n
}
