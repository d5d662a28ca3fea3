package secrets

import "time"

// Clock is the source of time for a [Store]: when values expire, when a
// refresh is due, how long a secret has been stale. Tests substitute a
// virtual clock (for example [github.com/strongroom/strongroom/providers/memory.Clock])
// to drive refresh, staleness and expiry without sleeping.
//
// Implementations must be safe for concurrent use. The method set uses only
// standard types, so a clock defined in another package satisfies it without
// importing this one.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine, or synchronously from the
	// code that advances a virtual clock, once d has elapsed. stop
	// cancels the call and reports whether it did so before f ran.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// WallClock is the real clock, the default of every Clock option.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (WallClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
