package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// fuzzChain returns a root CA and a PEM value holding leaf, intermediate
// and leaf key, for seeds.
func fuzzChain(f *testing.F) (*x509.Certificate, []byte) {
	f.Helper()
	now := time.Now()
	mk := func(tmpl, parent *x509.Certificate, pub, signer any) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			f.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	interKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := func(n int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	}
	root := mk(ca(1, "root"), ca(1, "root"), rootKey.Public(), rootKey)
	inter := mk(ca(2, "intermediate"), root, interKey.Public(), rootKey)
	leaf := mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "leaf"}, DNSNames: []string{"localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}, inter, leafKey.Public(), interKey)
	kder, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	var b bytes.Buffer
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: inter.Raw})
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	return root, b.Bytes()
}

// noQuote fails when err's text quotes a long run of data: parse errors
// give block numbers and offsets, never the value.
func noQuote(t *testing.T, err error, data []byte) {
	if err == nil {
		return
	}
	msg := err.Error()
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(line) >= 24 && strings.Contains(msg, string(line)) {
			t.Fatalf("error quotes the value: %q", msg)
		}
	}
}

// FuzzParsePEM parses arbitrary bytes in every mode: it must never panic,
// never quote the input in an error, and agree with itself (what parses
// as a bundle parses as certificates alone, and its key alone).
func FuzzParsePEM(f *testing.F) {
	_, bundle := fuzzChain(f)
	f.Add(bundle)
	f.Add(bundle[:len(bundle)/2])
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("text\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var got [5]*parsed
		for w := certsOnly; w <= trustOnly; w++ {
			p, err := parsePEM(data, w)
			noQuote(t, err, data)
			got[w] = p
		}
		if both := got[certsAndKey]; both != nil {
			if got[certsOnly] == nil || got[keyOnly] == nil || len(got[certsOnly].certs) != len(both.certs) {
				t.Fatalf("a bundle that parses whole does not parse in parts")
			}
			_ = matches(both.certs[0], both.key)
		}
		if got[trustOnly] != nil && got[certsOnly] == nil {
			t.Fatal("a trust bundle that parses is not certificates")
		}
		if d := Describe(data); (d == nil) != (got[certsOnly] == nil) {
			t.Fatalf("Describe and parse disagree on %q", data)
		}
	})
}

// FuzzChain parses arbitrary bytes as a bundle and validates the pair
// against a fixed root, with names required: it must never panic, and a
// pair it accepts must verify to the root and hold the name.
func FuzzChain(f *testing.F) {
	root, bundle := fuzzChain(f)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	f.Add(bundle)
	blocks := bytes.SplitAfter(bundle, []byte("-----END CERTIFICATE-----\n"))
	f.Add(append(append([]byte(nil), blocks[1]...), blocks[2]...)) // intermediate and key only
	f.Add(append(append([]byte(nil), blocks[0]...), blocks[2]...)) // no intermediate
	v := &Validation{Roots: roots, DNSNames: []string{"localhost"}}
	now := time.Now()
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parsePEM(data, certsAndKey)
		if err != nil {
			return
		}
		c := &candidate{chain: p.certs, key: p.key, cert: version{"b", "1"}, keyV: version{"b", "1"}}
		rerr := c.check(now, v, c.cert)
		if rerr != nil {
			noQuote(t, rerr, data)
			if !refusal(rerr.Kind) {
				t.Fatalf("refusal of kind %v", rerr.Kind)
			}
			return
		}
		if err := verifyChain(p.certs, now, v); err != nil || p.certs[0].VerifyHostname("localhost") != nil {
			t.Fatalf("accepted a pair that does not verify: %v", err)
		}
	})
}
