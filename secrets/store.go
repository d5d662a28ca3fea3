package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/strongroom/strongroom/internal/backoff"
	"github.com/strongroom/strongroom/internal/busy"
	"github.com/strongroom/strongroom/internal/epoch"
	"github.com/strongroom/strongroom/internal/fanout"
	"github.com/strongroom/strongroom/internal/guard"
	"github.com/strongroom/strongroom/internal/tally"
	"github.com/strongroom/strongroom/providers"
)

// Store holds secrets: it loads them from providers into sealed memory,
// keeps them fresh in the background, and tells subscribers when they
// change. Make one with [Open]; it is safe for concurrent use.
type Store struct {
	opts      Options
	providers map[string]providers.Provider
	clock     Clock
	log       *slog.Logger
	guard     *guard.Guard
	tel       *telemetry
	hub       fanout.Hub[Event]
	sched     scheduler

	rand *backoff.Rand // jitter and backoff

	// entries maps names to *entry. Reads are lock-free (sync.Map reads
	// neither lock nor allocate); mu serialises the writers.
	entries sync.Map
	mu      sync.Mutex

	annotMu sync.Mutex
	annots  map[string][]*annotator // by secret name: Store.Annotate

	sweepDue  atomic.Bool  // some secret was read since the last read sweep
	sweepFrom atomic.Int64 // unix ns of that read: the sweep is due readSweep later

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
	bg        sync.WaitGroup // the scheduler, fetches and Create calls
	pending   sync.WaitGroup // destroyed versions whose wipe waits for a Use
	readers   *epoch.Domain  // Use calls under way, for those wipes
	tally     *tally.Tally   // reads not yet added to their entry's counters

	polMu    sync.Mutex
	policies map[policyKey]*policy // shared by entries declared alike
}

// Open makes a Store. It fails with an error matching ErrLockedMemory when
// no memory can be locked and opts.AllowUnlockedMemory is false, and with
// ErrInvalid on a bad option. The providers in opts belong to the Store from
// the call on: Close closes them, and so does Open when it fails. Open
// starts one background goroutine; Close stops it.
func Open(ctx context.Context, opts *Options) (*Store, error) {
	s, err := open(ctx, opts)
	if err != nil && opts != nil {
		for _, p := range opts.Providers {
			if p != nil {
				p.Close()
			}
		}
	}
	return s, err
}

func open(ctx context.Context, opts *Options) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, newError("open", "", errFetch, err)
	}
	s := &Store{}
	if opts != nil {
		s.opts = *opts
	}
	o := &s.opts
	s.providers = maps.Clone(o.Providers)
	for scheme, p := range s.providers {
		if p == nil || providers.Scheme(scheme+":") != scheme {
			return nil, newError("open", "", ErrInvalid, errors.New("the keys of Options.Providers "+
				"must be lower-case schemes with non-nil providers"))
		}
	}
	if s.clock = o.Clock; s.clock == nil {
		s.clock = WallClock{}
	}
	s.rand = backoff.New(o.Random)
	if s.log = o.Logger; s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if o.UnusedAfter == 0 {
		o.UnusedAfter = defaultUnusedAfter
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = defaultEventBuffer
	}
	g, err := guard.New(&guard.Options{MaxLocked: o.MaxLockedMemory, AllowUnlocked: o.AllowUnlockedMemory})
	if err != nil {
		return nil, classify("open", "", err)
	}
	s.guard = g
	s.readers = epoch.New()
	s.tally = tally.New()
	if !g.Locked() {
		s.log.Warn("strongroom: memory cannot be locked; secrets stay sealed but scratch memory and the sealing key may be swapped to disk",
			"allow_unlocked_memory", true)
	}
	s.tel, err = newTelemetry(s)
	if err != nil {
		g.Close()
		return nil, newError("open", "", ErrInvalid, err)
	}
	s.hub.Buffer = o.EventBuffer
	s.hub.Hold = busy.Func(s.clock) // a virtual clock waits for deliveries
	s.hub.Drop = func(last *Event) { last.Dropped++ }
	s.hub.Panic = func(e Event, r any) {
		s.log.Error("strongroom: event subscriber panicked", "event", e.Kind.String(), "secret", e.Secret, "panic", fmt.Sprint(r))
	}
	s.sched.init(s)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.sched.run()
	}()
	return s, nil
}

