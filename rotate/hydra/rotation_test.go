package hydra_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/internal/testservers"
	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/rotate/hydra"
	"github.com/strongroom/strongroom/secrets"
	"github.com/strongroom/strongroom/tokens"
)

// TestRotationUnderLoad rotates the secret of a Hydra client in place with
// the Rotator (rotate.InPlace, a 200 ms overlap), 20 times in a row, while
// a tokens Client fetches tokens without a pause from 8 goroutines (Fetch
// itself, not a Cache: every Fetch is a token request), reading the secret
// from the store the Rotator writes. The issue asks for no failed token
// request handed to a caller.
//
// It checks that every rotation completes, that the store's current secret
// gets a token afterwards while one of an earlier rotation is refused with
// invalid_client, and counts the Fetches that failed. Each failure is
// placed in time (one refused between a rotation's Set at Hydra and the
// store's promoted value is the window of the in-place order, which the
// Client closes by retrying with the pending secret the Rotator annotates:
// tokens.PendingAnnotation), and any failure fails the test.
func TestRotationUnderLoad(t *testing.T) {
	r := rotateUnderLoad(t, asIs)
	if r.failed > 0 {
		t.Errorf("%d of %d Fetches failed in %d rotations", r.failed, r.fetches, r.completed)
	}
}

// TestRotationUnderLoadExperiments runs the same load with two changes
// simulated from this file, to measure what each leaves of the window:
// writtenAtSet (the Rotator promoting right after Set, before Test) and
// pendingFallback (the tokens Client retrying with the rotation's pending
// secret). They report, and fail only for a failure outside every
// window. Run them with STRONGROOM_ROTATION_EXPERIMENTS=1.
func TestRotationUnderLoadExperiments(t *testing.T) {
	if os.Getenv("STRONGROOM_ROTATION_EXPERIMENTS") != "1" {
		t.Skip("experiments: set STRONGROOM_ROTATION_EXPERIMENTS=1 to run them")
	}
	for _, v := range []variant{writtenAtSet, pendingFallback} {
		t.Run(v.String(), func(t *testing.T) { rotateUnderLoad(t, v) })
	}
}

// variant is the set-up: the code as it is, or an experiment simulating,
// from this file, a change proposed to close the window.
type variant int

const (
	asIs variant = iota
	// writtenAtSet: the target writes the new secret to the store as soon
	// as Hydra has taken it, as a Rotator promoting right after Set
	// (before Test) would.
	writtenAtSet
	// pendingFallback: a Fetch refused with invalid_client whose refresh
	// finds the version it sent retries once with the rotation's pending
	// secret, as a tokens Client that knew of it would.
	pendingFallback
)

func (v variant) String() string {
	return [...]string{"as-is", "written-at-set", "pending-fallback"}[v]
}

// fetchKey is the context key of a Fetch's fetchTrace. The tokens Client
// passes Fetch's context to its Secrets and to every HTTP request it makes
// for that Fetch.
type fetchKey struct{}

// fetchTrace is what the transport and the Secrets saw of one Fetch.
type fetchTrace struct {
	requests, serverErrs    atomic.Int64
	firstRefused, refusedAt atomic.Pointer[time.Time] // the first and last 401 answers
	sent                    atomic.Pointer[string]    // the version its first request sent
	usePending              atomic.Bool               // pendingFallback: read the pending secret
}

func traceOf(ctx context.Context) *fetchTrace {
	tr, _ := ctx.Value(fetchKey{}).(*fetchTrace)
	return tr
}

// tokenTransport counts the token requests and their 401 (invalid_client)
// and 5xx answers, per Fetch and in all, and notes when each 401 arrived.
type tokenTransport struct {
	base                         http.RoundTripper
	requests, refused, serverErr atomic.Int64
	mu                           sync.Mutex
	refusals                     []refusal // of a Fetch's first request
}

// refusal is a 401 answer to the first request of a Fetch.
type refusal struct {
	at   time.Time
	sent string // the version the request sent
}

