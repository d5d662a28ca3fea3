package certs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/strongroom/strongroom/internal/backoff"
	"github.com/strongroom/strongroom/secrets"
)

// Options configure a [Source]. Certificates is required; every other
// field's zero value selects a documented default.
type Options struct {
	// Certificates are the certificates to serve, each a certificate and
	// its private key held in the store. At least one. When several
	// claim the same server name, the first in this list wins.
	Certificates []Pair

	// Clock is the source of time for validity checks, expiry thresholds
	// and renewal. Pass the store's clock (a virtual one in tests). Nil:
	// the wall clock.
	Clock secrets.Clock

	// Logger receives rotations, refusals, expiry warnings and renewal
	// outcomes (names, serials, fingerprints; never keys). Nil: silent.
	Logger *slog.Logger

	// MeterProvider receives the strongroom.certificate.expiry gauge and
	// the rotation and refusal counters. Nil: no metrics.
	MeterProvider metric.MeterProvider

	// Thresholds are when, before a certificate's NotAfter, an
	// EventExpiring is published; a threshold longer than a
	// certificate's whole lifetime is skipped for it. Nil:
	// DefaultThresholds(). An empty, non-nil slice: none (expiry itself
	// is always reported).
	Thresholds []Threshold

	// Random supplies randomness for renewal jitter and backoff (a
	// deterministic source makes tests repeatable); it is read under a
	// lock. Nil: crypto/rand.Reader. Keys always come from crypto/rand.
	Random io.Reader

	// AllowUnlockedMemory lets a Source with a Pair.SealedKey run where
	// no memory can be locked (keys stay sealed; scratch memory may be
	// swapped). False: New fails with an error there.
	AllowUnlockedMemory bool

	// LoadTimeout bounds one read of a pair's secrets from the store
	// after they change. Zero: 30 seconds.
	LoadTimeout time.Duration

	// PairGrace is how long a pair held as two secrets may be
	// half-updated (one secret rotated, the other not yet, so that the
	// key does not match the certificate) before the mismatch is refused
	// like any bad value: an EventRejected, a warning, a count in
	// strongroom.certificate.rejections. Meanwhile the certificate in
	// service stays (the mismatched pair is never served), the state is
	// logged at Debug, and the pair is read again when the grace ends;
	// the missing half arriving within it reports nothing. Timed on
	// Clock. Zero: 2 seconds. Negative: none (refused at once). A bundle
	// (one secret holding both) is never half-updated.
	PairGrace time.Duration

	// EventBuffer is how many events may wait for one slow subscriber;
	// past that, events for it are dropped and counted in the next
	// delivered Event.Dropped. Zero or negative: 256.
	EventBuffer int

	// OnEvent, when set, is subscribed (as by Source.Subscribe) before the
	// first load, so that it also sees the events of New: EventLoaded,
	// an EventExpiring for a certificate loaded late in its life, the
	// first issuance. Nil: none.
	OnEvent func(Event)
}

const defaultPairGrace = 2 * time.Second

// Pair names the secrets that hold one certificate and its private key.
type Pair struct {
	// Name identifies the certificate in events, errors, logs and
	// metrics. Zero: Cert.
	Name string

	// Cert is the name of the secret holding the certificate chain in
	// PEM, leaf first (declare it with [CertificateSpec]). Required.
	Cert string

	// Key is the name of the secret holding the private key in PEM
	// (declare it with [KeySpec]). Zero: the Cert secret holds the key
	// too, as one PEM bundle. To read one bundle file as two secrets, use
	// the file provider's "#cert" and "#key" parts.
	Key string

	// ServerNames are the names (SNI) this certificate is served for:
	// exact names, or wildcards such as "*.example.com". Zero: the DNS
	// names among the leaf's subject alternative names, as they are in
	// each certificate that comes into service.
	ServerNames []string

	// Default makes this certificate the one served when a client sends
	// no server name, or one no certificate claims. Zero on every pair:
	// the first pair is the default.
	Default bool

	// Validation is what a new certificate must satisfy beyond parsing,
	// key match and validity window. Nil: only those.
	Validation *Validation

	// Renewal, when set, renews the certificate before it expires, or
	// obtains the first one when the secrets hold none. Nil: the
	// certificate is only reloaded when its secrets change.
	Renewal *Renewal

	// SealedKey serves the certificate with a crypto.Signer that keeps the
	// private key sealed in locked memory and opens it for each
	// signature, instead of keeping the parsed key on the heap while the
	// certificate is in service. It costs a key parse per full handshake,
	// about 25 µs for ECDSA P-256 (see the package documentation); worth
	// it for low-rate use such as client certificates. False: the parsed
	// key stays on the heap while current.
	SealedKey bool
}

const defaultLoadTimeout = 30 * time.Second

