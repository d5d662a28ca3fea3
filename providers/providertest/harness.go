package providertest

import (
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// Capabilities says which optional behaviour a provider has; the suite tests
// each one that is set and checks that the provider does not claim (by
// implementing the interface) what the flags deny.
type Capabilities struct {
	// Mutable: a value changed at the backend through Harness.Set after a
	// first Fetch is seen by the next Fetch.
	Mutable bool
	// Watchable: the provider implements providers.Watcher and signals a
	// change made through Harness.Set or Harness.Remove.
	Watchable bool
	// Versioned: Value.Version is non-empty, equal for equal data fetched
	// twice, and different after the data changes.
	Versioned bool
	// Writable, Revocable, Deletable: the provider implements
	// providers.Writer, providers.Revoker, providers.Deleter.
	Writable  bool
	Revocable bool
	Deletable bool
	// Conditional: the provider implements providers.ConditionalWriter
	// (so Writable must be set too). WriteIf is conditioned on the
	// versions Fetch reports, so Versioned must be set too.
	Conditional bool
}

// Harness adapts one provider to the suite.
type Harness struct {
	// Open returns a new provider over a backend that the harness controls.
	// The suite closes it. Required.
	Open func(t *testing.T) providers.Provider
	// Ref returns the reference of the secret called name (a short ASCII
	// identifier the suite picks: lower-case letters and digits, starting
	// with a letter). Required.
	Ref func(t *testing.T, name string) string
	// Set makes the secret called name hold data at the backend, creating
	// it if needed. Required. data is printable ASCII without spaces; Set
	// must not retain it (the suite overwrites it afterwards) and must
	// replace the value atomically, as the backend's own writers do: the
	// suite calls Set while other goroutines Fetch.
	Set func(t *testing.T, name string, data []byte)
	// Remove deletes the secret called name at the backend. Required.
	Remove func(t *testing.T, name string)
	// InvalidRefs are references the provider must refuse with an error
	// wrapping providers.ErrInvalidRef (a wrong scheme is always tested).
	InvalidRefs []string
	// Caps lists the optional abilities to test.
	Caps Capabilities
	// ErrorPrefix, when not empty, is the prefix every error of the
	// provider must start with (for example "providers/file: ").
	ErrorPrefix string
}