func (c *tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path != "/oauth2/token" {
		return c.base.RoundTrip(r)
	}
	tr := traceOf(r.Context())
	c.requests.Add(1)
	n := int64(0)
	if tr != nil {
		n = tr.requests.Add(1)
	}
	resp, err := c.base.RoundTrip(r)
	switch {
	case err != nil:
	case resp.StatusCode == http.StatusUnauthorized:
		now := time.Now()
		c.refused.Add(1)
		if tr != nil && n == 1 {
			if sent := tr.sent.Load(); sent != nil {
				c.mu.Lock()
				c.refusals = append(c.refusals, refusal{at: now, sent: *sent})
				c.mu.Unlock()
			}
		}
		if tr != nil {
			tr.refusedAt.Store(&now)
			tr.firstRefused.CompareAndSwap(nil, &now)
		}
	case resp.StatusCode >= 500:
		c.serverErr.Add(1)
		if tr != nil {
			tr.serverErrs.Add(1)
		}
	}
	return resp, err
}

// consumerSecrets is the store as the tokens Client reads it: Get and
// Refresh, as *secrets.Store has them. Without fallback it only passes
// them on (the Client sees what it would see of the store itself), noting
// the version a Fetch's first request sends. With fallback, Refresh (which the Client calls
// only after invalid_client) also refreshes the pending secret and, when
// the secret's version is still the one sent, makes the rest of the
// Fetch read the pending secret.
type consumerSecrets struct {
	store    *secrets.Store
	pending  string
	fallback bool
}

func (c consumerSecrets) Get(ctx context.Context, name string) (*secrets.Secret, error) {
	tr := traceOf(ctx)
	if tr != nil && tr.usePending.Load() {
		return c.store.Get(ctx, c.pending)
	}
	sec, err := c.store.Get(ctx, name)
	if err == nil && tr != nil {
		v := sec.Version()
		tr.sent.CompareAndSwap(nil, &v)
	}
	return sec, err
}

// Metadata passes the store's metadata on: the Client reads the pending
// secret's name from its annotations (tokens.PendingAnnotation).
func (c consumerSecrets) Metadata(name string) (secrets.Metadata, error) {
	return c.store.Metadata(name)
}

func (c consumerSecrets) Refresh(ctx context.Context, name string) error {
	err := c.store.Refresh(ctx, name)
	if !c.fallback {
		return err
	}
	c.store.Refresh(ctx, c.pending)
	tr := traceOf(ctx)
	if cur, e := c.store.Get(ctx, name); e == nil && tr != nil {
		if sent := tr.sent.Load(); sent != nil && *sent == cur.Version() {
			tr.usePending.Store(true)
		}
	}
	return err
}

// timedTarget is the Hydra target, noting when each Set started and ended
// (Hydra stops accepting the old secret in between) with the store's
// version when it started, and when each Test ran.
type timedTarget struct {
	*hydra.Target
	version  func() string
	afterSet func(ctx context.Context, c rotate.Credential) // writtenAtSet; nil: nothing
	mu       sync.Mutex
	sets     []timedSet
	tests    [][2]time.Time
}

type timedSet struct {
	start, end time.Time
	before     string // the store's version of the secret when Set started
}

func (t *timedTarget) Set(ctx context.Context, c rotate.Credential) error {
	s := timedSet{start: time.Now(), before: t.version()}
	err := t.Target.Set(ctx, c)
	s.end = time.Now()
	t.mu.Lock()
	t.sets = append(t.sets, s)
	t.mu.Unlock()
	if err == nil && t.afterSet != nil {
		t.afterSet(ctx, c)
	}
	return err
}

func (t *timedTarget) Test(ctx context.Context, c rotate.Credential) error {
	start := time.Now()
	err := t.Target.Test(ctx, c)
	t.mu.Lock()
	t.tests = append(t.tests, [2]time.Time{start, time.Now()})
	t.mu.Unlock()
	return err
}

// failedFetch is a Fetch whose error reached the caller.
type failedFetch struct {
	start, end              time.Time
	firstRefused, refusedAt time.Time // zero: no 401 answer
	requests, serverErrs    int64
	sent                    string
	err                     error
}

// window is one rotation's span from its Set to the store's new value.
type window struct {
	timedSet
	testStart, testEnd, promoted time.Time
	firstRefusal                 time.Time // the first 401 answer after the Set started
	failures                     int
}

// loadResult is what rotateUnderLoad measured.
type loadResult struct {
	completed, failed, fetches int
	inWindow, oneRequest       int // failures refused inside a window; of them, with one request
	stale                      int // failures that outlasted two changes at Hydra
	meanWindow                 time.Duration
}

