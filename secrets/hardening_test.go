package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// quotingError is a backend's error that quotes a value: the message must
// not reach the caller, nor the error itself through the chain.
type quotingError struct{ msg string }

func (e *quotingError) Error() string { return e.msg }
func (e *quotingError) Is(target error) bool {
	return target == providers.ErrPermission
}

// echoWriter is a provider whose writes fail with an error quoting the
// value written (as a backend that logs its input might).
type echoWriter struct{ *memory.Provider }

func (w echoWriter) Write(ctx context.Context, ref string, value []byte) (string, error) {
	return "", &quotingError{msg: "cannot store " + string(value) + " at " + ref}
}

// walk calls fn for err and every error in its chain (Unwrap() error and
// Unwrap() []error).
func walk(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, fn)
		}
	}
}

// checkChain fails t when any error in err's chain quotes one of values or
// is a *quotingError.
func checkChain(t *testing.T, what string, err error, values ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	walk(err, func(e error) {
		for _, v := range values {
			if strings.Contains(strings.ToLower(e.Error()), strings.ToLower(v[:8])) {
				t.Errorf("%s: %T in the chain quotes the value: %s", what, e, e)
			}
		}
		if _, ok := e.(*quotingError); ok {
			t.Errorf("%s: the backend's error is still in the chain", what)
		}
	})
	var qe *quotingError
	if errors.As(err, &qe) {
		t.Errorf("%s: errors.As reaches the withheld error", what)
	}
	var we *secrets.WithheldError
	if !errors.As(err, &we) || (we.Type != "*secrets_test.quotingError" && !slices.Contains(we.Chain, "*secrets_test.quotingError")) {
		t.Errorf("%s: no WithheldError naming the type in %v", what, err)
	}
}

