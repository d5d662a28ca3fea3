// Command tlsserver is an HTTPS server whose certificate comes from a
// local development CA with a one-minute lifetime and is renewed in place,
// while clients in the same program make requests continuously through
// several rotations. It prints each certificate event and, at the end, the
// count of failed requests, which must be zero; it exits 0 only then. See
// README.md.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/certs"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/secrets"
)

func main() {
	lifetime := flag.Duration("lifetime", time.Minute, "lifetime of each certificate the development CA issues")
	rotations := flag.Int("rotations", 3, "stop after this many renewals")
	clients := flag.Int("clients", 4, "client goroutines, each making requests on new connections (one more reuses its connection)")
	flag.Parse()
	failed, err := run(context.Background(), *lifetime, *rotations, *clients)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlsserver:", err)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, lifetime time.Duration, rotations, clients int) (failed int64, err error) {
	dir, err := os.MkdirTemp("", "strongroom-tlsserver-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	fp, err := file.New(&file.Options{Root: dir})
	if err != nil {
		return 0, err
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{file.Scheme: fp}})
	if err != nil {
		return 0, err
	}
	defer store.Close()

	// The CA's root key is generated into locked memory and sealed in the
	// store; the certificate and its key live in two files that do not
	// exist yet.
	ca, err := certs.NewDevCA(ctx, store, &certs.DevCAOptions{LeafLifetime: lifetime})
	if err != nil {
		return 0, err
	}
	for _, s := range []secrets.Spec{
		certs.CertificateSpec(secrets.Spec{Name: "web-cert", Ref: "file:tls.crt", Owner: "tlsserver"}),
		certs.KeySpec(secrets.Spec{Name: "web-key", Ref: "file:tls.key", Owner: "tlsserver"}),
	} {
		if err := store.Add(s); err != nil {
			return 0, err
		}
	}

	var ok, bad atomic.Int64
	renewed := make(chan struct{}, rotations+1)
	start := time.Now()
	src, err := certs.New(ctx, store, &certs.Options{
		Certificates: []certs.Pair{{Name: "web", Cert: "web-cert", Key: "web-key",
			Renewal:    &certs.Renewal{Issuer: ca, DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}},
			Validation: &certs.Validation{Roots: ca.CertPool()}}},
		OnEvent: func(e certs.Event) {
			line := fmt.Sprintf("%7.3fs  %-8s %s serial %s not_after %s", time.Since(start).Seconds(), e.Kind, e.Certificate,
				short(e.Serial), e.NotAfter.Format("15:04:05"))
			if e.Err != nil {
				line += "  error: " + e.Err.Error()
			}
			if e.Kind == certs.EventRotated {
				line += fmt.Sprintf("  (requests so far: %d ok, %d failed)", ok.Load(), bad.Load())
				renewed <- struct{}{}
			}
			fmt.Println(line)
		},
	})
	if err != nil {
		return 0, err
	}
	defer src.Close()

	ln, err := tls.Listen("tcp", "127.0.0.1:0", certs.ServerConfig(src, nil))
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	url := "https://" + ln.Addr().String() + "/"
	fmt.Printf("tlsserver: serving %s with certificates from a development CA, %v lifetime, renewed in place in %s\n",
		url, lifetime, dir)
	fmt.Printf("tlsserver: %d clients on new connections and 1 on a kept-alive one; stopping after %d rotations\n", clients, rotations)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i <= clients; i++ {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.CertPool(), ServerName: "localhost"}, DisableKeepAlives: i < clients}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := get(c, url); err != nil {
					bad.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					ok.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	deadline := time.After(time.Duration(rotations+1) * lifetime)
	for n := 0; n < rotations; n++ {
		select {
		case <-renewed:
		case <-deadline:
			close(stop)
			wg.Wait()
			return bad.Load(), errors.New("renewals did not come in time")
		}
	}
	close(stop)
	wg.Wait()
	disk, err := diskSerial(filepath.Join(dir, "tls.crt"))
	if err != nil {
		return bad.Load(), err
	}
	fmt.Printf("tlsserver: tls.crt on disk holds serial %s; served: %s\n", short(disk), short(src.Certificates()[0].Serial))
	fmt.Printf("tlsserver: %d rotations, %d requests, %d failed\n", rotations, ok.Load()+bad.Load(), bad.Load())
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Println("tlsserver: first failure:", err)
	}
	return bad.Load(), nil
}

func get(c *http.Client, url string) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		return fmt.Errorf("status %s, body %q", resp.Status, body)
	}
	return nil
}

func diskSerial(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return "", fmt.Errorf("%s holds no PEM block", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return "", err
	}
	return c.SerialNumber.Text(16), nil
}

// short abbreviates a serial for display.
func short(serial string) string {
	if len(serial) > 12 {
		return serial[:12] + "…"
	}
	return serial
}
