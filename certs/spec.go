package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/strongroom/strongroom/secrets"
)

// CertificateSpec returns spec made ready for a certificate chain (or a
// bundle of a chain and its private key) in PEM: Kind KindCertificate and
// Classification Confidential unless set (a certificate is public, but the
// value may be a bundle that holds its key), and the hooks that let the
// store vet it, know its expiry and show it in the inventory:
//
//   - Validate refuses a value that does not parse (no certificate, a
//     broken PEM block, a certificate or key that does not decode), after
//     spec's own Validate, if any, has passed it;
//   - Expiry gives the leaf's NotAfter, so that the store refreshes ahead
//     of it, reports it and refuses a value already expired;
//   - Describe gives the leaf's subject, SANs, issuer, serial, validity,
//     SHA-256 fingerprint and the chain's length (see [Describe]).
//
// Validity windows, key match, chains and names are checked by the
// [Source] before every swap, where the pair and the clock are known.
// Declare the certificate secrets a Source serves with it, so that the
// store's inventory shows what each one holds.
func CertificateSpec(spec secrets.Spec) secrets.Spec {
	spec = hooked(spec, secrets.KindCertificate, secrets.Confidential, certsMaybeKey)
	spec.Expiry = func(data []byte) (time.Time, error) {
		p, err := parsePEM(data, certsOnly)
		if err != nil {
			return time.Time{}, specError(err)
		}
		return p.certs[0].NotAfter, nil
	}
	spec.Describe = Describe
	return spec
}

// KeySpec returns spec made ready for a private key in PEM (PKCS #8,
// PKCS #1 or SEC 1): Kind KindKey and Classification Restricted unless set;
// Validate refuses a value that is not exactly one private key that
// parses; Describe gives the key's algorithm and the SHA-256 fingerprint of
// its public key (the same as a matching certificate's
// "public_key_sha256"), never anything of the private key.
func KeySpec(spec secrets.Spec) secrets.Spec {
	spec = hooked(spec, secrets.KindKey, secrets.Restricted, keyOnly)
	spec.Describe = func(data []byte) map[string]string {
		p, err := parsePEM(data, keyOnly)
		if err != nil {
			return nil
		}
		d := map[string]string{"algorithm": algorithm(p.key.Public())}
		if spki, err := x509.MarshalPKIXPublicKey(p.key.Public()); err == nil {
			d["public_key_sha256"] = fingerprint(spki)
		}
		return d
	}
	return spec
}

// BundleSpec returns spec made ready for a trust bundle: CA certificates
// in PEM, as a [TrustBundle] reads them. Kind KindCertificate and
// Classification Public unless set; Validate refuses a value that does not
// parse or holds a private key; Describe gives the number of certificates,
// their subjects and the earliest and latest NotAfter. It sets no Expiry:
// a bundle often keeps an expired CA alongside the current ones.
func BundleSpec(spec secrets.Spec) secrets.Spec {
	spec = hooked(spec, secrets.KindCertificate, secrets.Public, trustOnly)
	spec.Describe = func(data []byte) map[string]string {
		p, err := parsePEM(data, trustOnly)
		if err != nil {
			return nil
		}
		cs := p.certs
		first, last := cs[0].NotAfter, cs[0].NotAfter
		subjects := make([]string, len(cs))
		for i, c := range cs {
			subjects[i] = c.Subject.String()
			if c.NotAfter.Before(first) {
				first = c.NotAfter
			}
			if c.NotAfter.After(last) {
				last = c.NotAfter
			}
		}
		return map[string]string{
			"certificates":       strconv.Itoa(len(cs)),
			"subjects":           strings.Join(subjects, "; "),
			"earliest_not_after": first.UTC().Format(time.RFC3339),
			"latest_not_after":   last.UTC().Format(time.RFC3339),
		}
	}
	return spec
}

// hooked gives spec a kind and a classification unless it has them, and a
// Validate that runs spec's own first, then refuses a value that does not
// parse as w says.
func hooked(spec secrets.Spec, kind secrets.Kind, class secrets.Classification, w want) secrets.Spec {
	if spec.Kind == secrets.KindGeneric {
		spec.Kind = kind
	}
	if spec.Classification == "" {
		spec.Classification = class
	}
	own := spec.Validate
	spec.Validate = func(data []byte) error {
		if own != nil {
			if err := own(data); err != nil {
				return err
			}
		}
		_, err := parsePEM(data, w)
		return specError(err)
	}
	return spec
}

// specError turns a parse failure into an *Error for a store validator;
// the store prefixes the secret's name.
func specError(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: "parse", Kind: ErrMalformed, Err: err}
}

// Describe returns the public facts of the leaf (the first certificate) of
// a PEM value, for the store's inventory: "subject", "issuer", "serial"
// (hexadecimal), "dns_names" and "ip_addresses" (comma-separated, when
// present), "not_before" and "not_after" (RFC 3339, UTC), "sha256" (the
// fingerprint of the leaf's DER, hexadecimal), "public_key_sha256" (of its
// public key), "algorithm" and "chain_length" (certificates in the value).
// A private key in the value is skipped, never described. It returns nil
// for a value that does not parse.
func Describe(data []byte) map[string]string {
	p, err := parsePEM(data, certsOnly)
	if err != nil {
		return nil
	}
	return details(p.certs)
}

func details(chain []*x509.Certificate) map[string]string {
	leaf := chain[0]
	d := map[string]string{
		"subject":           leaf.Subject.String(),
		"issuer":            leaf.Issuer.String(),
		"serial":            leaf.SerialNumber.Text(16),
		"not_before":        leaf.NotBefore.UTC().Format(time.RFC3339),
		"not_after":         leaf.NotAfter.UTC().Format(time.RFC3339),
		"sha256":            fingerprint(leaf.Raw),
		"public_key_sha256": fingerprint(leaf.RawSubjectPublicKeyInfo),
		"algorithm":         algorithm(leaf.PublicKey),
		"chain_length":      strconv.Itoa(len(chain)),
	}
	if len(leaf.DNSNames) > 0 {
		d["dns_names"] = strings.Join(leaf.DNSNames, ",")
	}
	if len(leaf.IPAddresses) > 0 {
		ips := make([]string, len(leaf.IPAddresses))
		for i, ip := range leaf.IPAddresses {
			ips[i] = ip.String()
		}
		d["ip_addresses"] = strings.Join(ips, ",")
	}
	return d
}

// fingerprint is the hexadecimal SHA-256 of der.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
