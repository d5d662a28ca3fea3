package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// A generated secret with a polling interval has nothing to poll: the
// scheduler must not spin on it, and Close must return.
func TestGeneratedSecretIgnoresInterval(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.store.Create(ctx(t), secrets.Spec{Name: "g", Refresh: secrets.RefreshPolicy{Interval: time.Minute}}, &secrets.RandomKey{}); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Hour)
	md, _ := f.store.Metadata("g")
	if !md.NextRefresh.IsZero() {
		t.Errorf("generated secret scheduled for refresh at %v", md.NextRefresh)
	}
	closed := make(chan struct{})
	go func() { f.store.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
}

// Create and Close at once: Close waits for Create, which then fails
// cleanly or succeeds; nothing touches freed memory.
func TestCreateRacingClose(t *testing.T) {
	for i := range 50 {
		f := newFixture(t, nil)
		var wg sync.WaitGroup
		for j := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := f.store.Create(ctx(t), secrets.Spec{Name: fmt.Sprintf("c%d-%d", i, j)}, &secrets.RandomPassword{Length: 4096})
				if err != nil && !errors.Is(err, secrets.ErrClosed) {
					t.Errorf("Create during Close: %v", err)
				}
			}()
		}
		f.store.Close()
		wg.Wait()
	}
}

// Calling the store from inside Use must not deadlock, and a slow Use of
// an old version must not hold up other secrets' refreshes.
func TestStoreCallsInsideUse(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "a", Overlap: -1}, "v1", nil)
	done := make(chan error, 1)
	go func() {
		done <- f.store.Use(ctx(t), "a", func([]byte) error {
			f.mem.Set("a", []byte("v2"), nil)
			if err := f.store.Refresh(ctx(t), "a"); err != nil { // wipes the version being read
				return err
			}
			return f.store.Revoke(ctx(t), "a")
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Refresh or Revoke inside Use deadlocked")
	}

	f.add(secrets.Spec{Name: "slow", Overlap: time.Minute}, "s1", nil)
	f.add(secrets.Spec{Name: "polled", Refresh: secrets.RefreshPolicy{Interval: time.Minute, Jitter: -1}}, "p1", nil)
	old, _ := f.store.Get(ctx(t), "slow")
	release := make(chan struct{})
	inUse := make(chan struct{})
	go old.Use(func([]byte) error { close(inUse); <-release; return nil })
	<-inUse
	f.mem.Set("slow", []byte("s2"), nil)
	eventually(t, "slow to rotate", func() bool { md, _ := f.store.Metadata("slow"); return md.Version == "2" })
	f.mem.Set("polled", []byte("p2"), nil) // seen by push; then polling must go on
	f.advance(time.Minute)                 // ends the overlap: the old version is wiped after its Use
	f.mem.Set("polled", []byte("p3"), nil)
	f.advance(time.Minute)
	eventually(t, "polled to refresh while a Use holds an old version", func() bool {
		md, _ := f.store.Metadata("polled")
		return md.Version == "3"
	})
	close(release)
	eventually(t, "the old version to be wiped once its Use ends", func() bool {
		return errors.Is(old.Use(func([]byte) error { return nil }), secrets.ErrDestroyed)
	})
}

// A fetch under way when the secret is revoked records nothing after the
// revocation, and a reader waiting for it learns of the revocation.
func TestRevokeDuringFetch(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.mem.Set("r", []byte("v"), nil)
	f.mem.SetLatency("r", time.Hour) // never advanced: the fetch waits
	f.store.Add(secrets.Spec{Name: "r", Ref: "memory://r"})
	got := make(chan error, 1)
	go func() { _, err := f.store.Get(ctx(t), "r"); got <- err }()
	eventually(t, "the fetch to start", func() bool { return f.mem.Fetches("r") == 1 })
	if err := f.store.Revoke(ctx(t), "r"); err != nil {
		t.Fatal(err)
	}
	if err := <-got; !errors.Is(err, secrets.ErrRevoked) {
		t.Errorf("waiting Get = %v, want ErrRevoked", err)
	}
	next(t, ev, secrets.EventRevoked)
	select {
	case e := <-ev:
		t.Errorf("event after the revocation: %v", e)
	case <-time.After(100 * time.Millisecond):
	}
	md, _ := f.store.Metadata("r")
	if md.LastError != "" || md.FailingFor != 0 || !md.NextRefresh.IsZero() {
		t.Errorf("revoked secret carries failure state: %+v", md)
	}
}

func TestRevokeRevokesPreviousToo(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "k", Overlap: time.Hour}, "v1", nil)
	f.mem.Set("k", []byte("v2"), nil)
	next(t, ev, secrets.EventRotated)
	if err := f.store.Revoke(ctx(t), "k"); err != nil {
		t.Fatal(err)
	}
	if got := f.mem.Revoked("k"); fmt.Sprint(got) != "[2 1]" {
		t.Errorf("revoked at the backend: %v, want [2 1]", got)
	}
}

