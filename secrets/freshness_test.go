package secrets_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

func TestRefreshAheadOfExpiry(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "token"}, "v1", &memory.SetOptions{TTL: time.Hour})
	next(t, ev, secrets.EventLoaded)
	md, _ := f.store.Metadata("token")
	// Two thirds of an hour, brought forward by at most a tenth of it.
	lo, hi := epoch.Add(34*time.Minute), epoch.Add(40*time.Minute)
	if md.NextRefresh.Before(lo) || md.NextRefresh.After(hi) {
		t.Fatalf("NextRefresh = %v, want within [%v, %v]", md.NextRefresh, lo, hi)
	}
	f.advance(md.NextRefresh.Sub(epoch) - time.Second)
	if n := f.mem.Fetches("token"); n != 1 {
		t.Fatalf("fetches one second before the refresh point = %d, want 1", n)
	}
	f.advance(time.Second)
	eventually(t, "the refresh", func() bool {
		md, _ := f.store.Metadata("token")
		return md.RefreshedAt.Equal(md.LoadedAt.Add(md.NextRefresh.Sub(epoch))) || f.mem.Fetches("token") == 2
	})
	eventually(t, "the refresh to be recorded", func() bool {
		md, _ := f.store.Metadata("token")
		return md.RefreshedAt.After(epoch)
	})
	md, _ = f.store.Metadata("token")
	if !md.RefreshedAt.Before(epoch.Add(time.Hour)) {
		t.Errorf("refreshed at %v, not before the expiry", md.RefreshedAt)
	}
	if md.Rotations != 0 || md.Version != "1" {
		t.Errorf("an unchanged value counted as a rotation: %+v", md)
	}
	// The backend now has a new version: the next refresh brings it in,
	// before the old one expires.
	f.mem.Set("token", []byte("v2"), &memory.SetOptions{TTL: time.Hour})
	e := next(t, ev, secrets.EventRotated)
	if e.PreviousVersion != "1" || e.Version != "2" {
		t.Errorf("rotated %s -> %s, want 1 -> 2", e.PreviousVersion, e.Version)
	}
	if got := f.mustValue("token"); got != "v2" {
		t.Errorf("value after refresh = %q, want v2", got)
	}
}

func TestPollingInterval(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "p", Refresh: secrets.RefreshPolicy{Interval: time.Minute, Jitter: -1}}, "a", nil)
	f.mem.Set("p", []byte("b"), nil)
	f.advance(time.Minute)
	next(t, ev, secrets.EventRotated)
	if got := f.mustValue("p"); got != "b" {
		t.Errorf("after one interval = %q, want b", got)
	}
}

func TestPushRefreshFromWatcher(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "w"}, "a", nil) // no interval, no expiry: push only
	f.mem.Set("w", []byte("b"), nil)         // the fake signals its watchers
	next(t, ev, secrets.EventRotated)
	if got := f.mustValue("w"); got != "b" {
		t.Errorf("after push = %q, want b", got)
	}
}

