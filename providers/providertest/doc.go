// Package providertest is the conformance suite that every strongroom
// provider runs, so that providers need no unit tests of their own for the
// semantics the store relies on (as gocloud.dev's drivertest does).
//
// A provider's test calls [Run] with a [Harness] that says how to make a
// provider, how to name a secret and how to change it at the backend, and
// which optional abilities the provider has:
//
//	func TestConformance(t *testing.T) {
//		var p *memory.Provider // the provider of the latest Open
//		providertest.Run(t, providertest.Harness{
//			Open: func(t *testing.T) providers.Provider {
//				p = memory.New(nil)
//				return p
//			},
//			Ref:    func(t *testing.T, name string) string { return memory.Ref(name) },
//			Set:    func(t *testing.T, name string, data []byte) { p.Set(name, data, nil) },
//			Remove: func(t *testing.T, name string) { p.Remove(name) },
//			InvalidRefs: []string{
//				"memory:", "memory:name", "memory:/name", "memory://",
//				"memory://a\x00b", "memory://a\nb", "memory://a\x7fb", "memory://\xff",
//			},
//			Caps: providertest.Capabilities{
//				Mutable: true, Watchable: true, Versioned: true,
//				Writable: true, Revocable: true, Deletable: true,
//				Conditional: true,
//			},
//			ErrorPrefix: "providers/memory: ",
//		})
//	}
//
// (This is the memory provider's own conformance test.)
//
// [Run] documents what each sub-test checks; a provider adds tests of its own
// only for what is particular to it.
//
// # Concurrency
//
// Run runs its sub-tests one after another, never in parallel (a harness may
// use t.Setenv), and each sub-test calls Open exactly once, before any Set
// or Remove, and closes the provider before the next sub-test starts: a
// harness may keep the backend of the latest Open in a variable that Set and
// Remove use. The suite calls the harness's functions only from the
// sub-test's own goroutine; it calls the provider from many goroutines at
// once. Do not run Run in parallel with other tests of the same binary: the
// goroutine-leak check after Close would count their goroutines.
//
// # Errors
//
// A provider that breaks the contract fails the sub-test that found it, with
// a message starting "providertest: " that names the rule. An error the
// provider returns must wrap the sentinel of package providers that the
// contract names, checked with errors.Is, and start with
// [Harness].ErrorPrefix when that is set.
//
// # Security
//
// The suite sets recognisable fake secrets and checks, for every error the
// provider returns and every version it reports, that neither contains the
// bytes of any secret set in that sub-test, as text or in hexadecimal. The
// fake secrets are not secret: a failure message may show them.
package providertest
