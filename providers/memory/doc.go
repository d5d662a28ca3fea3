// Package memory is an in-memory [providers.Provider] for tests: the fake
// that users of strongroom script rotation, outage, latency, corrupt values
// and expiry with, deterministically, together with a virtual [Clock].
//
// References have the form "memory://NAME", where NAME is any non-empty
// UTF-8 text without control characters ("memory://db/password"). A test
// puts values in with [Provider.Set] and takes them out with
// [Provider.Remove]; the store under test reads them with Fetch. Versions
// are "1", "2", ... per name, in the order the values were set, so a test
// can name the version it expects.
//
// Scripted faults change what the next fetches see: [Provider.Fail] (an
// error, or an outage when the name is ""), [Provider.Corrupt] (bad data),
// [Provider.SetLatency] (a slow backend, timed on the provider's clock).
// [Provider.Fetches] and [Provider.Revoked] tell the test what reached the
// backend.
//
// The provider has every optional ability: it is a [providers.Watcher], a
// [providers.Writer], a [providers.ConditionalWriter] (whose WriteIf
// compares version numbers under the provider's lock), a
// [providers.Revoker] and a [providers.Deleter].
//
// # Concurrency
//
// A [Provider] and a [Clock] are safe for concurrent use. Watch callbacks
// run on a goroutine per watch, as a real backend's would, never
// concurrently with themselves; the stop function that Watch returns, and
// Close, wait for a callback in progress, so neither may be called from
// inside that callback. [Provider.Close] stops every goroutine the provider started.
//
// # Errors
//
// Errors start with "providers/memory: " and wrap one of the sentinels of
// package providers: [providers.ErrInvalidRef] for a malformed reference,
// [providers.ErrNotFound] for a missing (or revoked) value,
// [providers.ErrConflict] for a WriteIf whose version is not the current
// one, [providers.ErrClosed] after Close, or the context's error. A failure
// scripted with [Provider.Fail] wraps the error the test gave. No error
// contains a value.
//
// # Security
//
// This package is for tests. Values live on the ordinary Go heap, unsealed;
// the provider wipes its own copies when a value is replaced or removed and
// on Close, and hands out a fresh copy on every Fetch, as the contract
// requires, so that tests catch a store that forgets to wipe or that keeps a
// reference to Value.Data.
package memory
