package providertest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strongroom/strongroom/providers"
	"github.com/strongroom/strongroom/providers/memory"
	"github.com/strongroom/strongroom/providers/providertest"
)

// flawEnv names the flaw that TestFlawedProvider gives its provider, in the
// child process that TestSuiteFindsFlaws starts.
const flawEnv = "STRONGROOM_PROVIDERTEST_FLAW"

// TestSuiteFindsFlaws runs the suite, in a child process each, against the
// memory provider with one flaw, and checks that the sub-test meant to find
// the flaw fails (and that without a flaw, everything passes).
func TestSuiteFindsFlaws(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per flaw")
	}
	for _, tc := range []struct {
		flaw    string
		failing string // the sub-test that must fail; "" means none may
	}{
		{"none", ""},
		{"shared-data", "Ownership"},
		{"plain-not-found", "FetchMissing"},
		{"any-scheme", "WrongScheme"},
		{"leaky-errors", "FetchMissing"},
		{"no-prefix", "FetchMissing"},
		{"undeclared-watcher", "Capabilities"},
		{"stale", "Mutable"},
		{"constant-version", "Versioned"},
		{"cancel-error", "CancelledContext"},
		{"stop-ignored", "Watch/Stop"},
		{"retains-write", "Write"},
		{"writeif-unconditional", "Conditional"},
		{"writeif-racy", "ConditionalConcurrent"},
		{"delete-missing-ok", "Delete"},
		{"revoke-unknown-ok", "Revoke"},
		{"close-twice-errs", "Close"},
		{"close-noop", "Close"},
		{"goroutine-leak", "Close"},
	} {
		t.Run(tc.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestFlawedProvider$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), flawEnv+"="+tc.flaw)
			out, err := cmd.CombinedOutput()
			if tc.failing == "" {
				if err != nil {
					t.Fatalf("the suite failed a provider without flaws: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("the suite passed a provider with the flaw %q\n%s", tc.flaw, out)
			}
			if want := "--- FAIL: TestFlawedProvider/" + tc.failing + " "; !bytes.Contains(out, []byte(want)) {
				t.Errorf("output lacks %q\n%s", want, out)
			}
		})
	}
}

// TestFlawedProvider runs the suite against a flawed provider; it runs only
// in a child process of TestSuiteFindsFlaws.
func TestFlawedProvider(t *testing.T) {
	flaw, ok := os.LookupEnv(flawEnv)
	if !ok {
		t.Skip("runs in a child process of TestSuiteFindsFlaws")
	}
	var p *flawed
	caps := providertest.Capabilities{
		Mutable: true, Watchable: true, Versioned: true,
		Writable: true, Revocable: true, Deletable: true,
		Conditional: true,
	}
	if flaw == "undeclared-watcher" {
		caps.Watchable = false
	}
	providertest.Run(t, providertest.Harness{
		Open: func(t *testing.T) providers.Provider {
			p = &flawed{Provider: memory.New(nil), flaw: flaw, kept: make(map[string][]byte)}
			if flaw == "goroutine-leak" {
				go func() { select {} }()
			}
			return p
		},
		Ref: func(t *testing.T, name string) string { return memory.Ref(name) },
		Set: func(t *testing.T, name string, data []byte) {
			p.mu.Lock()
			p.last = bytes.Clone(data)
			p.mu.Unlock()
			p.Set(name, data, nil)
		},
		Remove:      func(t *testing.T, name string) { p.Remove(name) },
		InvalidRefs: []string{"memory://"},
		Caps:        caps,
		ErrorPrefix: "providers/memory: ",
	})
}

// flawed is the memory provider with one flaw.
type flawed struct {
	*memory.Provider
	flaw string

	mu     sync.Mutex
	last   []byte            // the data of the latest Set
	kept   map[string][]byte // data kept by reference, per ref
	closes int
}

func (p *flawed) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	if i := strings.Index(ref, "://"); p.flaw == "any-scheme" && i >= 0 {
		ref = memory.Ref(ref[i+3:])
	}
	if p.flaw == "cancel-error" && ctx.Err() != nil {
		return nil, errors.New("providers/memory: something went wrong")
	}
	v, err := p.Provider.Fetch(ctx, ref)
	if err != nil {
		return nil, p.mangle(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch kept := p.kept[ref]; p.flaw {
	case "shared-data":
		if bytes.Equal(kept, v.Data) {
			v.Data = kept
		}
		p.kept[ref] = v.Data
	case "stale":
		if kept == nil {
			p.kept[ref] = bytes.Clone(v.Data)
		} else {
			v.Data = bytes.Clone(kept)
		}
	case "retains-write":
		if kept != nil {
			v.Data = bytes.Clone(kept)
		}
	case "constant-version":
		v.Version = "v"
	}
	return v, nil
}

// mangle spoils an error the way the flaw says.
func (p *flawed) mangle(err error) error {
	switch {
	case p.flaw == "plain-not-found" && errors.Is(err, providers.ErrNotFound):
		return errors.New("providers/memory: no such secret")
	case p.flaw == "leaky-errors":
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("%w (the latest value is %s)", err, p.last)
	case p.flaw == "no-prefix":
		return fmt.Errorf("memory: %w", err)
	}
	return err
}

func (p *flawed) Watch(ctx context.Context, ref string, changed func()) (func(), error) {
	stop, err := p.Provider.Watch(ctx, ref, changed)
	if p.flaw == "stop-ignored" && err == nil {
		return func() {}, nil
	}
	return stop, err
}

func (p *flawed) Write(ctx context.Context, ref string, data []byte) (string, error) {
	if p.flaw == "retains-write" {
		p.mu.Lock()
		p.kept[ref] = data
		p.mu.Unlock()
	}
	return p.Provider.Write(ctx, ref, data)
}

func (p *flawed) WriteIf(ctx context.Context, ref string, data []byte, ifVersion string) (string, error) {
	switch p.flaw {
	case "writeif-unconditional":
		return p.Provider.Write(ctx, ref, data)
	case "writeif-racy": // checks, then writes, with no lock around both
		current := ""
		v, err := p.Provider.Fetch(ctx, ref)
		switch {
		case err == nil:
			current = v.Version
			v.Wipe()
		case !errors.Is(err, providers.ErrNotFound):
			return "", err
		}
		if current != ifVersion {
			return "", fmt.Errorf("providers/memory: conditional write: %w", providers.ErrConflict)
		}
		time.Sleep(5 * time.Millisecond)
		return p.Provider.Write(ctx, ref, data)
	}
	return p.Provider.WriteIf(ctx, ref, data, ifVersion)
}

func (p *flawed) Delete(ctx context.Context, ref string) error {
	err := p.Provider.Delete(ctx, ref)
	if p.flaw == "delete-missing-ok" && errors.Is(err, providers.ErrNotFound) {
		return nil
	}
	return err
}

func (p *flawed) Revoke(ctx context.Context, ref, version string) error {
	err := p.Provider.Revoke(ctx, ref, version)
	if p.flaw == "revoke-unknown-ok" && errors.Is(err, providers.ErrNotFound) {
		return nil
	}
	return err
}

func (p *flawed) Close() error {
	switch p.flaw {
	case "close-noop":
		return nil
	case "close-twice-errs":
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closes++; p.closes > 1 {
			return errors.New("providers/memory: already closed")
		}
	}
	return p.Provider.Close()
}
