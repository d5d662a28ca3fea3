package tokens

import (
	"cmp"
	"context"
	"errors"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
)

// rotatingServer is a token endpoint for the refresh token grant that
// rotates refresh tokens and, like a server with reuse detection, accepts
// each one once.
type rotatingServer struct {
	*tokenServer
	mu   sync.Mutex
	live map[string]bool
	n    int
	// hold, when set, is waited on before answering; arrived is
	// signalled when a request is being held.
	hold    chan struct{}
	arrived chan struct{}
	status  int    // when set, the answer's status instead of a grant
	expires string // when set, the expires_in of the answers
}

func newRotatingServer(t *testing.T, first ...string) *rotatingServer {
	rs := &rotatingServer{live: map[string]bool{}}
	for _, rt := range first {
		rs.live[rt] = true
	}
	rs.tokenServer = newTokenServer(t, func(_ int, f url.Values) (int, map[string]string, string) {
		if rs.arrived != nil {
			rs.arrived <- struct{}{}
			<-rs.hold
		}
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.status != 0 {
			return rs.status, nil, ``
		}
		rt := f.Get("refresh_token")
		if f.Get("grant_type") != "refresh_token" || !rs.live[rt] {
			return 400, nil, `{"error":"invalid_grant"}`
		}
		delete(rs.live, rt)
		rs.n++
		next := "rotated-" + string(rune('a'+rs.n))
		rs.live[next] = true
		expires := cmp.Or(rs.expires, "3600")
		return 200, nil, `{"access_token":"at-` + next + `","token_type":"Bearer","expires_in":` + expires + `,"refresh_token":"` + next + `"}`
	})
	return rs
}

