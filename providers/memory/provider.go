package memory

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// Options configures a [Provider]. A nil *Options means the defaults.
type Options struct {
	// Clock is the provider's source of time: for TTLs, creation times and
	// latency. A [*Clock] fits, and so does any
	// [github.com/strongroom/strongroom/secrets.Clock]. Nil: the wall
	// clock.
	Clock interface {
		Now() time.Time
		AfterFunc(d time.Duration, f func()) (stop func() bool)
	}
}

// SetOptions are the metadata of a value given to [Provider.Set]. A nil
// *SetOptions means none.
type SetOptions struct {
	// TTL, when positive, makes the value expire at the provider clock's
	// Now()+TTL, overriding ExpiresAt.
	TTL time.Duration
	// ExpiresAt is reported as [providers.Value].ExpiresAt. Zero: no
	// expiry. The provider goes on serving a value past its expiry, as a
	// lagging backend may; refusing it is the store's job.
	ExpiresAt time.Time
	// CreatedAt is reported as [providers.Value].CreatedAt. Zero: the
	// provider clock's Now() at the time of Set.
	CreatedAt time.Time
	// Labels are reported as [providers.Value].Labels; Set copies the map.
	// Nil: none.
	Labels map[string]string
}

// Provider is the in-memory provider. Create it with [New]; its zero value
// is not usable.
type Provider struct {
	clock interface {
		Now() time.Time
		AfterFunc(d time.Duration, f func()) (stop func() bool)
	}
	done chan struct{} // closed by Close: wakes fetches waiting out a latency

	mu        sync.Mutex
	closed    bool
	entries   map[string]*entry
	seqs      map[string]int // last version number issued per name; outlives Remove
	fails     map[string]*script
	corrupts  map[string]*script
	corruptID int
	latency   map[string]time.Duration
	fetches   map[string]int
	revoked   map[string][]string
	watches   map[string]*watch // a list per name, through watch.next

	watchesClosed atomic.Bool    // set by Close: no changed call starts after
	watchRuns     sync.WaitGroup // goroutines running changed
}

// entry is the current value of one name.
type entry struct {
	data      []byte
	seq       int // version number of data
	first     int // version number that created the entry: first..seq are known
	revoked   map[int]bool
	expiresAt time.Time
	createdAt time.Time
	labels    map[string]string
}

// New returns an empty provider.
func New(opts *Options) *Provider {
	p := &Provider{
		clock:    wallClock{},
		done:     make(chan struct{}),
		entries:  make(map[string]*entry),
		seqs:     make(map[string]int),
		fails:    make(map[string]*script),
		corrupts: make(map[string]*script),
		latency:  make(map[string]time.Duration),
		fetches:  make(map[string]int),
		revoked:  make(map[string][]string),
		watches:  make(map[string]*watch),
	}
	if opts != nil && opts.Clock != nil {
		p.clock = opts.Clock
	}
	return p
}

// Set makes data the current value of name, creating name if needed, and
// returns the new version. Set copies data and wipes the copy it replaces.
// It signals the watches of name. After Close, Set does nothing and
// returns "".
func (p *Provider) Set(name string, data []byte, opts *SetOptions) (version string) {
	now := p.clock.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ""
	}
	return p.storeLocked(name, data, opts, now)
}

// Remove deletes name and wipes its value, signalling its watches. Removing
// a name that does not exist does nothing.
func (p *Provider) Remove(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removeLocked(name)
}

