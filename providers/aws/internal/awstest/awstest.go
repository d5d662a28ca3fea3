// Package awstest starts the AWS emulator the module's tests run against
// (github.com/sivchari/kumo, in process on a loopback port) and makes
// configurations for it with fake credentials that tests search errors
// for.
package awstest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sivchari/kumo"
)

// Fake credentials, which no error, log line or attribute may show.
const (
	KeyID        = "AKIASTRONGROOMTEST01"
	SecretKey    = "s3cr3tKeyStrongroomTestOnly/abcdefghijkl"
	SessionToken = "SessionTokenStrongroomTestOnly0123456789"
)

// Kumo is a running emulator.
type Kumo struct {
	// URL is its endpoint, for a client's BaseEndpoint.
	URL string
	srv *kumo.Server
}

// StartKumo starts an emulator, stopped when t ends.
func StartKumo(t testing.TB) *Kumo {
	t.Helper()
	srv := kumo.NewServer()
	t.Cleanup(srv.Close)
	return &Kumo{URL: srv.URL, srv: srv}
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
		HTTPClient:  &http.Client{Transport: &SerialTransport{Next: &http.Transport{DisableKeepAlives: true}}},
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
	if i := strings.LastIndexByte(target, '.'); i >= 0 {
		target = target[i+1:]
	}
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
}

// RoundTrip implements http.RoundTripper.
func (s *SerialTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.count != nil {
		s.count.add(req.Header.Get("X-Amz-Target"))
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
