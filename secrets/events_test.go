package secrets_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/secrets"
)

// Every subscriber sees every event in order; a slow one holds up neither
// the refresh engine nor the others.
func TestHooksInOrderWithSlowSubscriber(t *testing.T) {
	f := newFixture(t, nil)
	const rotations = 50
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // also when the test fails
	slowGot := make(chan secrets.Event, 1000)
	cancelSlow, err := f.store.Subscribe("*", func(e secrets.Event) {
		<-release
		slowGot <- e
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSlow()
	fast := []<-chan secrets.Event{f.events("*"), f.events("k"), f.events("k*")}
	f.add(secrets.Spec{Name: "k"}, "v0", nil)
	for i := 1; i <= rotations; i++ {
		f.mem.Set("k", fmt.Appendf(nil, "v%d", i), nil)
		if err := f.store.Refresh(ctx(t), "k"); err != nil { // the engine is not held up
			t.Fatalf("Refresh %d: %v", i, err)
		}
	}
	md, _ := f.store.Metadata("k")
	total := 1 + md.Rotations // a push may fold two quick Sets into one rotation
	if md.Version != fmt.Sprint(rotations+1) || md.Rotations < rotations/2 {
		t.Fatalf("after %d Sets: version %s, %d rotations", rotations, md.Version, md.Rotations)
	}
	// Each subscriber gets the same chain: loaded, then rotations each
	// starting from the version the last one ended on.
	collect := func(who string, ch <-chan secrets.Event) []string {
		t.Helper()
		var chain []string
		e := next(t, ch, secrets.EventLoaded)
		chain = append(chain, e.Version)
		for len(chain) < total {
			e := next(t, ch, secrets.EventRotated)
			if e.PreviousVersion != chain[len(chain)-1] {
				t.Fatalf("%s: rotation %v does not follow version %s", who, e, chain[len(chain)-1])
			}
			chain = append(chain, e.Version)
		}
		return chain
	}
	want := fmt.Sprint(collect("fast subscriber 0", fast[0]))
	for i, ch := range fast[1:] {
		if got := fmt.Sprint(collect(fmt.Sprintf("fast subscriber %d", i+1), ch)); got != want {
			t.Errorf("subscriber %d saw %s, subscriber 0 saw %s", i+1, got, want)
		}
	}
	select {
	case e := <-slowGot:
		t.Fatalf("slow subscriber delivered %v before release", e)
	default:
	}
	releaseOnce.Do(func() { close(release) })
	if got := fmt.Sprint(collect("slow subscriber", slowGot)); got != want {
		t.Errorf("slow subscriber saw %s, want %s", got, want)
	}
}

func TestSubscriberDropsWhenQueueFull(t *testing.T) {
	f := newFixture(t, &secrets.Options{EventBuffer: 2})
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	got := make(chan secrets.Event, 100)
	cancel, _ := f.store.Subscribe("*", func(e secrets.Event) { <-release; got <- e })
	defer cancel()
	f.add(secrets.Spec{Name: "k"}, "v0", nil)
	for i := 1; i <= 10; i++ {
		f.mem.Set("k", fmt.Appendf(nil, "v%d", i), nil)
		f.store.Refresh(ctx(t), "k")
	}
	md, _ := f.store.Metadata("k")
	total := 1 + md.Rotations // a push may fold two quick Sets into one rotation
	releaseOnce.Do(func() { close(release) })
	// At most one event in the subscriber's hands and two queued; the rest
	// dropped and counted on the last queued one.
	delivered, dropped := 0, 0
	for delivered+dropped < total {
		select {
		case e := <-got:
			delivered++
			dropped += e.Dropped
		case <-time.After(10 * time.Second):
			t.Fatalf("delivered %d, dropped %d of %d events", delivered, dropped, total)
		}
	}
	if delivered > 3 || dropped != total-delivered {
		t.Errorf("delivered %d and reported %d dropped of %d", delivered, dropped, total)
	}
}

func TestSubscriberPanicIsContained(t *testing.T) {
	f := newFixture(t, nil)
	ok := f.events("*")
	cancel, _ := f.store.Subscribe("*", func(secrets.Event) { panic("hook bug") })
	defer cancel()
	f.add(secrets.Spec{Name: "k"}, "v", nil)
	next(t, ok, secrets.EventLoaded)
	f.mem.Set("k", []byte("w"), nil)
	next(t, ok, secrets.EventRotated)
}

func TestSubscribeErrors(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.store.Subscribe("a b", func(secrets.Event) {}); !errors.Is(err, secrets.ErrInvalid) {
		t.Errorf("bad pattern = %v, want ErrInvalid", err)
	}
	cancel, err := f.store.Subscribe("", func(secrets.Event) {})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	cancel() // idempotent
}
