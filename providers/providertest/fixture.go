package providertest

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
)

const (
	// eventually bounds the wait for something that must happen.
	eventually = 10 * time.Second
	// quiet is how long the suite waits for something that must not happen
	// to show up anyway.
	quiet = 250 * time.Millisecond
)

// fixture is one sub-test's provider and the fake secrets set through it.
// Its methods that take no *testing.T of their own must be called from the
// sub-test's goroutine, except checkErr, isSecret and secret.
type fixture struct {
	t *testing.T
	h Harness
	p providers.Provider

	mu      sync.Mutex
	secrets map[string]bool // every fake secret made, by value
	made    int
}

// open opens a provider for t and closes it when t ends.
func open(t *testing.T, h Harness) *fixture {
	t.Helper()
	f := &fixture{t: t, h: h, secrets: make(map[string]bool)}
	f.p = h.Open(t)
	if f.p == nil {
		t.Fatal("providertest: Harness.Open returned nil")
	}
	t.Cleanup(func() { f.p.Close() }) // whether Close works is the Close sub-test's business
	return f
}

// secret returns a new recognisable fake secret for name and remembers it.
func (f *fixture) secret(name string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made++
	s := fmt.Sprintf("pt-secret.%s.%d.Kq7Zx2Wv", name, f.made)
	f.secrets[s] = true
	return []byte(s)
}

// isSecret reports whether data is one of the fake secrets made so far.
func (f *fixture) isSecret(data []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[string(data)]
}

// leaks reports the first fake secret that s contains, as text or in hex.
func (f *fixture) leaks(s string) (secret string, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lower := strings.ToLower(s)
	for secret := range f.secrets {
		if strings.Contains(s, secret) || strings.Contains(lower, hex.EncodeToString([]byte(secret))) {
			return secret, true
		}
	}
	return "", false
}

// set makes a new fake secret the value of name at the backend, overwrites
// the slice it gave to Harness.Set, and returns a copy of the secret.
func (f *fixture) set(name string) []byte {
	f.t.Helper()
	data := f.secret(name)
	want := bytes.Clone(data)
	f.h.Set(f.t, name, data)
	scribble(data)
	return want
}

// remove deletes name at the backend.
func (f *fixture) remove(name string) {
	f.t.Helper()
	f.h.Remove(f.t, name)
}

// ref returns the reference of name.
func (f *fixture) ref(name string) string {
	f.t.Helper()
	return f.h.Ref(f.t, name)
}

// checkErr reports an error message that gives a secret away or lacks the
// provider's prefix. It is safe to call from any goroutine.
func (f *fixture) checkErr(err error, what string) {
	if err == nil {
		return
	}
	msg := err.Error()
	if p := f.h.ErrorPrefix; p != "" && !strings.HasPrefix(msg, p) {
		f.t.Errorf("providertest: %s: error %q does not start with %q", what, msg, p)
	}
	if secret, ok := f.leaks(msg); ok {
		f.t.Errorf("providertest: %s: error %q contains the secret %q", what, msg, secret)
	}
}

// expectErr reports err unless it wraps target. It is safe to call from any
// goroutine.
func (f *fixture) expectErr(err, target error, what string) {
	if err == nil {
		f.t.Errorf("providertest: %s: got no error, want one wrapping %q", what, target)
		return
	}
	f.checkErr(err, what)
	if !errors.Is(err, target) {
		f.t.Errorf("providertest: %s: got error %q, want one wrapping %q", what, err, target)
	}
}

// checkVersion reports a version that is missing although the provider is
// versioned, or that gives a secret away.
func (f *fixture) checkVersion(version, what string) {
	if f.h.Caps.Versioned && version == "" {
		f.t.Errorf("providertest: %s: empty version, but Caps.Versioned is set", what)
	}
	if secret, ok := f.leaks(version); ok {
		f.t.Errorf("providertest: %s: version %q contains the secret %q", what, version, secret)
	}
}

// fetch fetches name and stops the test if that fails.
func (f *fixture) fetch(name, what string) *providers.Value {
	f.t.Helper()
	ref := f.ref(name)
	v, err := f.p.Fetch(f.t.Context(), ref)
	if err != nil {
		f.checkErr(err, what)
		f.t.Fatalf("providertest: %s: Fetch(%q): %v", what, ref, err)
	}
	if v == nil {
		f.t.Fatalf("providertest: %s: Fetch(%q) returned neither a value nor an error", what, ref)
	}
	f.checkVersion(v.Version, what)
	return v
}

// expectData fetches name and reports data other than want.
func (f *fixture) expectData(name string, want []byte, what string) *providers.Value {
	f.t.Helper()
	v := f.fetch(name, what)
	if !bytes.Equal(v.Data, want) {
		f.t.Errorf("providertest: %s: Fetch(%q) returned %q, want %q", what, f.ref(name), v.Data, want)
	}
	return v
}

// expectMissing reports a Fetch of name that does not fail with
// providers.ErrNotFound.
func (f *fixture) expectMissing(name, what string) {
	f.t.Helper()
	v, err := f.p.Fetch(f.t.Context(), f.ref(name))
	v.Wipe()
	f.expectErr(err, providers.ErrNotFound, what)
}

// close closes the provider, failing the test if that takes too long, and
// returns Close's error.
func (f *fixture) close(what string) (err error) {
	f.t.Helper()
	within(f.t, what, func() { err = f.p.Close() })
	f.checkErr(err, what)
	return err
}

// op is one provider method that takes a reference, for the rules that hold
// for every such method.
type op struct {
	name string
	call func(ctx context.Context, ref string) error
}

// ops returns the methods that the provider has, among Fetch and those of
// the optional interfaces.
func (f *fixture) ops() []op {
	ops := []op{{"Fetch", func(ctx context.Context, ref string) error {
		v, err := f.p.Fetch(ctx, ref)
		v.Wipe()
		return err
	}}}
	if w, ok := f.p.(providers.Watcher); ok {
		ops = append(ops, op{"Watch", func(ctx context.Context, ref string) error {
			stop, err := w.Watch(ctx, ref, func() {})
			if err == nil {
				stop()
			}
			return err
		}})
	}
	if w, ok := f.p.(providers.Writer); ok {
		ops = append(ops, op{"Write", func(ctx context.Context, ref string) error {
			_, err := w.Write(ctx, ref, f.secret("write"))
			return err
		}})
	}
	if w, ok := f.p.(providers.ConditionalWriter); ok {
		ops = append(ops, op{"WriteIf", func(ctx context.Context, ref string) error {
			_, err := w.WriteIf(ctx, ref, f.secret("write"), "")
			return err
		}})
	}
	if d, ok := f.p.(providers.Deleter); ok {
		ops = append(ops, op{"Delete", d.Delete})
	}
	if r, ok := f.p.(providers.Revoker); ok {
		ops = append(ops, op{"Revoke", func(ctx context.Context, ref string) error {
			return r.Revoke(ctx, ref, "1")
		}})
	}
	return ops
}

// within runs fn and stops the test if fn has not returned after
// eventually; fn must not call t.Fatal.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(eventually):
		t.Fatalf("providertest: %s did not return within %v", what, eventually)
	}
}

// scribble overwrites b, as a caller that reuses its buffer would.
func scribble(b []byte) {
	for i := range b {
		b[i] = 'X'
	}
}

// as returns p as an I, stopping the test if p does not implement it.
func as[I any](t *testing.T, p providers.Provider) I {
	t.Helper()
	i, ok := p.(I)
	if !ok {
		t.Fatalf("providertest: the provider does not implement %v, but Caps says it should", reflect.TypeFor[I]())
	}
	return i
}
