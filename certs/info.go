package certs

import (
	"errors"
	"net"
	"strings"
	"time"
)

// Info describes one certificate of a [Source]: public facts only.
type Info struct {
	Name   string // the Pair's name
	Served bool   // a certificate is in service
	// Why, when none is in service.
	Unavailable string

	// The certificate in service (zero when none is).
	Subject     string    // the leaf's subject
	Issuer      string    // the leaf's issuer
	Serial      string    // hexadecimal
	DNSNames    []string  // the leaf's DNS SANs
	IPAddresses []net.IP  // the leaf's IP SANs
	NotBefore   time.Time // the leaf's validity window: from
	NotAfter    time.Time // to
	Fingerprint string    // SHA-256 of the leaf's DER, hexadecimal
	ChainLength int       // certificates served, leaf included
	ServerNames []string  // the names it is served for
	Since       time.Time // in service since

	CertSecret, CertVersion string // where the chain came from
	KeySecret, KeyVersion   string // where the key came from
	// InMemory: renewed, but not written back to the store.
	InMemory bool
	// SealedKey: the key stays sealed between signatures.
	SealedKey bool

	NextRenewal     time.Time // zero without a Renewal
	RenewalFailures int       // consecutive
	LastError       string    // the last refusal or failure, also after a later success
	LastErrorAt     time.Time // when it happened
}

// Certificates describes the Source's certificates, in the order of
// Options.Certificates.
func (s *Source) Certificates() []Info {
	out := make([]Info, 0, len(s.pairs))
	for _, ps := range s.pairs {
		out = append(out, ps.info())
	}
	return out
}

func (ps *pairState) info() Info {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	in := Info{Name: ps.p.Name, SealedKey: ps.p.SealedKey, NextRenewal: ps.renew.due,
		RenewalFailures: ps.renew.failures, LastErrorAt: ps.lastErrAt}
	if ps.p.Renewal == nil {
		in.NextRenewal = time.Time{}
	}
	if ps.lastErr != nil {
		in.LastError = ps.lastErr.Error()
	}
	sv := ps.cur.Load()
	if sv == nil {
		in.Unavailable = ps.unavailable().Error()
		return in
	}
	leaf := sv.chain[0]
	in.Served = true
	in.Subject, in.Issuer, in.Serial = leaf.Subject.String(), leaf.Issuer.String(), leaf.SerialNumber.Text(16)
	in.DNSNames = append([]string(nil), leaf.DNSNames...)
	in.IPAddresses = append([]net.IP(nil), leaf.IPAddresses...)
	in.NotBefore, in.NotAfter, in.Fingerprint, in.ChainLength = leaf.NotBefore, leaf.NotAfter, sv.fp, len(sv.chain)
	in.ServerNames = append([]string(nil), ps.names...)
	in.Since, in.InMemory = sv.since, sv.inMemory
	in.CertSecret, in.CertVersion, in.KeySecret, in.KeyVersion = sv.cv.secret, sv.cv.version, sv.kv.secret, sv.kv.version
	return in
}

// Health returns nil when every certificate is in service, and otherwise
// an error naming each one that is not and why (expired, withdrawn, never
// loaded), joined; errors.Is matches their sentinels. A certificate whose
// renewals fail but which is still served is healthy until
// Renewal.MaxStale or its expiry.
func (s *Source) Health() error {
	if s.life.isClosed() {
		return errClosed()
	}
	var errs []error
	for _, ps := range s.pairs {
		if ps.cur.Load() == nil {
			errs = append(errs, ps.unavailable())
		}
	}
	return errors.Join(errs...)
}

// String describes the certificate in one line.
func (in Info) String() string {
	if !in.Served {
		return in.Name + ": not served: " + in.Unavailable
	}
	return in.Name + ": " + in.Subject + " serial " + in.Serial + " names " + strings.Join(in.ServerNames, ",") +
		" not_after " + stamp(in.NotAfter) + " sha256 " + in.Fingerprint
}
