package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

// keyName is the API key's secret: the file api-key in the temporary
// directory.
const keyName = "api-key"

// api is the system whose key rotates: an HTTP API on loopback that
// answers requests carrying one of the keys it accepts, and 401 to the
// others. It accepts several keys at once, which is what lets a new one
// be added before the old one is dropped (rotate.Overlapping). As a real
// API should, it keeps a hash of each key, never the key.
type api struct {
	url    string
	srv    *http.Server
	client *http.Client // the target's own, for Test

	mu   sync.Mutex
	keys [][sha256.Size]byte
}

func newAPI() (*api, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &api{url: "http://" + ln.Addr().String() + "/v1/ping", client: &http.Client{Timeout: 10 * time.Second}}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 10 * time.Second}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		key = r.Header.Get("X-API-Key")
	}
	if key == "" || !a.accepts([]byte(key)) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rotation example"`)
		http.Error(w, "unknown API key", http.StatusUnauthorized)
		return
	}
	io.WriteString(w, "pong")
}

// accepts reports whether key is one of the keys the API accepts,
// comparing its hash with every one held, in constant time.
func (a *api) accepts(key []byte) bool {
	sum := sha256.Sum256(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	match := 0
	for _, k := range a.keys {
		match |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	return match == 1
}

// add makes key valid beside the others (again: nothing changes).
func (a *api) add(key []byte) {
	sum := sha256.Sum256(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.keys, sum) {
		a.keys = append(a.keys, sum)
	}
}

// keep drops every key but key.
func (a *api) keep(key []byte) {
	sum := sha256.Sum256(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys = slices.DeleteFunc(a.keys, func(k [sha256.Size]byte) bool { return k != sum })
}

func (a *api) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.keys)
}

// target is the API as the rotator sees it. Every method is idempotent,
// and none keeps c.Secret (the rotator wipes it on return): the API keeps
// hashes.
func (a *api) target() rotate.Target {
	return rotate.TargetFuncs{
		SetFunc: func(_ context.Context, c rotate.Credential) error {
			a.add(c.Secret)
			return nil
		},
		// Test makes a real request with the new key, as a client would.
		TestFunc: func(ctx context.Context, c rotate.Credential) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+string(c.Secret)) // a copy on the heap: see keyTransport
			return ping(a.client, req)
		},
		RetireFunc: func(_ context.Context, keep rotate.Credential) error {
			a.keep(keep.Secret)
			return nil
		},
	}
}

// keyTransport sets the API key on every request, read from the store at
// that moment: once a new key is promoted, the next request carries it.
type keyTransport struct {
	store  *secrets.Store
	secret string
	base   http.RoundTripper
}

func (t *keyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context()) // a RoundTripper leaves its caller's request alone
	err := t.store.Use(req.Context(), t.secret, func(key []byte) error {
		// net/http takes a header as a string: this is a copy of the key
		// on the ordinary heap, outside the store's locked memory, which
		// stays there until the garbage collector reuses the memory. The
		// key itself is wiped when this function returns.
		req.Header.Set("Authorization", "Bearer "+string(key))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return t.base.RoundTrip(req)
}

// ping sends req and checks the answer.
func ping(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "pong" {
		return fmt.Errorf("GET %s: %s: %q", req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// startAPI starts the API, makes its first key, and returns it with its
// clients.
func startAPI(ctx context.Context, cfg config, store *secrets.Store, dir string, out io.Writer) (*system, error) {
	a, err := newAPI()
	if err != nil {
		return nil, err
	}
	stop := func() {
		a.srv.Close()
		a.client.CloseIdleConnections()
	}
	// The first key: 32 letters and digits made in locked memory and
	// written to the file api-key (the rotator makes the next ones alike).
	// Overlap keeps the replaced key readable (Store.Previous) for a
	// minute, which Rotator.Rollback after a promotion needs.
	_, err = store.Create(ctx, secrets.Spec{Name: keyName, Ref: "file:" + keyName, Kind: secrets.KindToken,
		Owner: "rotation-example", Classification: secrets.Confidential, Overlap: time.Minute},
		&secrets.RandomPassword{Length: 32, Alphabet: secrets.AlphabetAlphanumeric})
	if err == nil {
		// The API starts out accepting it: its provisioning.
		err = store.Use(ctx, keyName, func(key []byte) error { a.add(key); return nil })
	}
	if err != nil {
		stop()
		return nil, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: cfg.Clients}
	client := &http.Client{Transport: &keyTransport{store: store, secret: keyName, base: tr}, Timeout: 10 * time.Second}
	fmt.Fprintf(out, "rotation: an API on %s; its key is the secret %q, in %s\n", a.url, keyName, filepath.Join(dir, keyName))
	return &system{
		name:     "the API",
		secret:   keyName,
		target:   a.target(),
		strategy: rotate.Overlapping(""),
		kind:     "overlapping",
		pause:    5 * time.Millisecond,
		call: func(ctx context.Context, _ int) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.url, nil)
			if err != nil {
				return err
			}
			return ping(client, req)
		},
		accepts: func(context.Context) string { return plural(a.count(), "key") },
		close: func() {
			tr.CloseIdleConnections()
			stop()
		},
	}, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