// Ten thousand readers of a secret not loaded yet cause one fetch, and once
// a value exists, readers do not wait for a refresh under way.
func TestSingleFlight(t *testing.T) {
	f := newFixture(t, nil)
	const readers = 10000
	f.mem.Set("db", []byte("first"), &memory.SetOptions{TTL: time.Hour})
	f.mem.SetLatency("db", time.Second) // on the virtual clock: until we advance
	if err := f.store.Add(secrets.Spec{Name: "db", Ref: memory.Ref("db")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, readers)
	start := make(chan struct{})
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			v, err := f.value("db")
			if err == nil && v != "first" {
				err = fmt.Errorf("read %q", v)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	eventually(t, "the fetch to wait on the clock", func() bool { return f.mem.Fetches("db") == 1 && f.clock.Timers() >= 1 })
	f.advance(time.Second)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := f.mem.Fetches("db"); n != 1 {
		t.Fatalf("fetches for %d concurrent first readers = %d, want 1", readers, n)
	}

	// A refresh is now under way, held up by latency: reads must not wait.
	if err := f.store.Add(secrets.Spec{Name: "other", Ref: memory.Ref("other")}); err == nil {
		t.Log("declared a missing secret") // exercises a concurrent failing load
	}
	md, _ := f.store.Metadata("db")
	f.advance(md.NextRefresh.Sub(f.clock.Now()))
	eventually(t, "the refresh to start", func() bool { return f.mem.Fetches("db") == 2 })
	var readersDone sync.WaitGroup
	for range readers {
		readersDone.Add(1)
		go func() {
			defer readersDone.Done()
			if _, err := f.store.Get(ctx(t), "db"); err != nil {
				errs2 := err
				t.Error(errs2)
			}
		}()
	}
	readersDone.Wait() // returns although the fetch is still blocked on the clock
	if n := f.mem.Fetches("db"); n != 2 {
		t.Errorf("fetches = %d during the refresh, want 2", n)
	}
	f.advance(time.Second)
}

func TestStalenessBudget(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	spec := secrets.Spec{Name: "api", MaxStale: 10 * time.Minute,
		Refresh: secrets.RefreshPolicy{Interval: time.Minute, Jitter: -1, MinBackoff: time.Minute, MaxBackoff: time.Minute}}
	f.add(spec, "good", nil)
	f.mem.Fail("api", errors.New("backend down"), -1)
	f.advance(time.Minute)
	failed := next(t, ev, secrets.EventRefreshFailed)
	if !errors.Is(failed.Err, secrets.ErrNotFound) && failed.Err == nil {
		t.Errorf("RefreshFailed event without an error")
	}
	firstFailure := f.clock.Now()
	// Within the budget the last good value is served.
	for f.clock.Now().Before(firstFailure.Add(9 * time.Minute)) {
		f.advance(time.Minute)
		if got, err := f.value("api"); err != nil || got != "good" {
			t.Fatalf("at %v into the outage: %q, %v; want the last good value", f.clock.Now().Sub(firstFailure), got, err)
		}
	}
	if err := f.store.Health(); err != nil {
		t.Errorf("Health within budget = %v, want nil", err)
	}
	md, _ := f.store.Metadata("api")
	if md.State != secrets.StateFailing {
		t.Errorf("State within budget = %v, want failing", md.State)
	}
	f.advance(firstFailure.Add(10 * time.Minute).Sub(f.clock.Now()))
	next(t, ev, secrets.EventStale)
	_, err := f.store.Get(ctx(t), "api")
	if !errors.Is(err, secrets.ErrStale) {
		t.Fatalf("Get past the budget = %v, want ErrStale", err)
	}
	herr := f.store.Health()
	var h *secrets.HealthError
	if !errors.As(herr, &h) || !errors.Is(herr, secrets.ErrStale) || len(h.Problems) != 1 || h.Problems[0].Secret != "api" {
		t.Fatalf("Health past the budget = %v, want a stale problem naming api", herr)
	}
	// Recovery: the next successful refresh serves again.
	f.mem.Heal("api")
	f.mem.Set("api", []byte("fresh"), nil)
	next(t, ev, secrets.EventRotated)
	if got := f.mustValue("api"); got != "fresh" {
		t.Errorf("after recovery = %q, want fresh", got)
	}
	if err := f.store.Health(); err != nil {
		t.Errorf("Health after recovery = %v", err)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "lease"}, "v", &memory.SetOptions{TTL: time.Hour})
	f.mem.Fail("lease", errors.New("backend down"), -1)
	f.advance(59 * time.Minute)
	next(t, ev, secrets.EventRefreshFailed)
	if got := f.mustValue("lease"); got != "v" {
		t.Fatalf("before expiry = %q", got)
	}
	sec, _ := f.store.Get(ctx(t), "lease")
	f.advance(time.Minute)
	next(t, ev, secrets.EventExpired)
	if _, err := f.store.Get(ctx(t), "lease"); !errors.Is(err, secrets.ErrExpired) {
		t.Fatalf("Get past expiry = %v, want ErrExpired", err)
	}
	if err := sec.Use(func([]byte) error { return nil }); !errors.Is(err, secrets.ErrExpired) {
		t.Errorf("Use of a held handle past expiry = %v, want ErrExpired", err)
	}
	if err := f.store.Health(); !errors.Is(err, secrets.ErrExpired) {
		t.Errorf("Health = %v, want ErrExpired", err)
	}
	if md, _ := f.store.Metadata("lease"); md.State != secrets.StateExpired {
		t.Errorf("State = %v, want expired", md.State)
	}
}

func TestRejectedValueKeepsOld(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	validate := func(b []byte) error {
		if len(b) < 8 {
			return fmt.Errorf("too short: %d bytes", len(b))
		}
		return nil
	}
	f.add(secrets.Spec{Name: "pw", Validate: validate}, "long-enough", nil)
	f.mem.Set("pw", []byte("short"), nil)
	rej := next(t, ev, secrets.EventRejected)
	if !errors.Is(rej.Err, secrets.ErrInvalid) {
		t.Errorf("rejection error = %v, want ErrInvalid", rej.Err)
	}
	if got := f.mustValue("pw"); got != "long-enough" {
		t.Errorf("after a rejected value = %q, want the old one", got)
	}
	if err := f.store.Refresh(ctx(t), "pw"); !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("Refresh of a bad value = %v, want ErrInvalid", err)
	}
	f.mem.Set("pw", []byte("also-long-enough"), nil)
	next(t, ev, secrets.EventRotated)
	if got := f.mustValue("pw"); got != "also-long-enough" {
		t.Errorf("after a good value = %q", got)
	}
	// A corrupt value from the backend is rejected the same way.
	f.mem.Corrupt("pw", []byte("x"), 1)
	if err := f.store.Refresh(ctx(t), "pw"); !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("Refresh of a corrupt value = %v, want ErrInvalid", err)
	}
	if got := f.mustValue("pw"); got != "also-long-enough" {
		t.Errorf("after a corrupt value = %q", got)
	}
}

