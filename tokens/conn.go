package tokens

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
	"unsafe"
)

// The HTTP/1.1 transport reads each response through a bufio.Reader of
// its own, and writes each request through a bufio.Writer: the access
// and refresh tokens of a token response, and the token of a revocation
// request or the refresh token of a refresh grant, stay in those buffers
// until the collector reuses the memory. A Client's own HTTP client
// (ClientOptions.HTTPClient nil) therefore dials wipingConns, which
// remember the memory their Read and Write calls were given (those
// buffers) and wipe it when the connection closes; keep-alives are off, so
// that each connection closes once its one exchange is over, and exchange
// waits for that before it returns.

// readBufferSize is the transport's read buffer; readChunk, below it, is
// the most a body is read at a time. bufio.Reader reads straight into the
// caller's slice when that slice is at least as large as its own buffer:
// reading in smaller chunks keeps the body buffer (which this package
// wipes itself, after parsing) out of the regions a wipingConn wipes when
// the transport closes it. The buffer is also larger than the 8 KiB that
// io.Discard reads with (go-retryablehttp drains a retried answer's body
// into it), whose pooled buffers another goroutine may hold by the time
// the connection closes.
const (
	readBufferSize = 16 << 10
	readChunk      = 1 << 10
)

// newHTTPClient is the HTTP client of a Client made without
// ClientOptions.HTTPClient: HTTP/1.1 over wipingConns, no keep-alives, no
// transparent decompression (a gzip reader's window would hold a copy of
// the plaintext), a 30 s timeout.
func newHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := d.DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				return newWipingConn(c), nil
			},
			DisableKeepAlives:      true,
			DisableCompression:     true,
			ReadBufferSize:         readBufferSize,
			TLSHandshakeTimeout:    10 * time.Second,
			ExpectContinueTimeout:  time.Second,
			MaxResponseHeaderBytes: 64 << 10,
		},
	}
}

// wipingConn is a net.Conn that remembers the slices its Read and Write
// calls were given and wipes them once it is closed and no call is under
// way. A caller must not pass it memory that outlives the connection and
// is still needed afterwards; net/http passes it its own buffers only.
type wipingConn struct {
	net.Conn

	mu      sync.Mutex
	regions [][]byte
	busy    int  // Read and Write calls under way
	closed  bool // Close was called
	wiped   chan struct{}
}

func newWipingConn(c net.Conn) *wipingConn {
	return &wipingConn{Conn: c, wiped: make(chan struct{})}
}

func (c *wipingConn) Read(p []byte) (int, error) {
	c.enter()
	n, err := c.Conn.Read(p)
	c.leave(p[:n])
	return n, err
}

func (c *wipingConn) Write(p []byte) (int, error) {
	c.enter()
	n, err := c.Conn.Write(p)
	c.leave(p)
	return n, err
}

// Close closes the connection and wipes what it was given, now or, when
// a Read or Write is still under way, as soon as the last one returns.
func (c *wipingConn) Close() error {
	err := c.Conn.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.wipeLocked()
	}
	return err
}

func (c *wipingConn) enter() {
	c.mu.Lock()
	c.busy++
	c.mu.Unlock()
}

// leave records region and, on a closed connection, wipes once no call
// is under way.
func (c *wipingConn) leave(region []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	if len(region) > 0 {
		c.remember(region)
	}
	if c.closed {
		c.wipeLocked()
	}
}

// remember adds region, unless a region starting at the same byte already
// covers it (bufio reuses its buffer from the start).
func (c *wipingConn) remember(region []byte) {
	start := unsafe.SliceData(region)
	for i, r := range c.regions {
		if unsafe.SliceData(r) == start {
			if len(region) > len(r) {
				c.regions[i] = region
			}
			return
		}
	}
	c.regions = append(c.regions, region)
}

// wipeLocked clears every region once no call is under way. c.mu is held
// and c.closed is set.
func (c *wipingConn) wipeLocked() {
	if c.busy > 0 {
		return
	}
	for _, r := range c.regions {
		clear(r)
	}
	c.regions = nil
	select {
	case <-c.wiped:
	default:
		close(c.wiped)
	}
}

// conns collects the wipingConns an exchange used, through an
// httptrace.ClientTrace, so that it can wait for them to be wiped.
type conns struct {
	mu   sync.Mutex
	list []*wipingConn
}

func (cs *conns) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		c := info.Conn
		if tc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
			c = tc.NetConn()
		}
		if w, ok := c.(*wipingConn); ok {
			cs.mu.Lock()
			cs.list = append(cs.list, w)
			cs.mu.Unlock()
		}
	}}
}

// connWipeWait bounds how long exchange waits for the transport to close a
// connection whose exchange is over (it does so at once: keep-alives are
// off).
const connWipeWait = 5 * time.Second

// wait waits until every connection collected is closed and wiped, or
// connWipeWait has passed.
func (cs *conns) wait() {
	cs.mu.Lock()
	list := cs.list
	cs.mu.Unlock()
	if len(list) == 0 {
		return
	}
	timer := time.NewTimer(connWipeWait)
	defer timer.Stop()
	for _, c := range list {
		select {
		case <-c.wiped:
		case <-timer.C:
			return
		}
	}
}

// exchange is the one way this package sends an HTTP request: send sends
// it with ctx (which carries the trace that collects its connections);
// exchange reads the answer's body, at most maxBody bytes, into a slice the
// caller wipes, closes it, and waits until the connections the exchange
// used have been wiped (see wipingConn). Every error of the HTTP stack is
// redacted (see redactErr) against target, the URL sent to.
func exchange(ctx context.Context, target string, send func(ctx context.Context) (*http.Response, error)) (*http.Response, []byte, error) {
	var cs conns
	resp, err := send(httptrace.WithClientTrace(ctx, cs.trace()))
	if err != nil {
		cs.wait()
		return nil, nil, redactErr(err, target)
	}
	body, err := readBody(resp.Body, resp.ContentLength, maxBody)
	resp.Body.Close()
	cs.wait()
	if err != nil {
		return nil, nil, redactErr(err, target)
	}
	return resp, body, nil
}

// readBody reads r to its end, or to limit bytes, in chunks of readChunk
// bytes at most, into a slice that grows without leaving copies: each
// larger buffer replaces a wiped one. size, when positive, is the length
// announced. The caller wipes the result; on error nothing is left.
func readBody(r io.Reader, size int64, limit int) ([]byte, error) {
	initial := 2 << 10
	if size >= 0 {
		initial = int(min(size, int64(limit))) + 1 // room to see the end
	}
	buf := make([]byte, 0, min(initial, limit))
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*cap(buf), limit))
			copy(grown, buf)
			clear(buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), len(buf)+readChunk)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			clear(buf)
			return nil, err
		}
	}
	return buf, nil
}
