package providertest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// Run runs the conformance suite against the provider that h opens, as
// sub-tests of t, one after another. Every sub-test opens a fresh provider.
// The sub-tests, and the rules they check, are:
//
//   - Fetch: Fetch returns exactly the data Set put there, and a non-empty
//     version when Caps.Versioned.
//   - FetchMissing: Fetch of a secret never set fails with
//     [providers.ErrNotFound].
//   - WrongScheme, InvalidRefs: Fetch, and each optional method the provider
//     has (WriteIf with version ""), refuse a reference of another scheme and every entry of
//     h.InvalidRefs with [providers.ErrInvalidRef], and change nothing.
//   - Ownership: the caller owns what Fetch returns: overwriting Data or
//     adding to Labels changes neither an earlier nor a later Value; Set
//     keeps no reference to its argument.
//   - Capabilities: the provider implements [providers.Watcher],
//     [providers.Writer], [providers.ConditionalWriter],
//     [providers.Revoker] and [providers.Deleter] exactly when Caps says
//     so.
//   - Mutable: a Set after a Fetch is seen by the next Fetch; after Remove,
//     Fetch fails with [providers.ErrNotFound]; Set then re-creates it.
//   - Versioned: two fetches of the same data give the same version; a Set
//     of new data (when Mutable) gives a different one.
//   - CancelledContext: Fetch with a context already cancelled returns
//     within 10 s, with an error wrapping context.Canceled or with the right
//     value (a provider that does no I/O may serve it); any other error
//     fails.
//   - Concurrent: goroutines Fetch at once (and Write, and Watch then stop,
//     when the provider has those methods) while the test Sets, when
//     Mutable; every Fetch succeeds with data that was set, and equal
//     versions come with equal data. Run it with -race.
//   - Watch (when Watchable): changed is called within 10 s of a Set, a
//     Remove and a re-creating Set, never concurrently with itself; once
//     stop returns, changed is not called again, while another watch of the
//     same secret goes on; stop is idempotent; Close ends every watch, and
//     stop after Close returns.
//   - Write (when Writable): Fetch returns what Write stored, with the
//     version Write returned; Write keeps no reference to its argument;
//     Write creates a secret that did not exist.
//   - Conditional (when Conditional): WriteIf with the version Fetch
//     reported, and then with the version the last WriteIf returned,
//     succeeds and returns a new version, the one the next Fetch reports
//     with the data written; WriteIf keeps no reference to its argument.
//     WriteIf with a stale version, with a version never reported, and
//     with "" on a secret that exists fails with [providers.ErrConflict]
//     and changes nothing. WriteIf with "" on a secret that does not exist
//     creates it; with a version, it fails with [providers.ErrConflict] and
//     creates nothing, also (when Mutable) with the version of a secret
//     removed since.
//   - ConditionalConcurrent (when Conditional): 8 goroutines call WriteIf
//     at once, all on the version Fetch reported; exactly one succeeds,
//     the others fail with [providers.ErrConflict], and Fetch then returns
//     the winner's data and version; 5 rounds.
//   - Delete (when Deletable): after Delete, Fetch fails with
//     [providers.ErrNotFound], and so does Delete of what is not there.
//   - Revoke (when Revocable): Revoke of the current version succeeds;
//     Revoke of an unknown version, or of a secret that is not there, fails
//     with [providers.ErrNotFound].
//   - Close: Close returns nil, twice; after it Fetch and every optional
//     method (WriteIf too) fail with [providers.ErrClosed]; no goroutine that started
//     after the sub-test began is left (go.uber.org/goleak).
//   - CloseConcurrent: Fetch concurrent with Close returns the value or
//     [providers.ErrClosed], and only the latter once Close has returned.
//
// In every sub-test, no error the provider returns and no version it
// reports may contain a secret the sub-test set, and errors start with
// h.ErrorPrefix when that is set. The Watch sub-test calls h.Set after Close.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.Open == nil || h.Ref == nil || h.Set == nil || h.Remove == nil {
		t.Fatal("providertest: Harness.Open, Ref, Set and Remove are required")
	}
	if h.Caps.Conditional && !h.Caps.Versioned {
		t.Fatal("providertest: Caps.Conditional needs Caps.Versioned: WriteIf is conditioned on the versions Fetch reports")
	}
	for _, st := range []struct {
		name string
		run  func(*testing.T, Harness)
		skip string // why the sub-test does not apply, or ""
	}{
		{"Fetch", testFetch, ""},
		{"FetchMissing", testFetchMissing, ""},
		{"WrongScheme", testWrongScheme, ""},
		{"InvalidRefs", testInvalidRefs, unless(len(h.InvalidRefs) > 0, "Harness.InvalidRefs is empty")},
		{"Ownership", testOwnership, ""},
		{"Capabilities", testCapabilities, ""},
		{"Mutable", testMutable, unless(h.Caps.Mutable, "Caps.Mutable is not set")},
		{"Versioned", testVersioned, unless(h.Caps.Versioned, "Caps.Versioned is not set")},
		{"CancelledContext", testCancelledContext, ""},
		{"Concurrent", testConcurrent, ""},
		{"Watch", testWatch, unless(h.Caps.Watchable, "Caps.Watchable is not set")},
		{"Write", testWrite, unless(h.Caps.Writable, "Caps.Writable is not set")},
		{"Conditional", testConditional, unless(h.Caps.Conditional, "Caps.Conditional is not set")},
		{"ConditionalConcurrent", testConditionalConcurrent, unless(h.Caps.Conditional, "Caps.Conditional is not set")},
		{"Delete", testDelete, unless(h.Caps.Deletable, "Caps.Deletable is not set")},
		{"Revoke", testRevoke, unless(h.Caps.Revocable, "Caps.Revocable is not set")},
		{"Close", testClose, ""},
		{"CloseConcurrent", testCloseConcurrent, ""},
	} {
		t.Run(st.name, func(t *testing.T) {
			if st.skip != "" {
				t.Skip(st.skip)
			}
			st.run(t, h)
		})
	}
}

