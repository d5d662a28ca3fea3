// Package awstest starts the AWS emulator the module's tests run against
// (github.com/sivchari/kumo, in process on a loopback port) and makes
// configurations for it with fake credentials that tests search errors
// for.
package awstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sivchari/kumo"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/secrets"
)

// Fake credentials, which no error, log line or attribute may show.
const (
	KeyID        = "AKIASTRONGROOMTEST01"
	SecretKey    = "s3cr3tKeyStrongroomTestOnly/abcdefghijkl"
	SessionToken = "SessionTokenStrongroomTestOnly0123456789"
)

// Kumo is a running emulator, which a test may stop and start again.
type Kumo struct {
	// URL is its endpoint, for a client's BaseEndpoint. It stays the
	// same across Stop and Start: clients of Config reach whichever
	// server runs.
	URL string

	mu     sync.Mutex
	srv    *kumo.Server // nil while stopped
	faults map[string]*fault
}

// fault is an answer given instead of the emulator's.
type fault struct {
	left   int
	status int
	code   string
}

// Fail makes the next n requests of operation op ("GetSecretValue") fail
// without reaching the emulator, with the HTTP status and AWS error code
// given (503 "ServiceUnavailable", 400 "ThrottlingException"), in the
// JSON protocol's error form, as AWS answers when it sheds load: for tests
// of the SDK's retries and the store's backoff, which kumo never causes.
func (k *Kumo) Fail(op string, n, status int, code string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.faults == nil {
		k.faults = map[string]*fault{}
	}
	k.faults[op] = &fault{left: n, status: status, code: code}
}

// injected returns the answer Fail set for req's operation, or nil.
func (k *Kumo) injected(req *http.Request) *http.Response {
	op := operation(req.Header.Get("X-Amz-Target"))
	k.mu.Lock()
	f := k.faults[op]
	if f == nil || f.left == 0 {
		k.mu.Unlock()
		return nil
	}
	f.left--
	k.mu.Unlock()
	body := fmt.Sprintf(`{"__type":%q,"message":"injected by the test"}`, f.code)
	return &http.Response{
		Status: http.StatusText(f.status), StatusCode: f.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Errortype": {f.code}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// operation returns the operation of an X-Amz-Target header: its part
// after the service's.
func operation(target string) string {
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		return target[i+1:]
	}
	return target
}

// StartKumo starts an emulator, stopped when t ends. kumo registers its
// services once per process, so every emulator of a test binary serves the
// same secrets and parameters: tests name theirs apart.
func StartKumo(t testing.TB) *Kumo {
	t.Helper()
	k := &Kumo{srv: kumo.NewServer()}
	k.URL = k.srv.URL
	t.Cleanup(k.Stop)
	return k
}

// Stop stops the emulator: its listener and connections are closed, and
// requests fail to connect until Start.
func (k *Kumo) Stop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.srv != nil {
		k.srv.Close()
		k.srv = nil
	}
}

// Start starts a stopped emulator again. kumo keeps its state per process,
// not per server, so the new server serves what the stopped one held, as a
// restarted AWS endpoint would. It listens on another port, to which
// Config's transport sends requests addressed to URL.
func (k *Kumo) Start() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.srv == nil {
		k.srv = kumo.NewServer()
	}
}

// route sends a request addressed to URL to the running server (keeping
// the Host header, which the request's signature covers), or to URL itself
// while stopped, where nothing listens.
func (k *Kumo) route(req *http.Request) *http.Request {
	k.mu.Lock()
	cur := k.URL
	if k.srv != nil {
		cur = k.srv.URL
	}
	k.mu.Unlock()
	if cur == k.URL || "http://"+req.URL.Host != k.URL {
		return req
	}
	req = req.Clone(req.Context())
	req.Host = req.URL.Host
	req.URL.Host = strings.TrimPrefix(cur, "http://")
	return req
}

// Config returns an AWS configuration for the emulator with the fake
// credentials. Its HTTP client opens a connection per request, so that no
// connection goroutine outlives a conformance sub-test (whose leak check
// would count it), and lets one request at a time through (see
// SerialTransport). Service clients still need BaseEndpoint set to URL.
func (k *Kumo) Config() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(KeyID, SecretKey, SessionToken),
		HTTPClient:  &http.Client{Transport: &SerialTransport{Next: &http.Transport{DisableKeepAlives: true}, route: k.route, fault: k.injected}},
	}
}

// Calls counts the requests a client sends, by operation (the
// X-Amz-Target header, "secretsmanager.DescribeSecret" say).
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// Count returns how many requests of operation op were sent; op is the
// operation's name without its service ("DescribeSecret").
func (c *Calls) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// Reset sets every count to zero.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = nil
}

func (c *Calls) add(target string) {
	target = operation(target)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[target]++
}

// CountingConfig is Config, with every request the configuration's
// clients send counted in the returned Calls.
func (k *Kumo) CountingConfig() (aws.Config, *Calls) {
	cfg := k.Config()
	calls := &Calls{}
	cfg.HTTPClient.(*http.Client).Transport.(*SerialTransport).count = calls
	return cfg, calls
}

// SerialTransport lets one request at a time reach the emulator and reads
// each response whole before the next: kumo v0.33.1 races with itself on
// concurrent requests (GetSecretValue writes LastAccessedDate under a read
// lock; handlers read a secret after its lock is released), which -race
// reports. AWS has no such limit.
type SerialTransport struct {
	mu    sync.Mutex
	Next  http.RoundTripper
	count *Calls
	route func(*http.Request) *http.Request
	fault func(*http.Request) *http.Response
}

// RoundTrip implements http.RoundTripper.
func (s *SerialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count != nil {
		s.count.add(req.Header.Get("X-Amz-Target"))
	}
	if s.fault != nil {
		if resp := s.fault(req); resp != nil {
			return resp, nil
		}
	}
	if s.route != nil {
		req = s.route(req)
	}
	resp, err := s.Next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

// Store opens a store serving scheme from p, declares specs and waits for
// them to load; the store is closed when t ends.
func Store(t testing.TB, scheme string, p providers.Provider, specs ...secrets.Spec) *secrets.Store {
	t.Helper()
	ctx := context.Background()
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{scheme: p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	for _, s := range specs {
		if err := store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}