// refreshClient makes a Client for the refresh token grant, whose refresh
// token "first" the server it returns takes, with opts (RefreshToken set),
// closed at cleanup.
func refreshClient(t *testing.T, opts ClientOptions) (*Client, *rotatingServer) {
	t.Helper()
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	addSecret(t, store, mem, "refresh", []byte("first"))
	rs := newRotatingServer(t, "first")
	opts.RefreshToken = "refresh"
	c, err := NewClient(rs.URL, "id", ClientSecretBasic(store, "secret"), &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rs
}

// sent returns the refresh tokens the server was sent, in order.
func (rs *rotatingServer) sent() []string {
	rs.tokenServer.mu.Lock()
	defer rs.tokenServer.mu.Unlock()
	var out []string
	for _, f := range rs.forms {
		out = append(out, f.Get("refresh_token"))
	}
	return out
}

// hooked records what OnRefreshToken was given.
type hooked struct {
	mu  sync.Mutex
	got []string
	ctx []error
}

func (h *hooked) hook(ctx context.Context, rt []byte) error {
	h.mu.Lock()
	h.got = append(h.got, string(rt))
	h.ctx = append(h.ctx, ctx.Err())
	h.mu.Unlock()
	return nil
}

func (h *hooked) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// TestRefreshGrantNotRetried: a refresh token grant that meets a 5xx is
// not sent again (the server may have consumed the token).
func TestRefreshGrantNotRetried(t *testing.T) {
	leakCheck(t)
	c, rs := refreshClient(t, ClientOptions{RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	rs.status = 502
	if _, err := c.Fetch(context.Background(), Request{}); err == nil {
		t.Fatal("want the 502")
	}
	if n := rs.hits(); n != 1 {
		t.Fatalf("refresh grant sent %d times after a 502, want 1 (RetryMax applies to client credentials only)", n)
	}
}

// TestRefreshGrantNotCancelled: a refresh grant under way runs to its end
// when the Fetch's context is cancelled: the rotated refresh token reaches
// OnRefreshToken and is used next.
func TestRefreshGrantNotCancelled(t *testing.T) {
	leakCheck(t)
	var h hooked
	c, rs := refreshClient(t, ClientOptions{OnRefreshToken: h.hook})
	rs.hold, rs.arrived = make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := c.Fetch(ctx, Request{}); done <- err }()
	<-rs.arrived
	cancel() // the server has the request
	close(rs.hold)
	if err := <-done; err != nil {
		t.Fatalf("a refresh grant cancelled once sent: %v, want its outcome", err)
	}
	if got := h.all(); len(got) != 1 || got[0] != "rotated-b" || h.ctx[0] != nil {
		t.Fatalf("OnRefreshToken got %q (context %v), want rotated-b with a live context", got, h.ctx)
	}
	rs.hold, rs.arrived = nil, nil
	if _, err := c.Fetch(context.Background(), Request{}); err != nil {
		t.Fatalf("the next grant: %v", err)
	}
	// A grant not yet sent when the context ends is not sent at all.
	if _, err := c.Fetch(ctx, Request{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("a grant with a cancelled context: %v", err)
	}
	if got := rs.sent(); len(got) != 2 || got[1] != "rotated-b" {
		t.Fatalf("refresh tokens sent %q", got)
	}
}

// TestRefreshGrantThroughCacheClose: Close of a Cache during a refresh
// grant waits for it; the rotated refresh token reaches the program and
// the access token that came back is revoked.
func TestRefreshGrantThroughCacheClose(t *testing.T) {
	leakCheck(t)
	clock := memory.NewClock(epoch)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	addSecret(t, store, mem, "refresh", []byte("first"))
	rs := newRotatingServer(t, "first")
	rs.hold, rs.arrived = make(chan struct{}), make(chan struct{})
	rev := newTokenServer(t, func(int, url.Values) (int, map[string]string, string) { return 200, nil, `` })
	var h hooked
	c, err := NewClient(rs.URL, "id", ClientSecretBasic(store, "secret"), &ClientOptions{RefreshToken: "refresh",
		OnRefreshToken: h.hook, RevocationURL: rev.URL, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cache, err := NewCache(c, &CacheOptions{Clock: clock, AllowUnlockedMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	go cache.Token(context.Background(), readReq)
	<-rs.arrived
	closed := make(chan error, 1)
	go func() { closed <- cache.Close() }()
	waitUntil(t, "Close began", cache.closed.Load)
	close(rs.hold)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := h.all(); len(got) != 1 || got[0] != "rotated-b" {
		t.Fatalf("OnRefreshToken got %q, want rotated-b", got)
	}
	if rev.hits() != 1 || rev.forms[0].Get("token") != "at-rotated-b" {
		t.Fatalf("revocations %v, want the access token that arrived during Close", rev.forms)
	}
}

// TestRefreshTokenStoreWins: after rotations held in memory, a refresh
// token provisioned anew in the store is the one sent next.
func TestRefreshTokenStoreWins(t *testing.T) {
	leakCheck(t)
	store, mem := newStore(t, nil)
	addSecret(t, store, mem, "secret", []byte(clientSecret))
	addSecret(t, store, mem, "refresh", []byte("first"))
	rs := newRotatingServer(t, "first", "provisioned")
	c, err := NewClient(rs.URL, "id", ClientSecretBasic(store, "secret"), &ClientOptions{RefreshToken: "refresh"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	fetch := func() {
		t.Helper()
		if _, err := c.Fetch(ctx, Request{}); err != nil {
			t.Fatalf("after sending %q: %v", rs.sent(), err)
		}
	}
	fetch() // first -> rotated-b, kept in memory only
	fetch() // rotated-b -> rotated-c
	rotate(t, store, mem, "refresh", []byte("provisioned"))
	fetch() // the operator's token, not rotated-c
	fetch() // and the rotation of that one
	want := []string{"first", "rotated-b", "provisioned", "rotated-d"}
	if got := rs.sent(); !equal(got, want) {
		t.Fatalf("refresh tokens sent %q, want %q", got, want)
	}
	// The program persisting the rotated token changes the store's version
	// too: the store's value (the same token) is used from then on.
	rotate(t, store, mem, "refresh", []byte("rotated-e"))
	fetch()
	if got := rs.sent(); got[len(got)-1] != "rotated-e" {
		t.Fatalf("refresh tokens sent %q", got)
	}
}

// TestRotatedRefreshTokenKeptOnRefusedAnswer: a 200 answer that rotates the
// refresh token but is refused (here expires_in 0) still hands the rotated
// token on: the server has spent the one sent, so OnRefreshToken gets the
// new one and the next grant sends it, while the Fetch reports the refusal.
func TestRotatedRefreshTokenKeptOnRefusedAnswer(t *testing.T) {
	leakCheck(t)
	var h hooked
	c, rs := refreshClient(t, ClientOptions{OnRefreshToken: h.hook})
	rs.expires = "0"
	if _, err := c.Fetch(context.Background(), Request{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("first grant: %v, want the refusal of expires_in (ErrInvalid)", err)
	}
	if got := h.all(); len(got) != 1 || got[0] != "rotated-b" {
		t.Fatalf("OnRefreshToken got %q after the refused answer, want [rotated-b]", got)
	}
	rs.mu.Lock()
	rs.expires = ""
	rs.mu.Unlock()
	if _, err := c.Fetch(context.Background(), Request{}); err != nil {
		t.Fatalf("second grant (the server takes each refresh token once): %v", err)
	}
	if got := rs.sent(); !equal(got, []string{"first", "rotated-b"}) {
		t.Fatalf("refresh tokens sent %q, want [first rotated-b] (the spent one never again)", got)
	}
}