// Item 2: Create's write goes through the same scrubbing as Write.
func TestCreateScrubsWriteError(t *testing.T) {
	mem := memory.New(nil)
	store, err := secrets.Open(context.Background(), &secrets.Options{
		Providers: map[string]providers.Provider{"memory": echoWriter{mem}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// The generated password is unknown to the test: look for any run of
	// it in the error, through a validator that records it.
	var generated string
	spec := secrets.Spec{Name: "gen", Ref: "memory://gen", Validate: func(b []byte) error {
		generated = string(b)
		return nil
	}}
	_, err = store.Create(context.Background(), spec, &secrets.RandomPassword{Length: 32})
	checkChain(t, "Create", err, generated)
	if !errors.Is(err, providers.ErrPermission) || !errors.Is(err, secrets.ErrPermission) {
		t.Errorf("Create error %v lost its classification", err)
	}

	mem.Set("w", []byte("first-value-of-w"), nil)
	if err := store.Add(secrets.Spec{Name: "w", Ref: "memory://w"}); err != nil {
		t.Fatal(err)
	}
	store.Ready(context.Background())
	_, err = store.Write(context.Background(), "w", []byte("second-value-of-w"))
	checkChain(t, "Write", err, "second-value-of-w")
	if !errors.Is(err, providers.ErrPermission) {
		t.Errorf("Write error %v lost its classification", err)
	}
}

// Item 3 and item 6's rule in the store: a backend's error that quotes
// part of the value, case-changed, is withheld, and the chain holds only
// the classification and the type.
func TestWithheldChainKeepsNoOriginal(t *testing.T) {
	f := newFixture(t, nil)
	const value = "Quoted-Secret-Value-0123456789"
	f.add(secrets.Spec{Name: "q"}, value, nil)
	for name, quote := range map[string]string{
		"whole":     value,
		"prefix":    value[:10],
		"all but 1": value[:len(value)-1],
		"upper":     strings.ToUpper(value),
		"middle":    value[9:18],
	} {
		t.Run(name, func(t *testing.T) {
			f.mem.Fail("q", &quotingError{msg: "backend refused: " + quote}, 1)
			err := f.store.Refresh(ctx(t), "q")
			checkChain(t, "Refresh", err, value)
			if !errors.Is(err, secrets.ErrPermission) || !errors.Is(err, providers.ErrPermission) {
				t.Errorf("%v lost its classification", err)
			}
			md, _ := f.store.Metadata("q")
			if strings.Contains(strings.ToLower(md.LastError), strings.ToLower(value[9:17])) {
				t.Errorf("LastError quotes the value: %s", md.LastError)
			}
		})
	}
	// A validator's error that is not a ValueError: kept out of the chain.
	f.add(secrets.Spec{Name: "v", Validate: func(b []byte) error {
		if strings.HasPrefix(string(b), "bad") {
			return &quotingError{msg: "rejected " + string(b)}
		}
		return nil
	}}, "good-value-here", nil)
	f.mem.Set("v", []byte("bad-value-quoted"), nil)
	checkChain(t, "validator", f.store.Refresh(ctx(t), "v"), "bad-value-quoted")
}

// Item 11: Previous and a handle taken earlier fail once the secret is
// stale.
func TestStaleHandlesAndPrevious(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "s", MaxStale: time.Minute, Overlap: time.Hour,
		Refresh: secrets.RefreshPolicy{Interval: 10 * time.Minute}}, "v1-value", nil)
	f.mem.Set("s", []byte("v2-value"), nil)
	if err := f.store.Refresh(ctx(t), "s"); err != nil {
		t.Fatal(err)
	}
	held, err := f.store.Get(ctx(t), "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Previous("s"); err != nil {
		t.Fatalf("Previous before the outage: %v", err)
	}
	f.mem.Fail("s", errors.New("connection refused"), -1)
	f.advance(15 * time.Minute) // the poll (due by 10 minutes) fails; the budget is spent
	if _, err := f.store.Get(ctx(t), "s"); !errors.Is(err, secrets.ErrStale) {
		t.Fatalf("Get = %v, want ErrStale", err)
	}
	if _, err := f.store.Previous("s"); !errors.Is(err, secrets.ErrStale) {
		t.Errorf("Previous = %v, want ErrStale", err)
	}
	called := false
	err = held.Use(func([]byte) error { called = true; return nil })
	if !errors.Is(err, secrets.ErrStale) || called {
		t.Errorf("Use of a handle held across the budget = %v (fn called: %v), want ErrStale", err, called)
	}
	f.mem.Heal("s")
	if err := f.store.Refresh(ctx(t), "s"); err != nil {
		t.Fatal(err)
	}
	if err := held.Use(func([]byte) error { return nil }); err != nil {
		t.Errorf("Use after recovery = %v", err)
	}
}

// Item 12: a hanging fetch does not stretch the budget: staleness counts
// from when the refresh was due.
func TestStaleWhileFetchHangs(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("s")
	f.add(secrets.Spec{Name: "s", MaxStale: 200 * time.Millisecond,
		Refresh: secrets.RefreshPolicy{Interval: time.Minute, Jitter: -1, Timeout: 3 * time.Second}}, "v1-value", nil)
	f.mem.SetLatency("s", time.Hour) // the backend hangs; the fetch times out after 3 s
	due := f.clock.Now().Add(time.Minute)
	f.advance(time.Minute + 100*time.Millisecond)
	if _, err := f.store.Get(ctx(t), "s"); err != nil {
		t.Fatalf("Get within the budget, 100ms after the refresh was due: %v", err)
	}
	f.advance(150 * time.Millisecond) // 250 ms after due; the fetch still hangs
	_, err := f.store.Get(ctx(t), "s")
	if !errors.Is(err, secrets.ErrStale) {
		t.Fatalf("Get 250ms after due with a 200ms budget = %v, want ErrStale", err)
	}
	if !strings.Contains(err.Error(), "under way") {
		t.Errorf("stale error does not say a fetch is under way: %v", err)
	}
	e := next(t, ev, secrets.EventStale)
	if got := e.Time.Sub(due); got != 200*time.Millisecond {
		t.Errorf("stale event %v after the refresh was due, want 200ms", got)
	}
}

// Item 9, the store's part: an empty value is refused unless allowed.
func TestEmptyValueRefused(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "e"}, "good-password-1", nil)
	f.mem.Set("e", nil, nil)
	err := f.store.Refresh(ctx(t), "e")
	if !errors.Is(err, secrets.ErrInvalid) || !strings.Contains(fmt.Sprint(err), "empty value") {
		t.Errorf("Refresh to an empty value = %v, want ErrInvalid naming it", err)
	}
	if got := f.mustValue("e"); got != "good-password-1" {
		t.Errorf("value after an empty one = %q, want the last good one", got)
	}
	f.add(secrets.Spec{Name: "allowed", AllowEmpty: true}, "", nil)
	if got, err := f.value("allowed"); err != nil || got != "" {
		t.Errorf("AllowEmpty: %q, %v", got, err)
	}
}

