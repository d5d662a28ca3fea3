package secrets_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
	"github.com/strongroom/strongroom/providers/file"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/secrets"
)

func Example() {
	ctx := context.Background()
	backend := memory.New(nil)
	backend.Set("db-password", []byte("correct horse battery staple"), nil)

	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"memory": backend},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	err = store.Add(secrets.Spec{Name: "db-password", Ref: "memory://db-password", Kind: secrets.KindPassword, Owner: "payments"})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The plaintext exists only inside the function.
	err = store.Use(ctx, "db-password", func(pw []byte) error {
		fmt.Println("password length:", len(pw))
		return nil
	})
	if err != nil {
		fmt.Println(err)
	}
	sec, _ := store.Get(ctx, "db-password")
	fmt.Printf("%v\n", sec)
	// Output:
	// password length: 28
	// secret db-password version 1 [REDACTED]
}

// A test drives rotation, outage and staleness on the fake's virtual clock,
// without sleeping.
func Example_virtualClock() {
	ctx := context.Background()
	clock := memory.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	backend := memory.New(&memory.Options{Clock: clock})
	backend.Set("api-token", []byte("t1"), &memory.SetOptions{TTL: time.Hour})
	store, _ := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"memory": backend},
		Clock:     clock,
	})
	defer store.Close()
	// Advance waits until every event it caused has been delivered, so a
	// subscriber must not block: this channel has room for all of them.
	events := make(chan secrets.Event, 100)
	store.Subscribe("api-token", func(e secrets.Event) { events <- e })
	store.Add(secrets.Spec{Name: "api-token", Ref: "memory://api-token", MaxStale: 10 * time.Minute})
	fmt.Println(<-events)

	// The backend goes down; the token is refreshed ahead of its expiry
	// (at two thirds of its lifetime, 40 minutes, brought forward by up to
	// a tenth of it at random), and fails.
	backend.Fail("api-token", errors.New("connection refused"), -1)
	clock.Advance(41 * time.Minute)
	fmt.Println((<-events).Kind)
	_, err := store.Get(ctx, "api-token") // failing for at most 7 minutes
	fmt.Println("within the staleness budget:", err)

	clock.Advance(15 * time.Minute) // failing for 16 minutes at least; not expired yet
	for e := range events {
		if e.Kind == secrets.EventStale {
			break
		}
	}
	_, err = store.Get(ctx, "api-token")
	fmt.Println("past it:", errors.Is(err, secrets.ErrStale))
	// Output:
	// loaded api-token 1
	// refresh_failed
	// within the staleness budget: <nil>
	// past it: true
}

// The fake in a test: the virtual clock moves only when the test says, and
// when Wait or Advance returns, every fetch, retry and event it caused has
// finished, so the test reads the outcome at once, without sleeping or
// polling. This is the README's snippet.
func Example_fake() {
	ctx := context.Background()
	clock := memory.NewClock(time.Now())
	fake := memory.New(&memory.Options{Clock: clock})
	fake.Set("token", []byte("t1"), &memory.SetOptions{TTL: time.Hour})
	store, _ := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"memory": fake}, Clock: clock,
	})
	defer store.Close()
	store.Add(secrets.Spec{Name: "token", Ref: "memory://token", MaxStale: 10 * time.Minute})
	clock.Wait() // the first load has finished
	fmt.Println(valueOf(ctx, store, "token"))

	fake.Set("token", []byte("t2"), &memory.SetOptions{TTL: time.Hour}) // a rotation
	clock.Wait()                                                        // fetched, and every subscriber told
	fmt.Println(valueOf(ctx, store, "token"))

	fake.Fail("token", errors.New("connection refused"), -1) // an outage
	clock.Advance(41 * time.Minute)                          // the refresh, due 34 to 40 minutes in, has failed: t2 is still served
	fmt.Println(valueOf(ctx, store, "token"))
	clock.Advance(10 * time.Minute) // over ten minutes since it was due: Get returns ErrStale
	_, err := store.Get(ctx, "token")
	fmt.Println(errors.Is(err, secrets.ErrStale))
	// Output:
	// t1
	// t2
	// t2
	// true
}

// valueOf returns a secret's value, or the error, as text (test data only).
func valueOf(ctx context.Context, store *secrets.Store, name string) string {
	var v string
	if err := store.Use(ctx, name, func(b []byte) error { v = string(b); return nil }); err != nil {
		return err.Error()
	}
	return v
}

func ExampleStore_Scope() {
	ctx := context.Background()
	backend := memory.New(nil)
	backend.Set("payments/db", []byte("p"), nil)
	backend.Set("search/key", []byte("s"), nil)
	store, _ := secrets.Open(ctx, &secrets.Options{Providers: map[string]providers.Provider{"memory": backend}})
	defer store.Close()
	store.Add(secrets.Spec{Name: "payments/db", Ref: "memory://payments/db"})
	store.Add(secrets.Spec{Name: "search/key", Ref: "memory://search/key"})

	view, _ := store.Scope("payments-api", "payments/*")
	_, err := view.Get(ctx, "payments/db")
	fmt.Println("payments/db:", err)
	_, err = view.Get(ctx, "search/key")
	fmt.Println("search/key:", errors.Is(err, secrets.ErrPermission))
	md, _ := store.Metadata("payments/db")
	fmt.Println("reads by payments-api:", md.ReadsBy["payments-api"])
	// Output:
	// payments/db: <nil>
	// search/key: true
	// reads by payments-api: 1
}

func ExampleStore_Create() {
	ctx := context.Background()
	store, _ := secrets.Open(ctx, nil)
	defer store.Close()
	pw, err := store.Create(ctx, secrets.Spec{Name: "admin", Kind: secrets.KindPassword},
		&secrets.RandomPassword{Length: 24, Alphabet: secrets.AlphabetAlphanumeric})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pw.Len(), pw.Kind())
	// Output: 24 password
}

// The package overview: a password read from a file, and a hook told when
// the file is replaced.
func Example_files() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "strongroom-example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "db"), []byte("password-1"), 0o600)
	connect := func(pw []byte) error {
		fmt.Printf("connecting with a %d-byte password\n", len(pw))
		return nil
	}
	rotated := make(chan struct{}, 1)
	reconnect := func() {
		select {
		case rotated <- struct{}{}:
		default:
		}
	}

	files, err := file.New(&file.Options{Root: dir}) // "/run/secrets", say
	if err != nil {
		fmt.Println(err)
		return
	}
	store, err := secrets.Open(ctx, &secrets.Options{
		Providers: map[string]providers.Provider{"file": files, "env": env.New(nil)},
		Logger:    slog.Default(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()
	err = store.Add(secrets.Spec{Name: "db", Ref: "file:db", Kind: secrets.KindPassword})
	err = store.Use(ctx, "db", func(pw []byte) error { return connect(pw) })
	cancel, err := store.Subscribe("db", func(e secrets.Event) { reconnect() })
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cancel()

	// A new password, written and renamed over the old one.
	os.WriteFile(filepath.Join(dir, "db.new"), []byte("password-two"), 0o600)
	os.Rename(filepath.Join(dir, "db.new"), filepath.Join(dir, "db"))
	select {
	case <-rotated:
		store.Use(ctx, "db", func(pw []byte) error { return connect(pw) })
	case <-time.After(10 * time.Second):
		fmt.Println("no rotation seen")
	}
	// Output:
	// connecting with a 10-byte password
	// connecting with a 12-byte password
}