// Fetch returns a fresh copy of the current value of ref, unless a fault
// scripted for it says otherwise. It counts in [Provider.Fetches] once the
// reference is valid, ctx has not ended and the provider is open. It waits out the latency set
// with [Provider.SetLatency] on the provider's clock, returning early when
// ctx ends or the provider closes. A revoked current version fails with
// an error wrapping [providers.ErrNotFound] until a new value is set.
func (p *Provider) Fetch(ctx context.Context, ref string) (*providers.Value, error) {
	name, err := p.lockOpen(ctx, "fetch", ref)
	if err != nil {
		return nil, err
	}
	p.fetches[name]++
	delay, ok := p.latency[name]
	if !ok {
		delay = p.latency[""]
	}
	p.mu.Unlock()

	if delay > 0 {
		if err := p.sleep(ctx, delay); err != nil {
			return nil, opError("fetch", ref, err)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, opError("fetch", ref, providers.ErrClosed)
	}
	if s := takeLocked(p.fails, name); s != nil {
		return nil, opError("fetch", ref, s.err)
	}
	e := p.entries[name]
	if e == nil {
		return nil, opError("fetch", ref, providers.ErrNotFound)
	}
	if e.revoked[e.seq] {
		return nil, fmt.Errorf("providers/memory: fetch %s: version %d is revoked: %w", ref, e.seq, providers.ErrNotFound)
	}
	v := &providers.Value{
		Data:      bytes.Clone(e.data),
		Version:   strconv.Itoa(e.seq),
		ExpiresAt: e.expiresAt,
		CreatedAt: e.createdAt,
		Labels:    maps.Clone(e.labels),
	}
	p.corruptLocked(name, v)
	return v, nil
}

// Close wipes every stored value, ends every watch and waits for the watch
// goroutines to return. Fetches waiting out a latency return an error
// wrapping [providers.ErrClosed]. Afterwards Fetch, Watch, Write, WriteIf,
// Revoke and Delete fail with [providers.ErrClosed], Set stores nothing, and
// [Provider.Fetches] and [Provider.Revoked] still answer. Close is
// idempotent and always returns nil.
func (p *Provider) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	close(p.done)
	for _, e := range p.entries {
		clear(e.data)
	}
	clear(p.entries)
	for name := range p.corrupts {
		p.healCorruptionLocked(name)
	}
	// Every watch ends at once: a goroutine running changed sees
	// watchesClosed and returns, and no signal starts another (Set and
	// the rest do nothing once closed). A million watches are not each
	// visited.
	p.watchesClosed.Store(true)
	clear(p.watches)
	p.mu.Unlock()
	p.watchRuns.Wait()
	return nil
}

// storeLocked makes data the current value of name and signals its watches.
func (p *Provider) storeLocked(name string, data []byte, opts *SetOptions, now time.Time) string {
	if opts == nil {
		opts = new(SetOptions)
	}
	p.seqs[name]++
	seq := p.seqs[name]
	e := p.entries[name]
	if e == nil {
		e = &entry{first: seq}
		p.entries[name] = e
	}
	clear(e.data)
	e.data = bytes.Clone(data)
	if e.data == nil {
		e.data = []byte{}
	}
	e.seq = seq
	e.expiresAt = opts.ExpiresAt
	if opts.TTL > 0 {
		e.expiresAt = now.Add(opts.TTL)
	}
	e.createdAt = opts.CreatedAt
	if e.createdAt.IsZero() {
		e.createdAt = now
	}
	e.labels = maps.Clone(opts.Labels)
	p.notifyLocked(name)
	return strconv.Itoa(seq)
}

// removeLocked deletes name, if it exists, and signals its watches.
func (p *Provider) removeLocked(name string) bool {
	if p.entries[name] == nil {
		return false
	}
	p.wipeLocked(name)
	p.notifyLocked(name)
	return true
}

// wipeLocked wipes and forgets the value of name.
func (p *Provider) wipeLocked(name string) {
	if e := p.entries[name]; e != nil {
		clear(e.data)
		delete(p.entries, name)
	}
}

// sleep waits d on the provider's clock, or until ctx ends or the provider
// closes.
//
// When the provider's clock is a [*Clock] and ctx carries a hold on it
// (see [Clock.Hold]), the hold is set aside while waiting, so that the
// clock can move, and taken back by the timer that ends the wait, before
// the fetch goes on, so that the clock waits for the rest of it.
func (p *Provider) sleep(ctx context.Context, d time.Duration) error {
	var h *hold
	if c, ok := p.clock.(*Clock); ok {
		h = c.heldBy(ctx)
	}
	fired := make(chan struct{})
	stop := p.clock.AfterFunc(d, func() {
		if h != nil {
			h.resume()
		}
		close(fired)
	})
	defer stop()
	if h != nil {
		h.setAside()
		defer h.resume() // the wait ended otherwise: ctx, or Close
	}
	select {
	case <-fired:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return providers.ErrClosed
	}
}

// opError is the error of operation op on ref, wrapping err.
func opError(op, ref string, err error) error {
	return fmt.Errorf("providers/memory: %s %s: %w", op, ref, err)
}

// wallClock is the real clock, the default.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}