// Add declares a secret and starts loading it in the background; it does
// not wait for the value (see [Store.Get] and [Store.Ready]). It fails with
// ErrInvalid for a bad spec or a scheme without a provider, ErrExists when
// the name is declared already (a revoked or deleted secret's name may be
// declared again), and ErrClosed after Close.
func (s *Store) Add(spec Spec) error {
	spec, p, err := spec.normalize(true, s.providers)
	if err != nil {
		return err
	}
	e := newEntry(s, spec, p)
	if err := s.insert(e, false); err != nil {
		return err
	}
	e.start()
	return nil
}

// insert adds e under its name, replacing a revoked or deleted entry.
// With work set, it also counts a call in s.bg (for Close to wait for),
// which the caller ends with s.bg.Done.
func (s *Store) insert(e *entry, work bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return newError("declare", e.name, ErrClosed, nil)
	}
	if work {
		s.bg.Add(1) // under s.mu, so never after Close's Wait has begun
	}
	if old, ok := s.entries.Load(e.name); ok && !old.(*entry).terminated() {
		if work {
			s.bg.Done()
		}
		return newError("declare", e.name, ErrExists, nil)
	}
	s.entries.Store(e.name, e)
	return nil
}

// enter counts a call that uses the guard in s.bg, so that Close waits for
// it; the caller ends it with s.bg.Done. It fails after Close.
func (s *Store) enter(op, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return newError(op, name, ErrClosed, nil)
	}
	s.bg.Add(1) // under s.mu, so never after Close's Wait has begun
	return nil
}

// lookup returns the entry called name.
func (s *Store) lookup(op, name string) (*entry, error) {
	if s.closed.Load() {
		return nil, newError(op, name, ErrClosed, nil)
	}
	e, ok := s.entries.Load(name)
	if !ok {
		return nil, newError(op, name, ErrNotFound, errNotDeclared)
	}
	return e.(*entry), nil
}

var errNotDeclared = errors.New("no secret of that name is declared")

// Get returns a handle to the current version of the secret called name.
//
// Before the first value has loaded, Get waits for the load under way (or
// until ctx ends); afterwards it never waits, whatever refreshes are under
// way. It fails with ErrNotFound for an unknown name or a missing value,
// ErrStale once the staleness budget is spent, ErrExpired past the value's
// expiry, ErrRevoked after Revoke, and ErrClosed after Close. Once a value
// has loaded, Get does not allocate.
func (s *Store) Get(ctx context.Context, name string) (*Secret, error) {
	e, err := s.lookup("get", name)
	if err != nil {
		return nil, err
	}
	return e.get(ctx, "", nil)
}

// Use is Get followed by Secret.Use: it calls fn with the current value.
func (s *Store) Use(ctx context.Context, name string, fn func(value []byte) error) error {
	sec, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	return useRetry(ctx, sec, fn, func() (*Secret, error) { return s.Get(ctx, name) })
}

// useRetry calls sec.Use, and once more with a fresh handle if sec's
// version was wiped between Get and Use (a rotation with a negative
// overlap).
func useRetry(ctx context.Context, sec *Secret, fn func([]byte) error, again func() (*Secret, error)) error {
	err := sec.Use(fn)
	if err == nil || !sec.isGone(err) || errors.Is(err, ErrRevoked) || ctx.Err() != nil {
		return err
	}
	if sec, err = again(); err != nil {
		return err
	}
	return sec.Use(fn)
}

// Previous returns the version that the last rotation replaced, while its
// overlap window (Spec.Overlap) lasts; ErrNotFound otherwise. It counts as
// a read. It never waits.
func (s *Store) Previous(name string) (*Secret, error) {
	e, err := s.lookup("previous", name)
	if err != nil {
		return nil, err
	}
	return e.previous()
}

