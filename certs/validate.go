package certs

import (
	"crypto"
	"crypto/x509"
	"net"
	"time"
)

// Validation is what a certificate must satisfy, beyond the checks always
// made (it parses, the key matches, the leaf is inside its validity
// window), before a [Source] serves it. A nil *Validation means only those.
type Validation struct {
	// Roots, when set, are CAs the chain must verify to, with the
	// value's other certificates as intermediates. Nil: none.
	Roots *x509.CertPool

	// Trust, when set, is a rotating set of CAs the chain must verify to
	// (its certificates at the time of the check). With Roots also set,
	// verifying to either is enough. Nil: none.
	Trust *TrustBundle

	// KeyUsages are the extended key usages the chain must allow when it
	// is verified (x509.ExtKeyUsageServerAuth for a server certificate).
	// Zero: any.
	KeyUsages []x509.ExtKeyUsage

	// DNSNames must each be matched by a DNS name among the leaf's subject
	// alternative names (a wildcard SAN matches as in
	// x509.Certificate.VerifyHostname). Zero: none required.
	DNSNames []string

	// IPAddresses must each be among the leaf's IP address SANs. Zero:
	// none required.
	IPAddresses []net.IP
}

// candidate is a certificate and key read from the store, not yet served.
type candidate struct {
	chain []*x509.Certificate
	key   crypto.Signer
	cert  version // the secret and version the chain came from
	keyV  version // the secret and version the key came from (the same for a bundle)
}

// version names a secret's version.
type version struct{ secret, version string }

// check validates c at now against v. It returns a refusal naming the
// secret at fault; a mismatch is charged to blame when it is the key's
// secret (the one that changed last), else to the certificate's.
func (c *candidate) check(now time.Time, v *Validation, blame version) *Error {
	leaf := c.chain[0]
	refuse := func(at version, kind error, format string, args ...any) *Error {
		return &Error{Op: "validate", Secret: at.secret, Version: at.version, Kind: kind, Err: reason(format, args...)}
	}
	if !matches(leaf, c.key) {
		serial := leaf.SerialNumber.Text(16)
		switch {
		case c.cert == c.keyV:
			return refuse(c.cert, ErrMismatch, "the private key does not belong to the leaf certificate (serial %s)", serial)
		case blame == c.keyV:
			return refuse(c.keyV, ErrMismatch, "the private key does not match the certificate in secret %s version %s (leaf serial %s)",
				c.cert.secret, c.cert.version, serial)
		}
		return refuse(c.cert, ErrMismatch, "the certificate (leaf serial %s) does not match the private key in secret %s version %s",
			serial, c.keyV.secret, c.keyV.version)
	}
	if now.Before(leaf.NotBefore) {
		return refuse(c.cert, ErrNotYetValid, "leaf (serial %s) is valid from %s, now is %s",
			leaf.SerialNumber.Text(16), stamp(leaf.NotBefore), stamp(now))
	}
	if !now.Before(leaf.NotAfter) {
		return refuse(c.cert, ErrExpired, "leaf (serial %s) expired at %s",
			leaf.SerialNumber.Text(16), stamp(leaf.NotAfter))
	}
	if v == nil {
		return nil
	}
	if v.Roots != nil || v.Trust != nil {
		if err := verifyChain(c.chain, now, v); err != nil {
			return refuse(c.cert, ErrUntrusted, "leaf (serial %s, issuer %q): %v",
				leaf.SerialNumber.Text(16), leaf.Issuer.String(), err)
		}
	}
	for _, name := range v.DNSNames {
		if !hasDNSName(leaf, name) {
			return refuse(c.cert, ErrMissingName, "leaf (serial %s) has no SAN for DNS name %q", leaf.SerialNumber.Text(16), name)
		}
	}
	for _, ip := range v.IPAddresses {
		if !hasIP(leaf, ip) {
			return refuse(c.cert, ErrMissingName, "leaf (serial %s) has no SAN for IP address %s", leaf.SerialNumber.Text(16), ip)
		}
	}
	return nil
}

// verifyChain verifies chain to v's roots or trust bundle.
func verifyChain(chain []*x509.Certificate, now time.Time, v *Validation) error {
	opts := x509.VerifyOptions{CurrentTime: now, KeyUsages: v.KeyUsages, Intermediates: x509.NewCertPool()}
	if len(opts.KeyUsages) == 0 {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	var err error
	if v.Roots != nil {
		opts.Roots = v.Roots
		if _, err = chain[0].Verify(opts); err == nil {
			return nil
		}
	}
	if v.Trust != nil {
		st := v.Trust.state.Load()
		if st == nil {
			return errNoTrust()
		}
		opts.Roots = st.pool
		_, err = chain[0].Verify(opts)
	}
	return err
}

func errNoTrust() error {
	return reason("the trust bundle trusts no CA (not loaded yet, or withdrawn)")
}

func hasDNSName(leaf *x509.Certificate, name string) bool {
	// VerifyHostname ignores case and lets a wildcard SAN cover a name
	// one label deep; an IP address belongs in IPAddresses.
	return net.ParseIP(name) == nil && leaf.VerifyHostname(name) == nil
}

func hasIP(leaf *x509.Certificate, ip net.IP) bool {
	for _, san := range leaf.IPAddresses {
		if san.Equal(ip) {
			return true
		}
	}
	return false
}

// stamp formats t for messages.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
