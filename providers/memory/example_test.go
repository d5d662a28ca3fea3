package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strongroom/strongroom/providers/memory"
)

// A test sets a value, reads it, scripts an outage and rotates the value.
// (The example prints lengths, not values: even fake secrets are a bad
// thing to teach printing.)
func Example() {
	ctx := context.Background()
	p := memory.New(nil)
	defer p.Close()

	p.Set("db-password", []byte("hunter2"), nil)
	v, err := p.Fetch(ctx, "memory://db-password")
	fmt.Printf("version %s, %d bytes, %v\n", v.Version, len(v.Data), err)
	v.Wipe()

	p.Fail("", errors.New("connection refused"), 1) // the next fetch of any name fails
	_, err = p.Fetch(ctx, "memory://db-password")
	fmt.Println(err)

	p.Set("db-password", []byte("correct horse battery staple"), nil)
	v, err = p.Fetch(ctx, "memory://db-password")
	fmt.Printf("version %s, %d bytes, %v\n", v.Version, len(v.Data), err)
	v.Wipe()
	fmt.Println("fetches:", p.Fetches("db-password"))
	// Output:
	// version 1, 7 bytes, <nil>
	// providers/memory: fetch memory://db-password: connection refused
	// version 2, 28 bytes, <nil>
	// fetches: 3
}

// Timers fire when the test moves the clock, in deadline order, each seeing
// its own deadline as the time.
func ExampleClock() {
	clock := memory.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	clock.AfterFunc(time.Hour, func() { fmt.Println("refresh at", clock.Now().Format(time.Kitchen)) })
	clock.AfterFunc(30*time.Minute, func() { fmt.Println("check at", clock.Now().Format(time.Kitchen)) })
	fmt.Println("pending:", clock.Timers())
	clock.Advance(2 * time.Hour)
	fmt.Println("now", clock.Now().Format(time.Kitchen), "pending:", clock.Timers())
	// Output:
	// pending: 2
	// check at 12:30AM
	// refresh at 1:00AM
	// now 2:00AM pending: 0
}

// A slow backend on a virtual clock: the fetch returns once the test has
// advanced the clock by the latency.
func ExampleProvider_SetLatency() {
	clock := memory.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	p := memory.New(&memory.Options{Clock: clock})
	defer p.Close()
	p.Set("token", []byte("t0k3n"), nil)
	p.SetLatency("token", 5*time.Second)

	done := make(chan error)
	go func() {
		v, err := p.Fetch(context.Background(), memory.Ref("token"))
		v.Wipe()
		done <- err
	}()
	for clock.Timers() == 0 { // until the fetch is waiting on the clock
		time.Sleep(time.Millisecond)
	}
	clock.Advance(5 * time.Second)
	fmt.Println("fetch:", <-done)
	// Output: fetch: <nil>
}
