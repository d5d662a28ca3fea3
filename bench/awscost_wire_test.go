package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// wire carries the requests of clients inside a synctest bubble to the
// emulator, one at a time, on a goroutine outside the bubble.
//
// Outside, because a goroutine of the bubble waiting on a socket is not
// durably blocked: the idle keep-alive connections an http.Transport
// keeps (each read by a goroutine of its own) would stop the bubble's
// clock for good. Waiting on a channel made outside the bubble is not
// durably blocked either, so the clock stands still while a request is
// on the wire: every call takes no virtual time.
//
// One at a time, because kumo v0.33.1 races with itself on concurrent
// requests; the response is read whole before the next request goes out.
type wire struct {
	mu      sync.Mutex // one request at a time
	jobs    chan *http.Request
	results chan wireResult
	done    chan struct{}
}

type wireResult struct {
	resp *http.Response
	err  error
}

// startWire starts the wire's goroutine; it stops when t ends. It must be
// called outside the bubble.
func startWire(t *testing.T) *wire {
	w := &wire{
		jobs:    make(chan *http.Request),
		results: make(chan wireResult),
		done:    make(chan struct{}),
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	go func() {
		defer close(w.done)
		defer tr.CloseIdleConnections()
		for req := range w.jobs {
			resp, err := tr.RoundTrip(req)
			if err == nil {
				var body []byte
				body, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				resp.Body = io.NopCloser(bytes.NewReader(body))
			}
			if err != nil {
				resp = nil
			}
			w.results <- wireResult{resp, err}
		}
	}()
	t.Cleanup(func() {
		close(w.jobs)
		<-w.done
	})
	return w
}

// roundTrip sends req with a context of its own (the caller's may belong
// to the bubble, whose channels the wire's goroutine must not touch).
func (w *wire) roundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	out := req.Clone(context.Background())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = nil
	out.ContentLength = int64(len(body))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.jobs <- out
	r := <-w.results
	if r.resp != nil {
		r.resp.Request = req
	}
	return r.resp, r.err
}

// callCounter is the http.RoundTripper of one client: it counts every
// request sent (retries included: AWS bills each) by operation, from the
// X-Amz-Target header, and the answers that were errors.
type callCounter struct {
	wire   *wire
	mu     sync.Mutex
	calls  map[string]int
	failed map[string]int
}

func newCallCounter(w *wire) *callCounter {
	return &callCounter{wire: w, calls: map[string]int{}, failed: map[string]int{}}
}

// RoundTrip implements http.RoundTripper.
func (c *callCounter) RoundTrip(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	op = op[strings.LastIndexByte(op, '.')+1:] // "secretsmanager.GetSecretValue"
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	resp, err := c.wire.roundTrip(req)
	if err != nil || resp.StatusCode >= 300 {
		c.mu.Lock()
		c.failed[op]++
		c.mu.Unlock()
	}
	return resp, err
}

// snapshot returns copies of the counts so far.
func (c *callCounter) snapshot() (calls, failed map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, failed = map[string]int{}, map[string]int{}
	for k, v := range c.calls {
		calls[k] = v
	}
	for k, v := range c.failed {
		failed[k] = v
	}
	return calls, failed
}

// costClient returns a Secrets Manager client of the emulator at endpoint
// whose requests go through c, with fake static credentials.
func costClient(endpoint string, c *callCounter) *sm.Client {
	return sm.New(sm.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIABENCHCOSTFAKE000", "bench-cost-fake-secret-key", ""),
		HTTPClient:   &http.Client{Transport: c},
	})
}
