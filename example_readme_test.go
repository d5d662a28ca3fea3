package strongroom_test

// The README's code blocks, each inside an Example that makes it run:
// TestDocCodeIsChecked finds every line of each block here, in order.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// database stands for a database client.
type database struct{}

func (database) Connect(pw []byte) error {
	fmt.Printf("connected with a %d-byte password\n", len(pw))
	return nil
}

// Declaring and reading secrets from files and the environment.
func Example_declaringSecrets() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "strongroom-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "db"), []byte("correct horse battery staple"), 0o600)
	os.WriteFile(filepath.Join(dir, "app.json"), []byte(`{"api": {"key": "k-123456789"}}`), 0o600)
	os.Setenv("SMTP_PASSWORD", "smtp-password")
	defer os.Unsetenv("SMTP_PASSWORD")
	checkPassword := func(pw []byte) error {
		if len(pw) < 16 {
			return secrets.InvalidValue("%d bytes, want 16 or more", len(pw))
		}
		return nil
	}
	var db database

	fp, err := file.New(&file.Options{Root: dir}) // "/run/secrets", say
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"file": fp, "env": env.New(nil)},
		Logger:    slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	store.Add(secrets.Spec{
		Name: "db-password", Ref: "file:db", Kind: secrets.KindPassword,
		Owner: "payments", Classification: secrets.Restricted,
		Refresh:  secrets.RefreshPolicy{Interval: time.Minute},
		MaxStale: 10 * time.Minute,
		Validate: checkPassword,
	})
	store.Add(secrets.Spec{Name: "api-key", Ref: "file:app.json#/api/key"})
	store.Add(secrets.Spec{Name: "smtp", Ref: "env://SMTP_PASSWORD"})

	err = store.Use(ctx, "db-password", func(pw []byte) error {
		return db.Connect(pw)
	})
	fmt.Println(err, store.Ready(ctx))
	inv := store.Inventory()
	for _, md := range inv {
		fmt.Printf("%s %s owner=%q\n", md.Name, md.Ref, md.Owner)
	}
	// Output:
	// connected with a 28-byte password
	// <nil> <nil>
	// api-key file:app.json#/api/key owner=""
	// db-password file:db owner="payments"
	// smtp env://SMTP_PASSWORD owner=""
}

// connPool stands for a connection pool.
type connPool struct{}

func (*connPool) Reconnect() { fmt.Println("reconnecting") }

// Hooks: a subscriber is told of each rotation.
func Example_hooks() {
	ctx := context.Background()
	clock := memory.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	fake := memory.New(&memory.Options{Clock: clock})
	fake.Set("db-password", []byte("password-1"), nil)
	store, _ := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": fake}, Clock: clock})
	defer store.Close()
	store.Add(secrets.Spec{Name: "db-password", Ref: "memory://db-password"})
	clock.Wait()
	pool := &connPool{}

	cancel, err := store.Subscribe("db-*", func(e secrets.Event) {
		if e.Kind == secrets.EventRotated {
			pool.Reconnect()
		}
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cancel()
	fake.Set("db-password", []byte("password-2"), nil)
	clock.Wait() // fetched, and every subscriber told
	// Output:
	// reconnecting
}

// Scopes: a consumer's view reads only its own secrets.
func Example_scopes() {
	ctx := context.Background()
	fake := memory.New(nil)
	for _, name := range []string{"db-password", "smtp", "reports/s3"} {
		fake.Set(name, []byte("value of "+name), nil)
		_ = name
	}
	store, _ := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": fake}})
	defer store.Close()
	for _, name := range []string{"db-password", "smtp", "reports/s3"} {
		store.Add(secrets.Spec{Name: name, Ref: memory.Ref(name)})
	}

	view, err := store.Scope("reporting", "smtp", "reports/*")
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = view.Get(ctx, "db-password")
	fmt.Println(errors.Is(err, secrets.ErrPermission))
	_, err = view.Get(ctx, "reports/s3")
	fmt.Println(err)
	// Output:
	// true
	// <nil>
}

// TLS certificates: a pair of files served over TLS, hot-reloaded.
func Example_tlsCertificates() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "strongroom-example")
	defer os.RemoveAll(dir)
	pool, err := writeSelfSigned(dir, "localhost")
	if err != nil {
		fmt.Println(err)
		return
	}
	fp, _ := file.New(&file.Options{Root: dir})
	store, _ := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"file": fp}})
	defer store.Close()

	store.Add(certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "file:tls.crt"}))
	store.Add(certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "file:tls.key"}))
	src, err := certs.New(ctx, store, &certs.Options{
		Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key", Default: true}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	server := &http.Server{TLSConfig: certs.ServerConfig(src, nil)}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	server.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello over TLS") })
	go server.ServeTLS(ln, "", "")
	defer server.Close()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body), resp.TLS.PeerCertificates[0].DNSNames)
	// Output:
	// 200 OK hello over TLS [localhost]
}

// writeSelfSigned writes a self-signed certificate for name to dir's
// tls.crt and its key to tls.key, and returns a pool that trusts it.
func writeSelfSigned(dir, name string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}