// unless returns why when ok is false, and "" otherwise.
func unless(ok bool, why string) string {
	if ok {
		return ""
	}
	return why
}

func testFetch(t *testing.T, h Harness) {
	f := open(t, h)
	want := f.set("alpha")
	f.expectData("alpha", want, "Fetch after Set").Wipe()
}

func testFetchMissing(t *testing.T, h Harness) {
	f := open(t, h)
	f.set("alpha")
	f.expectMissing("missing", "Fetch of a secret never set")
}

func testWrongScheme(t *testing.T, h Harness) {
	f := open(t, h)
	want := f.set("alpha")
	ref := f.ref("alpha")
	scheme := providers.Scheme(ref)
	if scheme == "" {
		t.Fatalf("providertest: Harness.Ref returned %q, which has no scheme", ref)
	}
	other := "providertest"
	if scheme == other {
		other += "x"
	}
	f.expectInvalid(other+ref[len(scheme):], want)
}

func testInvalidRefs(t *testing.T, h Harness) {
	f := open(t, h)
	want := f.set("alpha")
	for _, ref := range h.InvalidRefs {
		f.expectInvalid(ref, want)
	}
}

// expectInvalid checks that every method refuses ref with
// providers.ErrInvalidRef, and that the secret alpha still holds want.
func (f *fixture) expectInvalid(ref string, want []byte) {
	f.t.Helper()
	for _, o := range f.ops() {
		f.expectErr(o.call(f.t.Context(), ref), providers.ErrInvalidRef, fmt.Sprintf("%s(%q)", o.name, ref))
	}
	f.expectData("alpha", want, fmt.Sprintf("Fetch after the methods refused %q", ref)).Wipe()
}

func testOwnership(t *testing.T, h Harness) {
	f := open(t, h)
	want := f.set("alpha") // set overwrites what it gave Harness.Set
	first := f.expectData("alpha", want, "Fetch after Set (does the backend keep the slice given to Set?)")
	second := f.expectData("alpha", want, "second Fetch")
	scribble(first.Data)
	if first.Labels != nil {
		first.Labels["providertest"] = "added by the caller"
	}
	if !bytes.Equal(second.Data, want) {
		t.Errorf("providertest: overwriting the Data of one Fetch changed the Data of another to %q", second.Data)
	}
	first.Wipe()
	third := f.expectData("alpha", want, "Fetch after the caller overwrote and wiped the Data of an earlier one")
	for _, v := range []*providers.Value{second, third} {
		if _, ok := v.Labels["providertest"]; ok {
			t.Errorf("providertest: a label the caller added to one Value appears in another")
		}
		v.Wipe()
	}
}

func testCapabilities(t *testing.T, h Harness) {
	f := open(t, h)
	for _, c := range []struct {
		iface, flag string
		has, claims bool
	}{
		{"providers.Watcher", "Watchable", is[providers.Watcher](f.p), h.Caps.Watchable},
		{"providers.Writer", "Writable", is[providers.Writer](f.p), h.Caps.Writable},
		{"providers.ConditionalWriter", "Conditional", is[providers.ConditionalWriter](f.p), h.Caps.Conditional},
		{"providers.Revoker", "Revocable", is[providers.Revoker](f.p), h.Caps.Revocable},
		{"providers.Deleter", "Deletable", is[providers.Deleter](f.p), h.Caps.Deletable},
	} {
		if c.has != c.claims {
			t.Errorf("providertest: implements %s is %v, but Caps.%s is %v", c.iface, c.has, c.flag, c.claims)
		}
	}
}

// is reports whether p implements I.
func is[I any](p providers.Provider) bool {
	_, ok := p.(I)
	return ok
}

func testMutable(t *testing.T, h Harness) {
	f := open(t, h)
	f.expectData("alpha", f.set("alpha"), "Fetch after the first Set").Wipe()
	f.expectData("alpha", f.set("alpha"), "Fetch after a second Set").Wipe()
	f.remove("alpha")
	f.expectMissing("alpha", "Fetch after Remove")
	f.expectData("alpha", f.set("alpha"), "Fetch after Set re-created a removed secret").Wipe()
}

func testVersioned(t *testing.T, h Harness) {
	f := open(t, h)
	f.set("alpha")
	first := f.fetch("alpha", "first Fetch")
	second := f.fetch("alpha", "second Fetch")
	if first.Version != second.Version {
		t.Errorf("providertest: two fetches of unchanged data gave versions %q and %q", first.Version, second.Version)
	}
	if h.Caps.Mutable {
		f.set("alpha")
		third := f.fetch("alpha", "Fetch after a Set of new data")
		if third.Version == first.Version {
			t.Errorf("providertest: new data has the version %q of the old", third.Version)
		}
		third.Wipe()
	}
	first.Wipe()
	second.Wipe()
}
