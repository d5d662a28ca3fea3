package certs_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/strongroom/strongroom/certs"
)

// Zero failed handshakes across 100 rotations while 32 clients handshake
// continuously (full handshakes, new connections, the chain verified). The
// key is written before the certificate, so every rotation passes through
// the half-updated state, which must be refused without a failed
// handshake. Each rotation waits until some client has been served the new
// certificate.
func TestHundredRotationsUnderLoad(t *testing.T) {
	const rotations, clients = 100, 32
	f := newFixture(t, nil)
	ca := newCA(t, "ca")
	leaves := make([]*leaf, rotations+1)
	for i := range leaves {
		leaves[i] = ca.issue(t, nil, "localhost")
	}
	src := f.source(&certs.Options{Certificates: []certs.Pair{f.pair("web", leaves[0])}})
	s := serve(t, certs.ServerConfig(src, nil))
	cfg := clientConfig(ca, "localhost")

	var (
		ok, failed atomic.Int64
		seen       sync.Map // serial -> true once a client got it
		stop       = make(chan struct{})
		wg         sync.WaitGroup
		firstErr   atomic.Value
	)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := dial(s, cfg)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				seen.Store(c.ConnectionState().PeerCertificates[0].SerialNumber.Text(16), true)
				c.Close()
				ok.Add(1)
			}
		}()
	}
	for i := 1; i <= rotations; i++ {
		f.rotate("web-key", leaves[i].keyPEM)
		f.rotate("web-cert", leaves[i].certPEM)
		f.rotatedTo("web", leaves[i].serial)
		waitFor(t, "a client served the new certificate", func() bool {
			_, got := seen.Load(leaves[i].serial)
			return got
		})
	}
	close(stop)
	wg.Wait()
	t.Logf("%d rotations, %d clients: %d handshakes succeeded, %d failed", rotations, clients, ok.Load(), failed.Load())
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d handshakes failed; first: %v", n, firstErr.Load())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) != 0 {
		t.Fatalf("the server saw %d failed handshakes; first: %v", len(s.errs), s.errs[0])
	}
}