func TestCreateNameRules(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.store.Create(ctx(t), secrets.Spec{Name: "n"}, &secrets.RandomKey{}); err != nil {
		t.Fatal(err)
	}
	f.store.Revoke(ctx(t), "n")
	if _, err := f.store.Create(ctx(t), secrets.Spec{Name: "n"}, &secrets.RandomKey{}); err != nil {
		t.Errorf("Create of a revoked name: %v", err)
	}
	// Two Creates of one name: one wins, and the backend holds its value.
	var wg sync.WaitGroup
	results := make([]*secrets.Secret, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = f.store.Create(ctx(t), secrets.Spec{Name: "race", Ref: "memory://race"}, &secrets.RandomKey{})
		}()
	}
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			v, _ := f.mem.Fetch(ctx(t), "memory://race")
			if !results[i].Equal(v.Data) {
				t.Error("the backend holds another value than the winner's")
			}
		case !errors.Is(err, secrets.ErrExists):
			t.Errorf("losing Create: %v", err)
		}
	}
	if winners != 1 || f.mem.Fetches("race") != 1 {
		t.Errorf("%d winners; %d backend fetches (want 1, the check above)", winners, f.mem.Fetches("race"))
	}
}

func TestValidatorMessages(t *testing.T) {
	f := newFixture(t, nil)
	spec := secrets.Spec{Name: "v", Validate: func(b []byte) error {
		switch {
		case strings.HasPrefix(string(b), "tiny"):
			return secrets.InvalidValue("too short: %d bytes", len(b))
		case strings.HasPrefix(string(b), "quote"):
			return fmt.Errorf("weak password %q", strings.TrimSpace(string(b)))
		}
		return nil
	}}
	f.add(spec, "good value", nil)
	f.mem.Set("v", []byte("tiny"), nil)
	err := f.store.Refresh(ctx(t), "v")
	if !strings.Contains(fmt.Sprint(err), "too short: 4 bytes") {
		t.Errorf("InvalidValue reason not shown: %v", err)
	}
	var ve *secrets.ValueError
	if !errors.As(err, &ve) {
		t.Errorf("errors.As(*ValueError) fails on %v", err)
	}
	f.mem.Set("v", []byte("quote-hunter2 \n"), nil)
	err = f.store.Refresh(ctx(t), "v")
	if strings.Contains(fmt.Sprint(err), "hunter2") {
		t.Errorf("a validator's message quoting the value was shown: %v", err)
	}
	if !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("rejection = %v, want ErrInvalid", err)
	}
}

func TestPreviousCountsAsRead(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	f.add(secrets.Spec{Name: "p", Overlap: time.Hour}, "v1", nil)
	f.mem.Set("p", []byte("v2"), nil)
	next(t, ev, secrets.EventRotated)
	if _, err := f.store.Previous("p"); err != nil {
		t.Fatal(err)
	}
	if md, _ := f.store.Metadata("p"); md.Reads != 1 {
		t.Errorf("Reads after Previous = %d, want 1", md.Reads)
	}
}