// A backend that keeps serving the same value as its expiry nears is not
// asked ever more often (two thirds of what is left, each time, would
// never let a virtual clock reach the expiry).
func TestRefreshesNearExpiryAreSpaced(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "z"}, "same-value", &memory.SetOptions{TTL: time.Hour})
	before := f.mem.Fetches("z")
	f.advance(2 * time.Hour)
	// Refreshes at 2/3 of what is left until the gaps reach 100 ms, then
	// every 100 ms, then, expired, backing off: a few dozen at most.
	if n := f.mem.Fetches("z") - before; n > 100 {
		t.Errorf("%d fetches of an unchanging value over its last hour", n)
	}
	if _, err := f.store.Get(ctx(t), "z"); !errors.Is(err, secrets.ErrExpired) {
		t.Errorf("Get after expiry = %v, want ErrExpired", err)
	}
}

// slowReader is a provider (without watches) whose fetches, once armed,
// read the value and then wait for release before returning it: a fetch
// that read before a write and returns after it.
type slowReader struct {
	mem      *memory.Provider
	armed    chan struct{} // a fetch that takes it waits
	entered  chan struct{}
	released chan struct{}
}

func (p *slowReader) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	v, err := p.mem.Fetch(ctx, ref)
	select {
	case <-p.armed:
		p.entered <- struct{}{}
		<-p.released
	default:
	}
	return v, err
}

func (p *slowReader) Close() error { return p.mem.Close() }

func (p *slowReader) Write(ctx context.Context, ref string, value []byte) (string, error) {
	return p.mem.Write(ctx, ref, value)
}

// TestFetchBeforeWriteDoesNotReplaceIt: a fetch that read the backend
// before a Write, and ends after the store installed the written value,
// does not put the older value back (nor announce it).
func TestFetchBeforeWriteDoesNotReplaceIt(t *testing.T) {
	ctx := context.Background()
	mem := memory.New(nil)
	mem.Set("db", []byte("password-1"), nil)
	p := &slowReader{mem: mem, armed: make(chan struct{}, 1), entered: make(chan struct{}), released: make(chan struct{})}
	store, err := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": p}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Add(secrets.Spec{Name: "db", Ref: memory.Ref("db")}); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var announced []string
	cancel, err := store.Subscribe("db", func(e secrets.Event) {
		mu.Lock()
		defer mu.Unlock()
		announced = append(announced, e.Kind.String()+" "+e.Version)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()

	p.armed <- struct{}{}
	refreshed := make(chan error, 1)
	go func() { refreshed <- store.Refresh(ctx, "db") }()
	<-p.entered // the fetch has read password-1
	if _, err := store.Write(ctx, "db", []byte("password-2")); err != nil {
		t.Fatal(err)
	}
	close(p.released)
	if err := <-refreshed; err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if got := valueOf(ctx, store, "db"); got != "password-2" {
		t.Errorf("after a fetch that read before the write ended, the store serves %q, want the written password-2", got)
	}
	store.Close() // delivers what is pending
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"rotated 2"}; !slices.Equal(announced, want) {
		t.Errorf("events %q, want %q", announced, want)
	}
}
