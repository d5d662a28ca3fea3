package providertest

import (
	"bytes"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/providers"
)

// conditionalRounds and conditionalWorkers size ConditionalConcurrent: so
// many rounds of so many goroutines that WriteIf on the same version.
const conditionalRounds, conditionalWorkers = 5, 8

func testConditional(t *testing.T, h Harness) {
	f := open(t, h)
	w := as[providers.ConditionalWriter](t, f.p)
	ctx := t.Context()
	f.set("alpha")
	v := f.fetch("alpha", "Fetch before WriteIf")
	stale := v.Version
	v.Wipe()

	// writeIf conditions a write of a new secret on ifVersion, and
	// returns the secret and the outcome.
	writeIf := func(name, ifVersion string) (want []byte, version string, err error) {
		data := f.secret(name)
		want = bytes.Clone(data)
		version, err = w.WriteIf(ctx, f.ref(name), data, ifVersion)
		scribble(data) // WriteIf must not have kept it
		return want, version, err
	}
	// expectWritten checks a WriteIf that must have succeeded, and returns
	// the version it returned.
	expectWritten := func(name string, want []byte, version string, err error, what string) string {
		t.Helper()
		if err != nil {
			f.checkErr(err, what)
			t.Fatalf("providertest: %s: %v", what, err)
		}
		f.checkVersion(version, what)
		v := f.expectData(name, want, "Fetch after "+what)
		if v.Version != version {
			t.Errorf("providertest: %s returned version %q, but Fetch reports %q", what, version, v.Version)
		}
		v.Wipe()
		return version
	}
	// expectConflict checks a WriteIf that must have failed with
	// ErrConflict and left name holding was (nil: missing).
	expectConflict := func(name string, was []byte, err error, what string) {
		t.Helper()
		f.expectErr(err, providers.ErrConflict, what)
		if was == nil {
			f.expectMissing(name, "Fetch after "+what)
			return
		}
		f.expectData(name, was, "Fetch after "+what).Wipe()
	}

	want, version, err := writeIf("alpha", stale)
	current := expectWritten("alpha", want, version, err, "WriteIf with the version Fetch reported")
	if current == stale {
		t.Errorf("providertest: WriteIf of new data returned the version %q of the old", current)
	}
	want, version, err = writeIf("alpha", current)
	current = expectWritten("alpha", want, version, err, "WriteIf with the version the last WriteIf returned")
	was := want

	_, _, err = writeIf("alpha", stale)
	expectConflict("alpha", was, err, "WriteIf with a stale version")
	_, _, err = writeIf("alpha", "providertest-unknown-version")
	expectConflict("alpha", was, err, "WriteIf with a version never reported")
	_, _, err = writeIf("alpha", "")
	expectConflict("alpha", was, err, `WriteIf with version "" of a secret that exists`)

	_, _, err = writeIf("created", current)
	expectConflict("created", nil, err, "WriteIf with a version of a secret that does not exist")
	want, version, err = writeIf("created", "")
	expectWritten("created", want, version, err, `WriteIf with version "" of a secret that does not exist`)

	if h.Caps.Mutable {
		f.remove("alpha")
		_, _, err = writeIf("alpha", current)
		expectConflict("alpha", nil, err, "WriteIf with the version of a removed secret")
		want, version, err = writeIf("alpha", "")
		expectWritten("alpha", want, version, err, `WriteIf with version "" of a removed secret`)
	}
}

func testConditionalConcurrent(t *testing.T, h Harness) {
	f := open(t, h)
	w := as[providers.ConditionalWriter](t, f.p)
	ctx, ref := t.Context(), f.ref("alpha")
	f.set("alpha")
	for round := range conditionalRounds {
		v := f.fetch("alpha", "Fetch before concurrent WriteIf")
		ifVersion := v.Version
		v.Wipe()
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			mu      sync.Mutex
			won     int
			winner  []byte
			version string
		)
		for range conditionalWorkers {
			data := f.secret("alpha")
			wg.Go(func() {
				<-start
				got, err := w.WriteIf(ctx, ref, bytes.Clone(data), ifVersion)
				if err != nil {
					f.expectErr(err, providers.ErrConflict, "WriteIf that lost to a concurrent one")
					return
				}
				mu.Lock()
				defer mu.Unlock()
				won++
				winner, version = data, got
			})
		}
		close(start)
		wg.Wait()
		if won != 1 {
			t.Fatalf("providertest: round %d: %d of %d concurrent WriteIf calls on version %q succeeded, want exactly 1", round+1, won, conditionalWorkers, ifVersion)
		}
		v = f.expectData("alpha", winner, "Fetch after concurrent WriteIf")
		if v.Version != version {
			t.Errorf("providertest: the WriteIf that succeeded returned version %q, but Fetch reports %q", version, v.Version)
		}
		v.Wipe()
	}
}
