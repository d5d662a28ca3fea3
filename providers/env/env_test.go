package env_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/env"
)

// fakeEnv is an environment for Options.Lookup and Options.Unsetenv.
type fakeEnv struct {
	mu      sync.Mutex
	vars    map[string]string
	lookups []string
	fail    error // returned by unsetenv
}

func (e *fakeEnv) lookup(name string) (string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lookups = append(e.lookups, name)
	v, ok := e.vars[name]
	return v, ok
}

func (e *fakeEnv) unsetenv(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return e.fail
	}
	delete(e.vars, name)
	return nil
}

func (e *fakeEnv) options(unset bool) *env.Options {
	return &env.Options{Unset: unset, Lookup: e.lookup, Unsetenv: e.unsetenv}
}

func TestRefForms(t *testing.T) {
	for _, tc := range []struct {
		ref, looked string // looked: the variable looked up, or "" for an invalid ref
	}{
		{"env://DB_PASSWORD", "DB_PASSWORD"},
		{"env:DB_PASSWORD", "DB_PASSWORD"},
		{"ENV://db_password", "db_password"},
		{"Env:_x9", "_x9"},
		{"env://A", "A"},
		{"env:9A", ""},
		{"env:/A", ""},
		{"env://A.B", ""},
		{"file://A", ""},
		{"A", ""},
		{"", ""},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			e := &fakeEnv{vars: map[string]string{}}
			p := env.New(e.options(false))
			_, err := p.Fetch(t.Context(), tc.ref)
			if tc.looked == "" {
				if !errors.Is(err, providers.ErrInvalidRef) || len(e.lookups) != 0 {
					t.Errorf("Fetch(%q) = %v after looking up %q; want ErrInvalidRef and no lookup", tc.ref, err, e.lookups)
				}
				return
			}
			if !errors.Is(err, providers.ErrNotFound) || len(e.lookups) != 1 || e.lookups[0] != tc.looked {
				t.Errorf("Fetch(%q) = %v after looking up %q; want ErrNotFound after looking up %q", tc.ref, err, e.lookups, tc.looked)
			}
		})
	}
}

func TestEmptyValueIsFound(t *testing.T) {
	e := &fakeEnv{vars: map[string]string{"EMPTY": ""}}
	v, err := env.New(e.options(false)).Fetch(t.Context(), "env://EMPTY")
	if err != nil || len(v.Data) != 0 || v.Version == "" {
		t.Errorf("Fetch of a variable set to \"\" = %+v, %v; want an empty value with a version", v, err)
	}
}

func TestUnsetRemovesAfterFirstFetch(t *testing.T) {
	const name = "STRONGROOM_ENVTEST_UNSET"
	t.Setenv(name, "s3cr3t")
	p := env.New(&env.Options{Unset: true})
	defer p.Close()
	v, err := p.Fetch(t.Context(), env.Ref(name))
	if err != nil || string(v.Data) != "s3cr3t" {
		t.Fatalf("first Fetch = %v, %v; want the value", v, err)
	}
	if _, ok := os.LookupEnv(name); ok {
		t.Error("the variable is still in the environment after a fetch with Unset")
	}
	if _, err := p.Fetch(t.Context(), env.Ref(name)); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("second Fetch: %v, want ErrNotFound", err)
	}
}

func TestUnsetGivesTheValueToOneFetch(t *testing.T) {
	const workers = 16
	e := &fakeEnv{vars: map[string]string{"TOKEN": "t0k3n"}}
	p := env.New(e.options(true))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		got      int
		notFound int
	)
	for range workers {
		wg.Go(func() {
			v, err := p.Fetch(context.Background(), "env:TOKEN")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && string(v.Data) == "t0k3n":
				got++
			case errors.Is(err, providers.ErrNotFound):
				notFound++
			default:
				t.Errorf("Fetch = %v, %v", v, err)
			}
		})
	}
	wg.Wait()
	if got != 1 || notFound != workers-1 {
		t.Errorf("%d fetches got the value and %d found nothing; want 1 and %d", got, notFound, workers-1)
	}
}

func TestUnsetFailureWithholdsTheValue(t *testing.T) {
	errSandbox := errors.New("sandbox: read-only environment")
	e := &fakeEnv{vars: map[string]string{"TOKEN": "t0k3n"}, fail: errSandbox}
	v, err := env.New(e.options(true)).Fetch(t.Context(), "env://TOKEN")
	if v != nil || !errors.Is(err, errSandbox) || !errors.Is(err, providers.ErrPermission) {
		t.Fatalf("Fetch = %v, %v; want no value and an error wrapping ErrPermission and the Unsetenv error", v, err)
	}
	if msg := err.Error(); strings.Contains(msg, "t0k3n") || !strings.HasPrefix(msg, "providers/env: ") {
		t.Errorf("error %q: want the package prefix and no value", msg)
	}
}

func TestVersions(t *testing.T) {
	e := &fakeEnv{vars: map[string]string{"A": "same", "B": "same", "C": "other"}}
	p := env.New(e.options(false))
	version := func(p *env.Provider, ref string) string {
		t.Helper()
		v, err := p.Fetch(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(v.Version, string(v.Data)) {
			t.Errorf("version %q contains the value", v.Version)
		}
		return v.Version
	}
	a, b, c := version(p, "env:A"), version(p, "env:B"), version(p, "env:C")
	if a != b || a == c {
		t.Errorf("versions of same, same, other = %q, %q, %q; want equal, equal, different", a, b, c)
	}
	if other := version(env.New(e.options(false)), "env:A"); other == a {
		t.Errorf("two providers gave the same value the same version %q; the key must be per provider", a)
	}
}
