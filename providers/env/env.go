package env

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/strongroom/strongroom/internal/vhash"
	"github.com/strongroom/strongroom/providers"
)

// Options configures a [Provider]. A nil *Options means the defaults.
type Options struct {
	// Unset removes each variable from the process environment, with
	// Unsetenv, after its first successful fetch; later fetches of it fail
	// with [providers.ErrNotFound] (see the package documentation for what
	// that means to the store, and for what Unset cannot erase). False: the
	// environment is left as it is.
	Unset bool

	// Lookup reads a variable. Nil: os.LookupEnv. It exists for tests and
	// sandboxes (a map, or a filtered view of the environment) and must be
	// safe for concurrent use.
	Lookup func(name string) (value string, ok bool)

	// Unsetenv removes a variable, when Unset is true. Nil: os.Unsetenv. It
	// exists for tests and sandboxes, together with Lookup.
	Unsetenv func(name string) error
}

// Provider reads environment variables. Create it with [New].
type Provider struct {
	lookup   func(string) (string, bool)
	unsetenv func(string) error
	unset    bool
	hasher   *vhash.Hasher
	closed   atomic.Bool
	mu       sync.Mutex // serialises lookup and unset when unset is true
}

// New returns a provider of the process environment, or of the one that
// opts.Lookup gives.
func New(opts *Options) *Provider {
	if opts == nil {
		opts = new(Options)
	}
	p := &Provider{
		lookup:   opts.Lookup,
		unsetenv: opts.Unsetenv,
		unset:    opts.Unset,
		hasher:   vhash.New(),
	}
	if p.lookup == nil {
		p.lookup = os.LookupEnv
	}
	if p.unsetenv == nil {
		p.unsetenv = os.Unsetenv
	}
	return p
}

// Fetch returns a copy of the value of the variable that ref names, and,
// with [Options].Unset, removes the variable. A variable that is not set
// gives an error wrapping [providers.ErrNotFound]; one set to "" gives an
// empty value. Fetch does no I/O; it fails if ctx has already ended.
func (p *Provider) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	name, err := parseRef(ref)
	if err != nil {
		return nil, err
	}
	if p.closed.Load() {
		return nil, fetchError(name, providers.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fetchError(name, err)
	}
	if p.unset {
		p.mu.Lock()
		defer p.mu.Unlock()
	}
	s, ok := p.lookup(name)
	if !ok {
		return nil, fetchError(name, providers.ErrNotFound)
	}
	data := []byte(s)
	if p.unset {
		if err := p.unsetenv(name); err != nil {
			clear(data)
			return nil, fmt.Errorf("providers/env: fetch %s: unset the variable: %w: %w", Ref(name), providers.ErrPermission, err)
		}
	}
	return &providers.Value{Data: data, Version: p.hasher.Version(data)}, nil
}

// Close makes later fetches fail with [providers.ErrClosed]. The provider
// starts no goroutines. Close is idempotent and returns nil.
func (p *Provider) Close() error {
	p.closed.Store(true)
	return nil
}

// fetchError is the error of a fetch of the variable name, wrapping err.
func fetchError(name string, err error) error {
	return fmt.Errorf("providers/env: fetch %s: %w", Ref(name), err)
}

// String describes the provider.
func (p *Provider) String() string {
	if p == nil {
		return "<nil>"
	}
	if p.unset {
		return "env.Provider{unset after reading}"
	}
	return "env.Provider"
}

// Format writes String for every fmt verb (fmt would otherwise read the
// provider's lock while others write it).
func (p *Provider) Format(f fmt.State, _ rune) { io.WriteString(f, p.String()) }
