package secrets_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

func openMemory(t *testing.T, clock *memory.Clock) (*secrets.Store, *memory.Provider) {
	t.Helper()
	mo, so := &memory.Options{}, &secrets.Options{}
	if clock != nil {
		mo.Clock, so.Clock = clock, clock
	}
	mem := memory.New(mo)
	so.Providers = map[string]providers.Provider{"memory": mem, "env": env.New(nil)}
	store, err := secrets.Open(context.Background(), so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store, mem
}

// TestWriteIf: a conditional write succeeds from the version the store
// holds, fails with ErrConflict (writing nothing) from another, and of
// many writers conditioned on one version exactly one wins.
func TestWriteIf(t *testing.T) {
	ctx := context.Background()
	store, mem := openMemory(t, nil)
	mem.Set("state", []byte("v1"), nil)
	store.Add(secrets.Spec{Name: "state", Ref: "memory://state"})
	sec, err := store.Get(ctx, "state")
	if err != nil {
		t.Fatal(err)
	}
	sec2, err := store.WriteIf(ctx, "state", []byte("v2"), sec.Version())
	if err != nil {
		t.Fatalf("WriteIf from the current version: %v", err)
	}
	if _, err := store.WriteIf(ctx, "state", []byte("v3"), sec.Version()); !errors.Is(err, secrets.ErrConflict) || !errors.Is(err, providers.ErrConflict) {
		t.Fatalf("WriteIf from a stale version: %v, want ErrConflict", err)
	}
	if got := valueOf(ctx, store, "state"); got != "v2" {
		t.Fatalf("after a conflict the store serves %q, want v2", got)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := store.WriteIf(ctx, "state", []byte("v4"), sec2.Version()); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, secrets.ErrConflict) {
				t.Errorf("WriteIf: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d of 8 writers conditioned on one version won, want 1", wins.Load())
	}
	store.Add(secrets.Spec{Name: "plain", Ref: "env://STRONGROOM_NO_SUCH_VARIABLE"})
	if _, err := store.WriteIf(ctx, "plain", []byte("x"), ""); !errors.Is(err, secrets.ErrUnsupported) {
		t.Errorf("WriteIf on a provider that cannot write conditionally: %v, want ErrUnsupported", err)
	}
}

// TestRegenerate: a declared secret gets a new generated value, written
// to the backend and current at once.
func TestRegenerate(t *testing.T) {
	ctx := context.Background()
	store, mem := openMemory(t, nil)
	mem.Set("pw", []byte("old-password"), nil)
	store.Add(secrets.Spec{Name: "pw", Ref: "memory://pw"})
	store.Ready(ctx)
	sec, err := store.Regenerate(ctx, "pw", &secrets.RandomPassword{Length: 20})
	if err != nil {
		t.Fatal(err)
	}
	got := valueOf(ctx, store, "pw")
	if len(got) != 20 || got == "old-password" {
		t.Fatalf("after Regenerate the store serves %d bytes", len(got))
	}
	v, err := mem.Fetch(ctx, "memory://pw")
	if err != nil || string(v.Data) != got || v.Version != sec.Version() {
		t.Errorf("the backend holds version %s, want the regenerated one %s", v.Version, sec.Version())
	}
	if _, err := store.Regenerate(ctx, "missing", &secrets.RandomPassword{}); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("Regenerate of an undeclared secret: %v", err)
	}
}

// TestPreviousReadsAndAnnotations: uses of a replaced version are counted
// in the metadata, and annotations appear there.
func TestPreviousReadsAndAnnotations(t *testing.T) {
	ctx := context.Background()
	clock := memory.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	store, mem := openMemory(t, clock)
	mem.Set("key", []byte("key-1"), nil)
	store.Add(secrets.Spec{Name: "key", Ref: "memory://key", Overlap: time.Hour})
	clock.Wait()
	old, _ := store.Get(ctx, "key")
	old.Use(func([]byte) error { return nil })
	if md, _ := store.Metadata("key"); md.PreviousReads != 0 {
		t.Fatalf("before a rotation PreviousReads = %d", md.PreviousReads)
	}
	mem.Set("key", []byte("key-2"), nil)
	clock.Wait()
	clock.Advance(time.Minute)
	old.Use(func([]byte) error { return nil })
	prev, _ := store.Previous("key")
	prev.Use(func([]byte) error { return nil })
	cur, _ := store.Get(ctx, "key")
	cur.Use(func([]byte) error { return nil })
	md, _ := store.Metadata("key")
	if md.PreviousReads != 2 || !md.PreviousLastRead.Equal(clock.Now()) {
		t.Errorf("PreviousReads = %d at %v, want 2 at %v", md.PreviousReads, md.PreviousLastRead, clock.Now())
	}
	remove := store.Annotate("key", func() map[string]string { return map[string]string{"rotation.step": "idle"} })
	if md, _ := store.Metadata("key"); md.Annotations["rotation.step"] != "idle" {
		t.Errorf("annotations %v", md.Annotations)
	}
	remove()
	if md, _ := store.Metadata("key"); md.Annotations != nil {
		t.Errorf("after remove, annotations %v", md.Annotations)
	}
}
