package rotate_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/rotate"
	"github.com/strongroom/strongroom/secrets"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// keyServer is a system under test of our own making: it accepts the
// credentials it holds, per account. It stands for any target; the
// PostgreSQL and Hydra targets are tested against the real servers.
type keyServer struct {
	mu       sync.Mutex
	valid    map[string][][]byte // account -> accepted secrets
	sets     int
	failTest bool
	failSet  bool
	inPlace  bool
}

func newKeyServer(inPlace bool) *keyServer {
	return &keyServer{valid: map[string][][]byte{}, inPlace: inPlace}
}

func (k *keyServer) target() rotate.Target {
	return rotate.TargetFuncs{
		SetFunc: func(_ context.Context, c rotate.Credential) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.failSet {
				return errors.New("refused by the key server")
			}
			k.sets++
			s := bytes.Clone(c.Secret)
			if k.inPlace {
				k.valid[c.Account] = [][]byte{s}
				return nil
			}
			if !slices.ContainsFunc(k.valid[c.Account], func(b []byte) bool { return bytes.Equal(b, s) }) {
				k.valid[c.Account] = append(k.valid[c.Account], s)
			}
			return nil
		},
		TestFunc: func(_ context.Context, c rotate.Credential) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.failTest {
				return fmt.Errorf("login with %s refused", c.Secret) // quotes it: must be withheld
			}
			if !k.acceptsLocked(c.Account, c.Secret) {
				return errors.New("login refused")
			}
			return nil
		},
		RetireFunc: func(_ context.Context, keep rotate.Credential) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			for a := range k.valid {
				if a != keep.Account {
					delete(k.valid, a)
				}
			}
			k.valid[keep.Account] = slices.DeleteFunc(k.valid[keep.Account], func(b []byte) bool { return !bytes.Equal(b, keep.Secret) })
			return nil
		},
	}
}

func (k *keyServer) acceptsLocked(account string, secret []byte) bool {
	return slices.ContainsFunc(k.valid[account], func(b []byte) bool { return bytes.Equal(b, secret) })
}

// accepted lists what the server accepts, as "account:secret".
func (k *keyServer) accepted() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for a, ss := range k.valid {
		for _, s := range ss {
			out = append(out, a+":"+string(s))
		}
	}
	slices.Sort(out)
	return out
}

type fixture struct {
	t      *testing.T
	clock  *memory.Clock
	mem    *memory.Provider
	store  *secrets.Store
	rot    *rotate.Rotator
	server *keyServer
	events chan rotate.Event
	log    *bytes.Buffer
}