// Source serves TLS certificates whose chains and keys live in a
// [secrets.Store], swapping each atomically when its secrets rotate or it
// is renewed. Make one with [New]; it is safe for concurrent use.
type Source struct {
	store  *secrets.Store
	opts   Options
	clock  secrets.Clock
	log    *slog.Logger
	pairs  []*pairState
	byName map[string]*pairState
	// bySecret maps a secret's name to the pairs that read it.
	bySecret map[string][]*pairState
	snap     atomic.Pointer[snapshot] // nil once closed
	snapMu   sync.Mutex               // serialises building snapshots
	hub      *hub
	vault    *vault // seals keys of pairs with SealedKey; nil when none has it
	tel      *telemetry

	rand *backoff.Rand // renewal jitter and backoff

	life lifecycle
}

// New makes a Source serving opts.Certificates from store, and blocks until
// each certificate is in service or ctx ends. A pair with a Renewal whose
// secrets hold no certificate yet gets its first one from the Issuer here.
// New subscribes to the secrets' events; Close ends that. It fails with an
// error matching ErrConfig for bad options, and otherwise with the first
// reason a certificate cannot be served (matching ErrMalformed,
// ErrMismatch, ErrExpired, ..., or wrapping the store's error).
func New(ctx context.Context, store *secrets.Store, opts *Options) (*Source, error) {
	if store == nil || opts == nil || len(opts.Certificates) == 0 {
		return nil, &Error{Op: "new", Kind: ErrConfig, Err: reason("a store and at least one Pair are required")}
	}
	s := &Source{store: store, opts: *opts, byName: map[string]*pairState{}, bySecret: map[string][]*pairState{}}
	o := &s.opts
	if s.clock = o.Clock; s.clock == nil {
		s.clock = secrets.WallClock{}
	}
	if s.log = o.Logger; s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.rand = backoff.New(o.Random)
	if o.Thresholds == nil {
		o.Thresholds = DefaultThresholds()
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = defaultLoadTimeout
	}
	if o.PairGrace == 0 {
		o.PairGrace = defaultPairGrace
	}
	for _, t := range o.Thresholds {
		if !t.valid() {
			return nil, &Error{Op: "new", Kind: ErrConfig, Err: reason("threshold %+v: want Left > 0, or Fraction in (0, 1)", t)}
		}
	}
	s.hub = newHub(s.log, o.EventBuffer)
	s.life.init()
	if err := s.addPairs(o.Certificates); err != nil {
		return nil, err
	}
	var err error
	if s.tel, err = newTelemetry(s, o.MeterProvider); err != nil {
		return nil, &Error{Op: "new", Kind: ErrConfig, Err: err}
	}
	for _, p := range s.pairs {
		if p.p.SealedKey && s.vault == nil {
			if s.vault, err = newVault(o.AllowUnlockedMemory); err != nil {
				s.tel.close()
				return nil, &Error{Op: "new", Kind: ErrConfig, Err: err}
			}
		}
	}
	s.snap.Store(&snapshot{def: s.pairs[0]})
	for _, ps := range s.pairs {
		if ps.p.Default {
			s.snap.Store(&snapshot{def: ps})
			break
		}
	}
	if o.OnEvent != nil {
		s.hub.subscribe(o.OnEvent)
	}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// addPairs checks and records the pairs.
func (s *Source) addPairs(pairs []Pair) error {
	bad := func(p Pair, format string, args ...any) error {
		return &Error{Op: "new", Certificate: p.Name, Kind: ErrConfig, Err: reason(format, args...)}
	}
	for i, p := range pairs {
		if p.Name == "" {
			p.Name = p.Cert
		}
		switch {
		case p.Cert == "":
			return bad(p, "Pair %d has no Cert secret", i)
		case s.byName[p.Name] != nil:
			return bad(p, "two pairs are called %q", p.Name)
		}
		if p.Renewal != nil {
			r, err := p.Renewal.normalized()
			if err != nil {
				return bad(p, "Renewal: %v", err)
			}
			r.DNSNames, r.IPAddresses = slices.Clone(r.DNSNames), slices.Clone(r.IPAddresses)
			p.Renewal = &r
		}
		if p.Validation != nil { // a copy: the caller's may change
			v := *p.Validation
			v.DNSNames, v.IPAddresses, v.KeyUsages = slices.Clone(v.DNSNames), slices.Clone(v.IPAddresses), slices.Clone(v.KeyUsages)
			p.Validation = &v
		}
		p.ServerNames = slices.Clone(p.ServerNames)
		ps := &pairState{s: s, p: p}
		s.pairs = append(s.pairs, ps)
		s.byName[p.Name] = ps
		for _, name := range ps.secrets() {
			s.bySecret[name] = append(s.bySecret[name], ps)
		}
	}
	return nil
}

// start subscribes to the store and to the pairs' trust bundles, and
// brings every pair into service.
func (s *Source) start(ctx context.Context) error {
	for name := range s.bySecret {
		cancel, err := s.store.Subscribe(name, s.onStoreEvent)
		if err != nil {
			return &Error{Op: "new", Secret: name, Kind: ErrUnavailable, Err: err}
		}
		s.life.onClose(cancel)
	}
	for _, ps := range s.pairs {
		if v := ps.p.Validation; v != nil && v.Trust != nil {
			// A pair refused as untrusted is read again when its bundle
			// changes. A closed bundle no longer changes: nothing to watch.
			if cancel, err := v.Trust.Subscribe(ps.onTrustEvent); err == nil {
				s.life.onClose(cancel)
			}
		}
	}
	var errs []error
	for _, ps := range s.pairs {
		if err := ps.load(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// onStoreEvent reacts to an event of a secret some pair reads. It runs on
// the store's subscriber goroutine for that secret.
func (s *Source) onStoreEvent(ev secrets.Event) {
	if !s.life.enter() {
		return
	}
	defer s.life.leave()
	for _, ps := range s.bySecret[ev.Secret] {
		ps.onSecretEvent(ev)
	}
}

// onTrustEvent reads the pair again (forced) when the trust bundle of its
// Validation comes into service or rotates, so that a certificate refused
// as untrusted before its CA joined the bundle is taken. It runs on the
// bundle's subscriber goroutine.
func (ps *pairState) onTrustEvent(ev Event) {
	if ev.Kind != EventLoaded && ev.Kind != EventRotated {
		return
	}
	if !ps.s.life.enter() {
		return
	}
	defer ps.s.life.leave()
	ps.evaluate("", true)
}

// Subscribe calls fn for every event of the Source's certificates, in
// order, on a goroutine of its own with a bounded queue, so that a slow fn
// delays only its own later events. cancel stops deliveries (a call under
// way completes). fn must not call Close, which waits for it. It fails
// with ErrClosed after Close.
func (s *Source) Subscribe(fn func(Event)) (cancel func(), err error) {
	return s.hub.subscribe(fn)
}

// publish sends ev to subscribers and logs it.
func (s *Source) publish(ev Event) {
	level := slog.LevelInfo
	switch ev.Kind {
	case EventRejected, EventExpiring, EventRenewalFailed:
		level = slog.LevelWarn
	case EventExpired, EventWithdrawn:
		level = slog.LevelError
	}
	s.log.LogAttrs(context.Background(), level, "strongroom: certificate "+ev.Kind.String(), slog.Any("certificate", ev))
	s.hub.Publish(ev)
}

// Close stops watching the store, cancels renewals under way and waits for
// them, stops timers and event deliveries, and wipes the sealed keys of
// SealedKey pairs. Handshakes after Close fail with ErrClosed. It does not
// close the store. It is idempotent.
func (s *Source) Close() error {
	if !s.life.close() {
		return nil
	}
	s.snap.Store(nil)
	for _, ps := range s.pairs {
		ps.stopTimers()
	}
	s.hub.Close()
	s.vault.close()
	s.tel.close()
	for _, ps := range s.pairs {
		ps.cur.Store(nil) // drop the keys
	}
	return nil
}

// String describes the Source without any key.
func (s *Source) String() string {
	return fmt.Sprintf("certs.Source{%d certificate(s)}", len(s.pairs))
}

// Format makes every fmt verb print String, so that no key is ever printed.
func (s *Source) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

// lifecycle counts the work under way (store callbacks, timers, renewals)
// so that Close can refuse new work, cancel what runs and wait for it.
type lifecycle struct {
	mu      sync.Mutex
	closed  bool
	work    sync.WaitGroup
	cancels map[int]context.CancelFunc
	next    int
	atClose []func()
}

func (l *lifecycle) init() { l.cancels = map[int]context.CancelFunc{} }

// enter counts a piece of work in; it reports false after Close.
func (l *lifecycle) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.work.Add(1)
	return true
}

func (l *lifecycle) leave() { l.work.Done() }

// spawn runs fn on a new goroutine, counted as work; not after Close.
func (l *lifecycle) spawn(fn func()) {
	if !l.enter() {
		return
	}
	go func() {
		defer l.leave()
		fn()
	}()
}

// context returns a context that ends after d, when parent ends, or when
// the lifecycle closes.
func (l *lifecycle) context(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(parent, d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		cancel()
		return ctx, cancel
	}
	id := l.next
	l.next++
	l.cancels[id] = cancel
	return ctx, func() {
		cancel()
		l.mu.Lock()
		delete(l.cancels, id)
		l.mu.Unlock()
	}
}

// onClose registers fn to run first thing at close.
func (l *lifecycle) onClose(fn func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.atClose = append(l.atClose, fn)
}

// close refuses new work, runs the onClose functions, cancels the work
// under way and waits for it. It reports false when already closed.
func (l *lifecycle) close() bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false
	}
	l.closed = true
	fns := l.atClose
	for _, cancel := range l.cancels {
		cancel()
	}
	l.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
	l.work.Wait()
	return true
}

func (l *lifecycle) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}
