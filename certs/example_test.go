package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// An HTTPS server whose certificate comes from a local development CA:
// the secrets start empty, so New obtains the first certificate, writes it
// back to the store and serves it; it is renewed at two thirds of its
// lifetime.
func Example() {
	ctx := context.Background()
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": memory.New(nil)}})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ca, err := certs.NewDevCA(ctx, store, &certs.DevCAOptions{LeafLifetime: time.Hour})
	if err != nil {
		panic(err)
	}
	store.Add(certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "memory://web-cert"}))
	store.Add(certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "memory://web-key"}))
	src, err := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{{
		Name: "web", Cert: "web-cert", Key: "web-key",
		Renewal: &certs.Renewal{Issuer: ca, DNSNames: []string{"localhost"}},
	}}})
	if err != nil {
		panic(err)
	}
	defer src.Close()

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over TLS")
	}))
	srv.TLS = certs.ServerConfig(src, nil)
	srv.StartTLS()
	defer srv.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.CertPool(), ServerName: "localhost"}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))

	md, _ := store.Metadata("web-cert")
	fmt.Println(md.Kind, md.Details["dns_names"], md.Details["issuer"])
	info := src.Certificates()[0]
	fmt.Println(info.Name, info.NotAfter.Sub(info.NotBefore), info.InMemory)
	// Output:
	// 200 OK hello over TLS
	// certificate localhost CN=strongroom development CA,O=strongroom development
	// web 1h0m0s false
}

// CertificateSpec lets the store refuse certificates that do not parse,
// know when each expires, and list its public facts in the inventory.
func ExampleCertificateSpec() {
	ctx := context.Background()
	mem := memory.New(nil)
	mem.Set("api-cert", fixedCertificate(), nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	store.Add(certs.CertificateSpec(secrets.Spec{Name: "api-cert", Ref: "memory://api-cert", Owner: "payments"}))
	store.Ready(ctx)
	md, _ := store.Metadata("api-cert")
	for _, k := range []string{"subject", "issuer", "serial", "dns_names", "not_before", "not_after", "chain_length", "algorithm"} {
		fmt.Printf("%s: %s\n", k, md.Details[k])
	}
	fmt.Println("expires:", md.ExpiresAt.UTC().Format(time.RFC3339))

	mem.Set("api-cert", []byte("-----BEGIN CERTIFICATE-----\nMIIB"), nil)
	err = store.Refresh(ctx, "api-cert")
	fmt.Println(err)
	// Output:
	// subject: CN=api.example.com
	// issuer: CN=api.example.com
	// serial: 2a
	// dns_names: api.example.com,*.api.example.com
	// not_before: 2026-01-01T00:00:00Z
	// not_after: 2036-01-01T00:00:00Z
	// chain_length: 1
	// algorithm: ECDSA P-256
	// expires: 2036-01-01T00:00:00Z
	// secrets: api-cert: validate: invalid: certs: parse: malformed: PEM block 1 (byte offset 0) is malformed or truncated
}

// fixedCertificate is a self-signed certificate with fixed facts.
func fixedCertificate() []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42), Subject: pkix.Name{CommonName: "api.example.com"},
		DNSNames:  []string{"api.example.com", "*.api.example.com"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A server that verifies client certificates against a CA bundle held as a
// secret, and a client that verifies the server against another: both
// bundles rotate without a restart.
func ExampleServerConfig_mutualTLS() {
	ctx := context.Background()
	mem := memory.New(nil)
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ca, err := certs.NewDevCA(ctx, store, nil)
	if err != nil {
		panic(err)
	}
	mem.Set("ca-bundle", ca.PEM(), nil)
	store.Add(certs.BundleSpec(secrets.Spec{Name: "ca-bundle", Ref: "memory://ca-bundle"}))
	trust, err := certs.NewTrustBundle(ctx, store, "ca-bundle", nil)
	if err != nil {
		panic(err)
	}
	defer trust.Close()
	for _, name := range []string{"server", "client"} {
		store.Add(certs.CertificateSpec(secrets.Spec{Name: name, Ref: "memory://" + name}))
	}
	renew := &certs.Renewal{Issuer: ca, DNSNames: []string{"localhost"}}
	server, err := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{{Cert: "server", Renewal: renew}}})
	if err != nil {
		panic(err)
	}
	defer server.Close()
	client, err := certs.New(ctx, store, &certs.Options{Certificates: []certs.Pair{{Cert: "client", Renewal: renew}}})
	if err != nil {
		panic(err)
	}
	defer client.Close()

	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.ServerConfig(server, &certs.ServerConfigOptions{ClientCAs: trust}))
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.(*tls.Conn).Handshake()
			io.WriteString(c, "peer verified\n")
			c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(),
		certs.ClientConfig(client, &certs.ClientConfigOptions{RootCAs: trust, ServerName: "localhost"}))
	if err != nil {
		panic(err)
	}
	msg, _ := io.ReadAll(conn)
	conn.Close()
	fmt.Print(string(msg))
	// Output:
	// peer verified
}
