package secrets_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

// A store, and the memory provider, created inside a testing/synctest
// bubble run on the bubble's fake clock through their default wall clock:
// time.Sleep moves it, and synctest.Wait returns once every goroutine of
// the bubble (fetches, retries, event deliveries) is idle. Nothing sleeps
// in real time. (Compiled, not run here: synctest.Test needs the test's
// *testing.T. TestSynctestBubble runs it.)
func Example_synctest() {
	var t *testing.T // the test function's
	synctest.Test(t, outageInBubble)
}

// outageInBubble scripts a rotation and an outage inside a bubble.
func outageInBubble(t *testing.T) {
	ctx := context.Background()
	fake := memory.New(nil) // the wall clock: in a bubble, the bubble's
	fake.Set("token", []byte("t1"), &memory.SetOptions{TTL: time.Hour})
	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"memory": fake},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close() // every goroutine of the bubble must end before it does
	var rotations, failures int
	store.Subscribe("token", func(e secrets.Event) {
		switch e.Kind {
		case secrets.EventRotated:
			rotations++
		case secrets.EventRefreshFailed:
			failures++
		}
	})
	store.Add(secrets.Spec{Name: "token", Ref: "memory://token", MaxStale: 10 * time.Minute})
	if err := store.Ready(ctx); err != nil {
		t.Fatal(err)
	}

	fake.Set("token", []byte("t2"), &memory.SetOptions{TTL: time.Hour})
	synctest.Wait() // the watch fired, the fetch ran, the event was delivered
	if rotations != 1 || !has(ctx, store, "token", "t2") {
		t.Fatalf("after a rotation: %d rotated events, value t2: %v", rotations, has(ctx, store, "token", "t2"))
	}

	fake.Fail("token", errors.New("connection refused"), -1)
	time.Sleep(41 * time.Minute) // the refresh, due 34 to 40 minutes in, fails
	synctest.Wait()
	if failures == 0 || !has(ctx, store, "token", "t2") {
		t.Fatalf("41 minutes into an outage: %d failures, t2 served: %v", failures, has(ctx, store, "token", "t2"))
	}
	time.Sleep(10 * time.Minute)
	synctest.Wait()
	if _, err := store.Get(ctx, "token"); !errors.Is(err, secrets.ErrStale) {
		t.Fatalf("51 minutes in: %v, want ErrStale", err)
	}
}

// has reports whether name's value is want.
func has(ctx context.Context, store *secrets.Store, name, want string) bool {
	s, err := store.Get(ctx, name)
	return err == nil && s.Equal([]byte(want))
}