// rotateUnderLoad runs the rotations under load with v, checks them, logs
// the figures and fails t for a failure outside every window.
func rotateUnderLoad(t *testing.T, v variant) loadResult {
	const (
		rotations = 20
		fetchers  = 8
		secret    = "oauth-client-secret"
		pending   = secret + ".pending"
		clientID  = "rotated-under-load"
	)
	h := testservers.StartHydra(t, nil)
	ctx := context.Background()
	initial := "initial-secret-of-the-client-0123456789"
	h.CreateClient(testservers.Client{ClientID: clientID, ClientSecret: initial, GrantTypes: []string{"client_credentials"},
		Scope: "read", TokenEndpointAuthMethod: "client_secret_basic"})

	mem := memory.New(nil) // the wall clock
	mem.Set(secret, []byte(initial), nil)
	if v == pendingFallback {
		// The memory provider numbers versions per name (1, 2, ...): the
		// pending secret's start at 1001, so that none equals the
		// secret's version the Client sent, which would look unchanged.
		for range 1000 {
			mem.Set(pending, []byte(initial), nil)
		}
	}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": mem}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	// The store's overlap outlasts the policy's, as Policy.Overlap asks.
	if err := store.Add(secrets.Spec{Name: secret, Ref: "memory://" + secret, Overlap: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var promotedMu sync.Mutex
	var promoted []time.Time // when the store installed each new version
	cancelSub, err := store.Subscribe(secret, func(e secrets.Event) {
		if e.Kind == secrets.EventRotated {
			promotedMu.Lock()
			promoted = append(promoted, e.Time)
			promotedMu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cancelSub)

	ht, err := hydra.New(h.Admin, clientID, &hydra.Options{TokenURL: h.TokenURL(), Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	target := &timedTarget{Target: ht, version: func() string {
		md, _ := store.Metadata(secret)
		return md.Version
	}}
	if v == writtenAtSet {
		target.afterSet = func(ctx context.Context, c rotate.Credential) {
			if _, err := store.Write(ctx, secret, c.Secret); err != nil {
				t.Errorf("writing the secret after Set: %v", err)
			}
		}
	}
	var audit strings.Builder
	var auditMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		auditMu.Lock()
		defer auditMu.Unlock()
		return audit.Write(p)
	}), nil))
	rot, err := rotate.New(store, &rotate.Options{Logger: logger, Instance: "load-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rot.Close() })
	err = rot.Add(ctx, rotate.Rotation{
		Secret: secret, PendingRef: "memory://" + pending, StateRef: "memory://" + secret + ".rotation",
		Target: target, Strategy: rotate.InPlace(""),
		Policy: rotate.Policy{Overlap: 200 * time.Millisecond, Lease: 5 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}

	transport := &tokenTransport{base: http.DefaultTransport}
	consumer := consumerSecrets{store: store, pending: pending, fallback: v == pendingFallback}
	client, err := tokens.NewClient(h.TokenURL(), clientID, tokens.ClientSecretBasic(consumer, secret),
		&tokens.ClientOptions{HTTPClient: &http.Client{Transport: transport, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })

	// The fetchers: Fetch in a loop until stop; every error returned is a
	// failure handed to the caller.
	var (
		fetches, successes atomic.Int64
		retried, retriedOK atomic.Int64 // Fetches that sent a second request after a 401
		failMu             sync.Mutex
		failures           []failedFetch
		stop               = make(chan struct{})
		wg                 sync.WaitGroup
	)
	req := tokens.Request{Scopes: []string{"read"}}
	for range fetchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr := &fetchTrace{}
				fctx, cancel := context.WithTimeout(context.WithValue(ctx, fetchKey{}, tr), 30*time.Second)
				start := time.Now()
				g, err := client.Fetch(fctx, req)
				end := time.Now()
				cancel()
				fetches.Add(1)
				if tr.firstRefused.Load() != nil && tr.requests.Load() > 1+tr.serverErrs.Load() {
					retried.Add(1)
					if err == nil {
						retriedOK.Add(1)
					}
				}
				if err == nil {
					clear(g.Value)
					successes.Add(1)
					continue
				}
				f := failedFetch{start: start, end: end, requests: tr.requests.Load(), serverErrs: tr.serverErrs.Load(), err: err}
				if at := tr.refusedAt.Load(); at != nil {
					f.refusedAt, f.firstRefused = *at, *tr.firstRefused.Load()
				}
				if s := tr.sent.Load(); s != nil {
					f.sent = *s
				}
				failMu.Lock()
				failures = append(failures, f)
				failMu.Unlock()
			}
		}()
	}

	// The fetchers run alone before the first rotation and after the last.
	time.Sleep(300 * time.Millisecond)
	began := time.Now()
	var values []string // the current secret after each rotation (kept by the test only)
	r := loadResult{}
	for i := range rotations {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := rot.RotateNow(rctx, secret)
		cancel()
		if err != nil {
			t.Errorf("rotation %d: %v", i+1, err)
			continue
		}
		r.completed++
		if err := store.Use(ctx, secret, func(v []byte) error { values = append(values, string(v)); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	rotating := time.Since(began)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()

	if r.completed != rotations {
		t.Errorf("%d of %d rotations completed", r.completed, rotations)
	}
	if st, err := rot.Status(secret); err != nil || st.Step != rotate.StepIdle || st.LastOutcome != rotate.OutcomeRotated {
		t.Errorf("status after the last rotation: %+v (%v); want idle, rotated", st, err)
	}
	if len(values) > 0 {
		cur := values[len(values)-1]
		var now string
		store.Use(ctx, secret, func(v []byte) error { now = string(v); return nil })
		if now != cur {
			t.Error("the store's current secret changed after the last rotation")
		}
		if status, code := rawToken(t, h, clientID, now); status != http.StatusOK {
			t.Errorf("a token request with the store's current secret: HTTP %d %q; want 200", status, code)
		}
		earlier := []string{initial}
		if len(values) > 1 {
			earlier = append(earlier, values[len(values)-2])
		}
		for _, old := range earlier {
			if status, code := rawToken(t, h, clientID, old); status != http.StatusUnauthorized || code != "invalid_client" {
				t.Errorf("a token request with a secret of an earlier rotation: HTTP %d %q; want 401 invalid_client", status, code)
			}
		}
	}

	// The windows: from each Set to the store's next version.
	target.mu.Lock()
	sets := append([]timedSet(nil), target.sets...)
	tests := append([][2]time.Time(nil), target.tests...)
	target.mu.Unlock()
	promotedMu.Lock()
	proms := append([]time.Time(nil), promoted...)
	promotedMu.Unlock()
	transport.mu.Lock()
	refusals := append([]refusal(nil), transport.refusals...)
	transport.mu.Unlock()
	windows := make([]window, len(sets))
	for i, s := range sets {
		w := &windows[i]
		w.timedSet = s
		// first returns the first of times in [from, the next Set's start).
		first := func(times []time.Time, from time.Time) (time.Time, bool) {
			for _, ts := range times {
				if !ts.Before(from) && (i+1 == len(sets) || ts.Before(sets[i+1].start)) {
					return ts, true
				}
			}
			return time.Time{}, false
		}
		w.promoted, _ = first(proms, s.end)
		for _, x := range tests {
			if ts, ok := first([]time.Time{x[0]}, s.end); ok {
				w.testStart, w.testEnd = ts, x[1]
				break
			}
		}
		for _, x := range refusals { // of the secret current when Set began
			if x.sent == s.before {
				if ts, ok := first([]time.Time{x.at}, s.start); ok {
					w.firstRefusal = ts
					break
				}
			}
		}
	}

	// Place each failure by its last 401 answer and the version its first
	// request sent. In the window of rotation k (from Set k's start to the
	// store's new value): it sent the version current when Set k began,
	// and the store's refresh found nothing newer. Outlasted: it sent a
	// version already replaced when the Set before its last refusal
	// began (it spanned two changes at Hydra; its one retry read a secret
	// that the next Set replaced before Hydra checked it). Anything else
	// is unexplained and fails the test. (Under writtenAtSet the store
	// holds each new secret in two versions, the one written at Set and the
	// one the Rotator promotes; a Fetch that sent the first counts as
	// outlasted.)
	failMu.Lock()
	defer failMu.Unlock()
	r.failed, r.fetches = len(failures), int(fetches.Load())
	var unexplained []failedFetch
	shown := 0
	for _, f := range failures {
		var oe *tokens.OAuthError
		var w *window // the last rotation whose Set began before the last refusal
		if errors.As(f.err, &oe) && oe.Code == "invalid_client" && !f.refusedAt.IsZero() {
			for i := range windows {
				if !f.refusedAt.Before(windows[i].start) {
					w = &windows[i]
				}
			}
		}
		switch {
		case w == nil:
			unexplained = append(unexplained, f)
			continue
		case f.sent != w.before:
			r.stale++
			continue
		case w.promoted.IsZero() || !f.refusedAt.Before(w.promoted):
			unexplained = append(unexplained, f)
			continue
		}
		w.failures++
		r.inWindow++
		if f.requests == 1 {
			r.oneRequest++
		}
		if shown < 3 {
			shown++
			rel := func(ts time.Time) string { return ts.Sub(w.start).Round(time.Millisecond).String() }
			t.Logf("a failure (times from its rotation's Set start; Set ended %s, Test %s to %s, store's new value %s): Fetch from %s to %s, %d request(s), refused at %s",
				rel(w.end), rel(w.testStart), rel(w.testEnd), rel(w.promoted), rel(f.start), rel(f.end), f.requests, rel(f.refusedAt))
		}
	}

	// The window's parts: Set at Hydra; Set's end to Test's start (the
	// state record written, the next tick); Test (the client's
	// registration read, a token request); Test's end to the store's new
	// value (the record written, the next tick, the write). And how long
	// before Set returned Hydra was already refusing the old secret.
	var set, toTest, test, toPromote, whole, wholeMax, early time.Duration
	var measured, windowsHit, refusedEarly int
	for _, w := range windows {
		if w.failures > 0 {
			windowsHit++
		}
		if !w.firstRefusal.IsZero() && w.firstRefusal.Before(w.end) {
			refusedEarly++
			early += w.end.Sub(w.firstRefusal)
		}
		if w.promoted.IsZero() {
			continue
		}
		measured++
		set += w.end.Sub(w.start)
		whole += w.promoted.Sub(w.end)
		wholeMax = max(wholeMax, w.promoted.Sub(w.end))
		if !w.testStart.IsZero() && w.testStart.Before(w.promoted) {
			toTest += w.testStart.Sub(w.end)
			test += w.testEnd.Sub(w.testStart)
			toPromote += w.promoted.Sub(w.testEnd)
		}
	}
	mean := func(d time.Duration, n int) time.Duration {
		return (d / time.Duration(max(n, 1))).Round(10 * time.Microsecond)
	}
	r.meanWindow = mean(whole, measured)

	t.Logf("%s: %d rotations completed in %v (%v each), %d fetchers", v, r.completed, rotating.Round(time.Millisecond),
		(rotating / time.Duration(max(r.completed, 1))).Round(time.Millisecond), fetchers)
	t.Logf("Fetches: %d, succeeded %d, failed %d (handed to the caller); token requests at HTTP: %d, of which 401 invalid_client %d, 5xx %d",
		r.fetches, successes.Load(), r.failed, transport.requests.Load(), transport.refused.Load(), transport.serverErr.Load())
	t.Logf("Fetches that needed the invalid_client retry (a second token request after a 401): %d, of which succeeded %d",
		retried.Load(), retriedOK.Load())
	if v == writtenAtSet {
		t.Logf("from Set's end to the store's new value: mean %v, max %v (Set itself %v)", r.meanWindow, wholeMax.Round(10*time.Microsecond), mean(set, measured))
	} else {
		t.Logf("from Set's end to the store's promoted value: mean %v, max %v (Set itself %v; then to Test %v, Test %v, Test's end to promotion %v)",
			r.meanWindow, wholeMax.Round(10*time.Microsecond), mean(set, measured), mean(toTest, measured), mean(test, measured), mean(toPromote, measured))
	}
	t.Logf("Hydra refused the secret current when Set began before Set returned in %d of %d rotations, on average %v before",
		refusedEarly, len(windows), mean(early, refusedEarly))
	t.Logf("failures refused between a Set's start and the store's new value, having sent the secret current when that Set began: %d, in %d of %d rotations; "+
		"%d of them after a single token request (the refresh found the version sent). Failures that outlasted two changes at Hydra: %d",
		r.inWindow, windowsHit, len(windows), r.oneRequest, r.stale)
	for i, f := range unexplained {
		if i == 10 {
			t.Errorf("... and %d more", len(unexplained)-10)
			break
		}
		t.Errorf("a failure outside every window (%v, %d requests, %d 5xx, refused last at %s, fetch %s to %s): %v",
			f.end.Sub(f.start).Round(time.Millisecond), f.requests, f.serverErrs, f.refusedAt.Format("15:04:05.000000"),
			f.start.Format("15:04:05.000000"), f.end.Format("15:04:05.000000"), f.err)
	}
	if t.Failed() {
		auditMu.Lock()
		t.Logf("the rotator's audit log:\n%s", audit.String())
		auditMu.Unlock()
	}
	return r
}

// writerFunc is an io.Writer of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
