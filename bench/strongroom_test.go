package bench

import (
	"context"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

const secretName = "bench-key"

// openStore returns a Store on the wall clock whose secret secretName (32
// bytes, from providers/memory) has loaded. The Store is closed when b ends.
func openStore(b *testing.B) *secrets.Store { return openStoreTTL(b, 0) }

// openStoreTTL is openStore for a secret that expires after ttl (0: never).
// A read of an expiring secret checks the clock, which costs a time.Now.
func openStoreTTL(b *testing.B, ttl time.Duration) *secrets.Store {
	b.Helper()
	ctx := context.Background()
	p := memory.New(nil)
	p.Set(secretName, value32(), &memory.SetOptions{TTL: ttl})
	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"memory": p},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	if err := store.Add(secrets.Spec{Name: secretName, Ref: memory.Ref(secretName), Kind: secrets.KindKey}); err != nil {
		b.Fatal(err)
	}
	sec, err := store.Get(ctx, secretName) // waits for the first load
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	if err := sec.Use(func(v []byte) error { n = len(v); return nil }); err != nil {
		b.Fatal(err)
	}
	checkLen(b, "Secret.Use", n)
	return store
}

// BenchmarkStrongroomGetUse is the read a strongroom user makes: a handle
// from Store.Get, then the plaintext inside Secret.Use.
func BenchmarkStrongroomGetUse(b *testing.B) {
	store := openStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	var acc byte
	for b.Loop() {
		sec, err := store.Get(ctx, secretName)
		if err != nil {
			b.Fatal(err)
		}
		if err := sec.Use(func(v []byte) error {
			acc = fold(acc, v)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	sink.Add(uint64(acc))
}

func BenchmarkStrongroomGetUseParallel(b *testing.B) {
	store := openStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var acc byte
		for pb.Next() {
			sec, err := store.Get(ctx, secretName)
			if err != nil {
				b.Error(err)
				return
			}
			if err := sec.Use(func(v []byte) error {
				acc = fold(acc, v)
				return nil
			}); err != nil {
				b.Error(err)
				return
			}
		}
		sink.Add(uint64(acc))
	})
}

// BenchmarkStrongroomGet is Store.Get alone: the lookup and freshness checks,
// without opening the sealed value.
func BenchmarkStrongroomGet(b *testing.B) {
	store := openStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	var last *secrets.Secret
	for b.Loop() {
		sec, err := store.Get(ctx, secretName)
		if err != nil {
			b.Fatal(err)
		}
		last = sec
	}
	sink.Add(uint64(len(last.Version())))
}

func BenchmarkStrongroomGetParallel(b *testing.B) {
	store := openStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var last *secrets.Secret
		for pb.Next() {
			sec, err := store.Get(ctx, secretName)
			if err != nil {
				b.Error(err)
				return
			}
			last = sec
		}
		if last != nil {
			sink.Add(uint64(len(last.Version())))
		}
	})
}

// BenchmarkStrongroomGetExpiring is Store.Get of a secret with an expiry:
// every read checks it against the clock.
func BenchmarkStrongroomGetExpiring(b *testing.B) {
	store := openStoreTTL(b, 24*time.Hour)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := store.Get(ctx, secretName); err != nil {
			b.Fatal(err)
		}
	}
}