func TestOverlapWindow(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "signing", Overlap: 10 * time.Minute}, "old-key", nil)
	held, _ := f.store.Get(ctx(t), "signing")
	f.mem.Set("signing", []byte("new-key"), nil)
	next(t, ev, secrets.EventRotated)
	prev, err := f.store.Previous("signing")
	if err != nil {
		t.Fatalf("Previous during overlap: %v", err)
	}
	if !prev.Equal([]byte("old-key")) || !held.Equal([]byte("old-key")) {
		t.Error("previous version unreadable during the overlap window")
	}
	if md, _ := f.store.Metadata("signing"); md.PreviousVersion != "1" {
		t.Errorf("Metadata.PreviousVersion = %q, want 1", md.PreviousVersion)
	}
	f.advance(10 * time.Minute)
	eventually(t, "the previous version to be wiped", func() bool {
		return errors.Is(held.Use(func([]byte) error { return nil }), secrets.ErrDestroyed)
	})
	if _, err := f.store.Previous("signing"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Previous after overlap = %v, want ErrNotFound", err)
	}
	if got := f.mustValue("signing"); got != "new-key" {
		t.Errorf("current = %q", got)
	}
}

func TestNegativeOverlapWipesAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "k", Overlap: -1}, "a", nil)
	held, _ := f.store.Get(ctx(t), "k")
	f.mem.Set("k", []byte("b"), nil)
	next(t, ev, secrets.EventRotated)
	// The wipe follows the swap, outside the secret's lock.
	eventually(t, "the old version to be wiped", func() bool {
		return errors.Is(held.Use(func([]byte) error { return nil }), secrets.ErrDestroyed)
	})
	// Store.Use always reaches the current value.
	var got string
	if err := f.store.Use(ctx(t), "k", func(b []byte) error { got = string(b); return nil }); err != nil || got != "b" {
		t.Errorf("Store.Use = %q, %v", got, err)
	}
}

func TestBackoff(t *testing.T) {
	// With randomness of all ones, full jitter draws the whole bound.
	f := newFixture(t, &secrets.Options{Random: ones{}})
	ev := f.events("*")
	f.add(secrets.Spec{Name: "b", Refresh: secrets.RefreshPolicy{MinBackoff: time.Second, MaxBackoff: 8 * time.Second}}, "v", nil)
	f.mem.Fail("b", nil, -1)
	last := f.clock.Now()
	f.store.Refresh(ctx(t), "b")
	next(t, ev, secrets.EventRefreshFailed)
	var gaps []time.Duration
	for range 6 {
		md, _ := f.store.Metadata("b")
		gaps = append(gaps, md.NextRefresh.Sub(last).Round(time.Millisecond))
		last = md.NextRefresh
		f.advance(md.NextRefresh.Sub(f.clock.Now()))
		next(t, ev, secrets.EventRefreshFailed)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	if fmt.Sprint(gaps) != fmt.Sprint(want) {
		t.Errorf("backoff gaps = %v, want %v", gaps, want)
	}
}

type ones struct{}

func (ones) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = 0xff
	}
	return len(b), nil
}

func TestFirstLoadFailure(t *testing.T) {
	f := newFixture(t, nil)
	if err := f.store.Add(secrets.Spec{Name: "missing", Ref: memory.Ref("missing")}); err != nil {
		t.Fatal(err)
	}
	err := f.store.Ready(ctx(t))
	if !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Ready = %v, want ErrNotFound", err)
	}
	if _, err := f.store.Get(ctx(t), "missing"); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	if err := f.store.Health(); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Health = %v, want the load failure", err)
	}
}