// Refresh fetches the secret now and waits for the outcome, or for ctx to
// end. The fetch starts after the call (when one is already under way, the
// next one is queued behind it and shared with other callers), so a change
// made before calling Refresh is seen. It returns the fetch's error;
// a rejected value gives an error matching ErrInvalid.
func (s *Store) Refresh(ctx context.Context, name string) error {
	e, err := s.lookup("refresh", name)
	if err != nil {
		return err
	}
	return e.wait(ctx, "refresh", e.refreshNow())
}

// Ready waits until every declared secret has had its first load attempt
// and returns the failures, joined, or ctx's error. Revoked and deleted
// secrets are not failures.
func (s *Store) Ready(ctx context.Context) error {
	var failed []*entry
	var errs []error
	for _, e := range s.unsorted() {
		if err := e.ready(ctx); err != nil {
			failed = append(failed, e)
			errs = append(errs, err)
		}
	}
	// In name order, as the rest of the API lists secrets.
	sort.Sort(byName{failed, errs})
	return errors.Join(errs...)
}

// Names returns the names of the declared secrets, sorted, including
// revoked and deleted ones (whose metadata the inventory keeps).
func (s *Store) Names() []string {
	var names []string
	s.entries.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	sort.Strings(names)
	return names
}

// snapshot returns the entries sorted by name.
func (s *Store) snapshot() []*entry {
	es := s.unsorted()
	sort.Slice(es, func(i, j int) bool { return es[i].name < es[j].name })
	return es
}

// unsorted returns the entries in no order: for the work that needs none
// (a sort of a million names costs more than the work).
func (s *Store) unsorted() []*entry {
	var es []*entry
	s.entries.Range(func(_, e any) bool {
		es = append(es, e.(*entry))
		return true
	})
	return es
}

// shutdown ends every entry, on as many goroutines as there are cores
// (ending a million entries is a second of cache misses on one), and
// retires the wipe of the versions each goroutine ended at once.
func (s *Store) shutdown(es []*entry) {
	n := min(runtime.GOMAXPROCS(0), len(es)/1024+1)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			var batch []*Secret
			for i := w; i < len(es); i += n {
				es[i].shutdown(&batch)
			}
			if len(batch) > 0 {
				s.pending.Add(1)
				s.readers.Retire(func() {
					for _, sec := range batch {
						sec.sealed.Destroy()
					}
					s.pending.Done()
				})
			}
		})
	}
	wg.Wait()
}

// byName sorts entries and their errors together.
type byName struct {
	es   []*entry
	errs []error
}

func (b byName) Len() int           { return len(b.es) }
func (b byName) Less(i, j int) bool { return b.es[i].name < b.es[j].name }
func (b byName) Swap(i, j int) {
	b.es[i], b.es[j] = b.es[j], b.es[i]
	b.errs[i], b.errs[j] = b.errs[j], b.errs[i]
}

// Close stops every background goroutine (refreshes, watches, event
// delivery), wipes every value, releases locked memory and closes the
// providers. It waits for the work under way: Use calls, event hooks,
// validators and Create calls, so none of those may call Close (to close
// on an event, call it from another goroutine). It is idempotent; methods
// called afterwards return ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed.Store(true)
		s.mu.Unlock()
		s.sched.stop()
		s.shutdown(s.unsorted())
		s.bg.Wait()
		s.pending.Wait() // each version is wiped once no Use is inside
		s.readers.Wait()
		s.hub.Close()
		s.tel.close()
		var errs []error
		for _, scheme := range sortedKeys(s.providers) {
			if err := s.providers[scheme].Close(); err != nil {
				errs = append(errs, err)
			}
		}
		s.guard.Close()
		if len(errs) > 0 {
			s.closeErr = newError("close", "", errFetch, errors.Join(errs...))
		}
	})
	return s.closeErr
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