func TestWriteExpiryDescribe(t *testing.T) {
	f := newFixture(t, nil)
	ev := f.events("*")
	// The value carries its own expiry: "<unix seconds>:<payload>".
	expiry := func(b []byte) (time.Time, error) {
		var sec int64
		if _, err := fmt.Sscanf(string(b), "%d:", &sec); err != nil {
			return time.Time{}, secrets.InvalidValue("no expiry prefix")
		}
		return time.Unix(sec, 0), nil
	}
	describe := func(b []byte) map[string]string { return map[string]string{"length": fmt.Sprint(len(b))} }
	in := func(d time.Duration) string { return fmt.Sprint(epoch.Add(d).Unix()) }
	f.add(secrets.Spec{Name: "w", Expiry: expiry, Describe: describe}, in(time.Hour)+":one", nil)
	md, _ := f.store.Metadata("w")
	if !md.ExpiresAt.Equal(epoch.Add(time.Hour)) || md.Details["length"] != "14" {
		t.Fatalf("derived expiry %v, details %v", md.ExpiresAt, md.Details)
	}
	sec, err := f.store.Write(ctx(t), "w", []byte(in(2*time.Hour)+":two"))
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, ev, secrets.EventRotated)
	if e.Version != sec.Version() || !sec.ExpiresAt().Equal(epoch.Add(2*time.Hour)) {
		t.Errorf("Write: event %v, handle %v expiring %v", e, sec, sec.ExpiresAt())
	}
	if v, _ := f.mem.Fetch(ctx(t), "memory://w"); string(v.Data) != in(2*time.Hour)+":two" {
		t.Errorf("backend holds %q", v.Data)
	}
	if _, err := f.store.Write(ctx(t), "w", []byte("no prefix")); !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("Write of a value without expiry = %v, want ErrInvalid", err)
	}
	if _, err := f.store.Write(ctx(t), "w", []byte(in(-time.Minute)+":old")); !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("Write of an expired value = %v, want ErrInvalid", err)
	}
	f.store.Create(ctx(t), secrets.Spec{Name: "gen"}, &secrets.RandomKey{})
	if _, err := f.store.Write(ctx(t), "gen", []byte("x")); !errors.Is(err, secrets.ErrUnsupported) {
		t.Errorf("Write to a generated secret = %v, want ErrUnsupported", err)
	}
}

func TestExpiredValueRejectedAsExpired(t *testing.T) {
	f := newFixture(t, nil)
	f.add(secrets.Spec{Name: "e"}, "v", nil)
	f.mem.Set("e", []byte("w"), &memory.SetOptions{ExpiresAt: epoch.Add(-time.Minute)})
	err := f.store.Refresh(ctx(t), "e")
	if !errors.Is(err, secrets.ErrInvalid) || !errors.Is(err, secrets.ErrExpired) {
		t.Errorf("an expired value = %v, want ErrInvalid and ErrExpired", err)
	}
}

// quotingWriter is the memory provider with writes that fail with an
// error quoting the value, as a careless backend's might.
type quotingWriter struct{ *memory.Provider }

func (quotingWriter) Write(_ context.Context, ref string, data []byte) (string, error) {
	return "", fmt.Errorf("backend refused %s: %q is not allowed here", ref, data)
}

// A backend's write error that quotes the value is withheld: the value
// reaches neither the error's message nor its formatting.
func TestWriteErrorQuotingValueWithheld(t *testing.T) {
	mem := memory.New(nil)
	mem.Set("w", []byte("old-value"), nil)
	store, err := secrets.Open(ctx(t), &secrets.Options{Providers: map[string]providers.Provider{"memory": quotingWriter{mem}}})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Add(secrets.Spec{Name: "w", Ref: "memory://w"}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx(t), "w"); err != nil {
		t.Fatal(err)
	}
	const value = "n3w-s3cret-written-value"
	_, err = store.Write(ctx(t), "w", []byte(value))
	if err == nil {
		t.Fatal("Write succeeded against a backend that refuses every write")
	}
	for _, out := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, err)} {
		if strings.Contains(out, value) {
			t.Errorf("the write error shows the value: %s", out)
		}
	}
	if !strings.HasPrefix(err.Error(), "secrets: w: write:") {
		t.Errorf("the write error does not name the secret: %v", err)
	}
}