func newFixture(t *testing.T, strategy rotate.Strategy, initial string, policy rotate.Policy) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: memory.NewClock(epoch), events: make(chan rotate.Event, 100), log: &bytes.Buffer{}}
	f.mem = memory.New(&memory.Options{Clock: f.clock})
	f.mem.Set("db", []byte(initial), nil)
	var err error
	f.store, err = secrets.Open(context.Background(), &secrets.Options{
		Providers: map[string]providers.Provider{"memory": f.mem}, Clock: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.store.Close() })
	if err := f.store.Add(secrets.Spec{Name: "db", Ref: "memory://db", Overlap: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.server = newKeyServer(strategy.String()[:2] == "in")
	// The server starts out accepting the initial credential.
	if a, s, err := rotate.SplitAccount([]byte(initial)); err == nil {
		f.server.valid[a] = [][]byte{bytes.Clone(s)}
	} else {
		f.server.valid[accountOf(strategy)] = [][]byte{[]byte(initial)}
	}
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, f.log}, nil))
	f.rot, err = rotate.New(f.store, &rotate.Options{Clock: f.clock, Logger: logger, Instance: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.rot.Close() })
	f.rot.Subscribe(func(e rotate.Event) { f.events <- e })
	err = f.rot.Add(context.Background(), rotate.Rotation{
		Secret: "db", PendingRef: "memory://db.pending", StateRef: "memory://db.rotation",
		Target: f.server.target(), Strategy: strategy, Policy: policy,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func accountOf(s rotate.Strategy) string {
	str := s.String()
	i := strings.IndexByte(str, '"')
	j := strings.IndexByte(str[i+1:], '"')
	return str[i+1 : i+1+j]
}

// current returns the store's current value.
func (f *fixture) current() string {
	f.t.Helper()
	var v string
	if err := f.store.Use(context.Background(), "db", func(b []byte) error { v = string(b); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return v
}

// rotateNow runs RotateNow (or fn) while advancing the clock, so that
// overlaps and waits pass; it returns its error.
func (f *fixture) run(fn func(ctx context.Context) error) error {
	f.t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn(context.Background()) }()
	for i := 0; i < 10000; i++ {
		select {
		case err := <-done:
			return err
		default:
		}
		f.clock.Advance(time.Second)
		time.Sleep(time.Millisecond)
	}
	f.t.Fatal("the rotation did not end")
	return nil
}

// kinds drains the events received so far.
func (f *fixture) kinds() []string {
	var out []string
	for {
		select {
		case e := <-f.events:
			out = append(out, e.Kind.String()+":"+string(e.Step))
		default:
			return out
		}
	}
}

func TestRotateInPlace(t *testing.T) {
	f := newFixture(t, rotate.InPlace("app"), "initial-password", rotate.Policy{Overlap: 10 * time.Second})
	if err := f.run(func(ctx context.Context) error { return f.rot.RotateNow(ctx, "db") }); err != nil {
		t.Fatalf("RotateNow: %v", err)
	}
	cur := f.current()
	if cur == "initial-password" || len(cur) != 32 {
		t.Fatalf("the current value is %q, want a new 32-character password", cur)
	}
	if got, want := f.server.accepted(), []string{"app:" + cur}; !slices.Equal(got, want) {
		t.Errorf("the target accepts %q, want only the current %q", got, want)
	}
	st, _ := f.rot.Status("db")
	if st.Step != rotate.StepIdle || st.LastOutcome != rotate.OutcomeRotated || st.LastFailedStep != "" {
		t.Errorf("status %+v", st)
	}
	f.clock.Wait()
	want := []string{"started:create", "step-done:create", "step-done:set", "step-done:test", "step-done:promote", "promoted:promote", "step-done:retire", "completed:"}
	if got := f.kinds(); !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if strings.Contains(f.log.String(), cur) || strings.Contains(f.log.String(), "initial-password") {
		t.Errorf("the audit log holds a credential:\n%s", f.log)
	}
	for _, step := range []string{"step=create", "step=set", "step=test", "step=promote", "step=retire", "result=rotated"} {
		if !strings.Contains(f.log.String(), step) {
			t.Errorf("the audit log has no %q:\n%s", step, f.log)
		}
	}
}

func TestRotateAlternating(t *testing.T) {
	f := newFixture(t, rotate.Alternating("app_a", "app_b"), `{"account":"app_a","secret":"first-password"}`, rotate.Policy{Overlap: 10 * time.Second})
	for i, want := range []string{"app_b", "app_a", "app_b"} {
		if err := f.run(func(ctx context.Context) error { return f.rot.RotateNow(ctx, "db") }); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		a, s, err := rotate.SplitAccount([]byte(f.current()))
		if err != nil || a != want {
			t.Fatalf("rotation %d: current names %q (%v), want %q", i, a, err, want)
		}
		if got := f.server.accepted(); !slices.Equal(got, []string{a + ":" + string(s)}) {
			t.Errorf("rotation %d: the target accepts %q, want only the current", i, got)
		}
	}
}

func TestTestFailureRollsBack(t *testing.T) {
	f := newFixture(t, rotate.Overlapping("api"), "initial-key-value", rotate.Policy{})
	f.server.failTest = true
	err := f.run(func(ctx context.Context) error { return f.rot.RotateNow(ctx, "db") })
	var rerr *rotate.Error
	if !errors.As(err, &rerr) || rerr.Step != rotate.StepTest {
		t.Fatalf("RotateNow: %v, want an *rotate.Error for step test", err)
	}
	if cur := f.current(); cur != "initial-key-value" {
		t.Errorf("after a rollback the current value is %q", cur)
	}
	if got := f.server.accepted(); !slices.Equal(got, []string{"api:initial-key-value"}) {
		t.Errorf("after a rollback the target accepts %q, want only the current", got)
	}
	var pending string
	f.store.Use(context.Background(), "db.pending", func(b []byte) error { pending = string(b); return nil })
	if pending != "initial-key-value" {
		t.Errorf("the pending secret still holds a discarded credential (%d bytes)", len(pending))
	}
	if strings.Contains(err.Error(), "login with") {
		t.Errorf("the target's error quoting the credential was shown: %v", err)
	}
	st, _ := f.rot.Status("db")
	if st.LastOutcome != rotate.OutcomeRolledBack || st.LastFailedStep != rotate.StepTest {
		t.Errorf("status %+v", st)
	}
	md, _ := f.store.Metadata("db")
	if md.Annotations["rotation.last_outcome"] != "rolled-back" || md.Annotations["rotation.last_failed_step"] != "test" {
		t.Errorf("inventory annotations %v", md.Annotations)
	}
}

func TestScheduleRotatesOncePerPeriod(t *testing.T) {
	f := newFixture(t, rotate.InPlace("app"), "initial-password", rotate.Policy{Every: time.Hour, Jitter: 0.01, Overlap: time.Second})
	f.clock.Wait()
	md, _ := f.store.Metadata("db")
	next, err := time.Parse(time.RFC3339, md.Annotations["rotation.next_due"])
	if err != nil || next.Before(epoch.Add(59*time.Minute)) || next.After(epoch.Add(time.Hour)) {
		t.Fatalf("next due %q (%v), want within the last 1%% of an hour from now", md.Annotations["rotation.next_due"], err)
	}
	for range 3 * 3600 / 10 {
		f.clock.Advance(10 * time.Second)
	}
	f.server.mu.Lock()
	n := f.server.sets
	f.server.mu.Unlock()
	if n != 3 {
		t.Errorf("in three hours the target's credential was set %d times, want 3", n)
	}
}

func TestEmergencyRetiresAtOnce(t *testing.T) {
	f := newFixture(t, rotate.Overlapping("api"), "compromised-key", rotate.Policy{Overlap: time.Hour})
	done := make(chan error, 1)
	go func() { done <- f.rot.Emergency(context.Background(), "db") }()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			if got := f.server.accepted(); slices.Contains(got, "api:compromised-key") || len(got) != 1 {
				t.Errorf("after an emergency rotation the target accepts %q", got)
			}
			if now := f.clock.Now(); now.Sub(epoch) > time.Minute {
				t.Errorf("the emergency rotation took %v of virtual time: it waited for the overlap", now.Sub(epoch))
			}
			return
		default:
			f.clock.Advance(time.Millisecond)
			time.Sleep(time.Millisecond)
		}
	}
}

func TestRetireWaitsForReaders(t *testing.T) {
	f := newFixture(t, rotate.Overlapping("api"), "old-key-value", rotate.Policy{Overlap: 10 * time.Second, ReadQuiet: 5 * time.Second, RetireWait: time.Minute})
	old, err := f.store.Get(context.Background(), "db")
	if err != nil {
		t.Fatal(err)
	}
	stopReading := make(chan struct{})
	var readerDone sync.WaitGroup
	readerDone.Add(1)
	go func() { // a consumer that keeps using its old handle for a while
		defer readerDone.Done()
		for {
			select {
			case <-stopReading:
				return
			default:
			}
			old.Use(func([]byte) error { return nil })
			time.Sleep(time.Millisecond)
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- f.rot.RotateNow(context.Background(), "db") }()
	waited := false
	for i := 0; ; i++ {
		select {
		case err := <-errc:
			if err != nil {
				t.Fatal(err)
			}
			if !waited {
				t.Error("no waiting-for-readers event")
			}
			return
		case e := <-f.events:
			if e.Kind == rotate.EventWaitingForReaders {
				waited = true
				if got := f.server.accepted(); len(got) != 2 {
					t.Errorf("while the old version is read the target accepts %q, want both keys", got)
				}
				close(stopReading)
				readerDone.Wait()
			}
		default:
			f.clock.Advance(time.Second)
			time.Sleep(time.Millisecond)
		}
		if i > 100000 {
			t.Fatal("no end")
		}
	}
}

func TestRollbackAfterPromotion(t *testing.T) {
	f := newFixture(t, rotate.InPlace("app"), "initial-password", rotate.Policy{Overlap: time.Hour})
	errc := make(chan error, 1)
	go func() { errc <- f.rot.RotateNow(context.Background(), "db") }()
	for { // until promoted
		e := <-f.events
		if e.Kind == rotate.EventPromoted {
			break
		}
	}
	if cur := f.current(); cur == "initial-password" {
		t.Fatal("promoted, yet the current value is the old one")
	}
	if err := f.rot.Rollback(context.Background(), "db"); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("RotateNow returned nil for a rotation rolled back")
	}
	if cur := f.current(); cur != "initial-password" {
		t.Errorf("after Rollback the current value is %q", cur)
	}
	if got := f.server.accepted(); !slices.Equal(got, []string{"app:initial-password"}) {
		t.Errorf("after Rollback the target accepts %q", got)
	}
}

// TestIdleRotatorDoesNotSpin: with nothing scheduled, the loop waits to be
// woken: it does not read its state record again and again.
func TestIdleRotatorDoesNotSpin(t *testing.T) {
	f := newFixture(t, rotate.InPlace("app"), "initial-password", rotate.Policy{})
	f.clock.Wait()
	before, _ := f.store.Metadata("db.rotation")
	time.Sleep(200 * time.Millisecond)
	after, _ := f.store.Metadata("db.rotation")
	if after.Reads != before.Reads {
		t.Errorf("an idle rotator read its state record %d times in 200 ms", after.Reads-before.Reads)
	}
}

// TestMaxAgeRotates: a secret older than Policy.MaxAge is rotated, once,
// and then not again until it is that old once more.
func TestMaxAgeRotates(t *testing.T) {
	f := newFixture(t, rotate.InPlace("app"), "initial-password", rotate.Policy{MaxAge: time.Hour, Overlap: time.Second})
	f.clock.Wait()
	sets := func() int {
		f.server.mu.Lock()
		defer f.server.mu.Unlock()
		return f.server.sets
	}
	for range 59 {
		f.clock.Advance(time.Minute)
	}
	if n := sets(); n != 0 {
		t.Fatalf("rotated %d times before the value was an hour old", n)
	}
	for range 30 {
		f.clock.Advance(time.Minute)
	}
	if n := sets(); n != 1 {
		t.Fatalf("rotated %d times in the half hour after the value was an hour old, want 1", n)
	}
	st, _ := f.rot.Status("db")
	if st.LastOutcome != rotate.OutcomeRotated {
		t.Errorf("status %+v", st)
	}
	for range 40 {
		f.clock.Advance(time.Minute)
	}
	if n := sets(); n != 2 {
		t.Errorf("an hour after the first rotation: %d rotations, want 2", n)
	}
}

// TestAddCreatesPendingFromCurrent: Add gives a pending secret that does
// not exist yet the current value, so the store does not keep failing to
// fetch it, and no credential the target does not know is kept.
func TestAddCreatesPendingFromCurrent(t *testing.T) {
	f := newFixture(t, rotate.InPlace("app"), "initial-password", rotate.Policy{})
	v, err := f.mem.Fetch(context.Background(), "memory://db.pending")
	if err != nil || string(v.Data) != "initial-password" {
		t.Fatalf("the pending secret at the backend: %v, %v; want the current value", v, err)
	}
	md, _ := f.store.Metadata("db.pending")
	if md.State != secrets.StateActive {
		t.Errorf("the pending secret is %v in the store", md.State)
	}
}
