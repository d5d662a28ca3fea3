package certs

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/strongroom/strongroom/secrets"
)

// TrustOptions configure a [TrustBundle]. A nil *TrustOptions means the
// defaults.
type TrustOptions struct {
	// Name identifies the bundle in events, errors and logs. Zero: the
	// secret's name.
	Name string

	// Overlap is how long a CA that a rotation removed from the bundle
	// stays trusted, so that peers still holding certificates it issued
	// keep working while they rotate. Zero: none; a rotation takes effect
	// at once (put the old and the new CA in the bundle together for the
	// overlap instead, as the usual two-step CA rotation does).
	Overlap time.Duration

	// Clock times the overlap. Nil: the wall clock.
	Clock secrets.Clock

	// Logger receives rotations and refusals. Nil: silent.
	Logger *slog.Logger

	// LoadTimeout bounds one read of the bundle from the store. Zero: 30
	// seconds.
	LoadTimeout time.Duration

	// MeterProvider receives the strongroom.trust.ca.expiry gauge
	// ([MetricCAExpiry]): the seconds until each CA trusted now expires.
	// Nil: no metrics.
	MeterProvider metric.MeterProvider

	// EventBuffer is how many events may wait for one slow subscriber,
	// as Options.EventBuffer. Zero or negative: 256.
	EventBuffer int

	// OnEvent, when set, is subscribed before the first load, so that it
	// also sees EventLoaded. Nil: none.
	OnEvent func(Event)
}

// TrustBundle is a set of CA certificates held as a secret (PEM, declared
// with [BundleSpec]) that rotates with it: the pool a server verifies
// client certificates against ([ServerConfigOptions].ClientCAs) or a client
// verifies servers against ([ClientConfigOptions].RootCAs), or that a
// [Validation] checks chains against. A new bundle that does not parse is
// refused and the current one stays. Make one with [NewTrustBundle]; it is
// safe for concurrent use.
//
// It fails closed: when its secret is revoked or deleted, or the store
// stops serving it (its Spec.MaxStale spent, or its expiry passed), the
// bundle trusts no CA at all (current nor retired) and publishes
// EventWithdrawn; every verification against it fails with ErrUntrusted
// until the secret is loaded again (EventLoaded). While the store does
// not serve it, the bundle reads it again every second, backing off to
// every minute, since the store says nothing when a later fetch gives
// back the same version.
type TrustBundle struct {
	store  *secrets.Store
	secret string
	opts   TrustOptions
	clock  secrets.Clock
	log    *slog.Logger
	state  atomic.Pointer[trustState] // nil until loaded
	hub    *hub
	life   lifecycle

	mu          sync.Mutex
	current     []*x509.Certificate
	version     string
	retired     []retiredCA
	overlapStop func() bool
	holds       int   // consecutive re-reads while the store does not serve the secret
	reread      timer // the next of them
	tel         metric.Registration
}

// trustState is an immutable view of the bundle.
type trustState struct {
	pool  *x509.CertPool
	certs []*x509.Certificate // current ones, then retired ones in their overlap
}

// retiredCA is a CA removed by a rotation, trusted until its overlap ends.
type retiredCA struct {
	cert  *x509.Certificate
	until time.Time
}

// NewTrustBundle makes a TrustBundle from the secret called secret in
// store, and blocks until the bundle is loaded or ctx ends. It fails with
// ErrConfig for bad options, ErrMalformed for a bundle that does not parse
// and ErrUnavailable when the secret cannot be read.
func NewTrustBundle(ctx context.Context, store *secrets.Store, secret string, opts *TrustOptions) (*TrustBundle, error) {
	b := &TrustBundle{store: store, secret: secret}
	if opts != nil {
		b.opts = *opts
	}
	o := &b.opts
	if o.Name == "" {
		o.Name = secret
	}
	if store == nil || secret == "" || o.Overlap < 0 {
		return nil, &Error{Op: "new", Certificate: o.Name, Kind: ErrConfig, Err: reason("a store, a secret and a non-negative Overlap are required")}
	}
	if b.clock = o.Clock; b.clock == nil {
		b.clock = secrets.WallClock{}
	}
	if b.log = o.Logger; b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = defaultLoadTimeout
	}
	b.hub = newHub(b.log, o.EventBuffer)
	b.life.init()
	var err error
	if b.tel, err = b.telemetry(o.MeterProvider); err != nil {
		return nil, &Error{Op: "new", Certificate: o.Name, Kind: ErrConfig, Err: err}
	}
	if o.OnEvent != nil {
		b.hub.subscribe(o.OnEvent)
	}
	cancel, err := store.Subscribe(secret, b.onStoreEvent)
	if err != nil {
		b.Close() // stops the OnEvent subscriber
		return nil, &Error{Op: "new", Certificate: o.Name, Secret: secret, Kind: ErrUnavailable, Err: err}
	}
	b.life.onClose(cancel)
	b.mu.Lock()
	err = b.load(ctx)
	b.mu.Unlock()
	if err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *TrustBundle) onStoreEvent(ev secrets.Event) {
	if !b.life.enter() {
		return
	}
	defer b.life.leave()
	switch ev.Kind {
	case secrets.EventLoaded, secrets.EventRotated, secrets.EventStale, secrets.EventExpired:
		// A stale or expired secret fails to read: load withdraws the
		// bundle then.
		b.reload()
	case secrets.EventRejected:
		b.refused(storeRefusal(b.opts.Name, ev.Secret, ev.Err))
	case secrets.EventRevoked, secrets.EventDeleted:
		b.mu.Lock()
		defer b.mu.Unlock()
		b.withdraw(&Error{Op: "verify", Certificate: b.opts.Name, Secret: ev.Secret, Kind: ErrUntrusted,
			Err: reason("the bundle's secret was %s: no CA is trusted until it is loaded again", ev.Kind)})
	}
}

// reload reads the bundle again and publishes a refusal if it cannot.
func (b *TrustBundle) reload() {
	ctx, cancel := b.life.context(context.Background(), b.opts.LoadTimeout)
	defer cancel()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.load(ctx); err != nil && !errors.Is(err, secrets.ErrClosed) && ctx.Err() == nil {
		b.refused(err)
	}
}

// load reads the bundle and, if it changed, puts it in service. When the
// store no longer serves the secret (stale, expired), it withdraws the
// bundle and reads it again after a backoff, and returns nil. b.mu is
// held.
func (b *TrustBundle) load(ctx context.Context) error {
	var certs []*x509.Certificate
	ver, err := readSecret(ctx, b.store, b.secret, func(data []byte) error {
		p, err := parsePEM(data, trustOnly)
		if err == nil {
			certs = p.certs
		}
		return err
	})
	if err != nil {
		e := err.(*Error)
		e.Certificate = b.opts.Name
		if errors.Is(err, secrets.ErrStale) || errors.Is(err, secrets.ErrExpired) {
			b.hold(e)
			return nil
		}
		return e
	}
	b.holds = 0
	b.reread.halt()
	if b.current != nil && sameCerts(b.current, certs) {
		b.version = ver
		return nil
	}
	now := b.clock.Now()
	old := b.current
	b.current, b.version = certs, ver
	if b.opts.Overlap > 0 {
		for _, c := range old {
			if !contains(certs, c) {
				b.retired = append(b.retired, retiredCA{cert: c, until: now.Add(b.opts.Overlap)})
			}
		}
	}
	b.rebuild(now)
	ev := Event{Kind: EventLoaded, Certificate: b.opts.Name, Secret: b.secret, Serial: certs[0].SerialNumber.Text(16),
		Fingerprint: fingerprint(certs[0].Raw), NotAfter: certs[0].NotAfter, Time: now}
	if old != nil {
		ev.Kind, ev.PreviousFingerprint = EventRotated, fingerprint(old[0].Raw)
	}
	b.publish(ev)
	return nil
}

// hold withdraws the bundle because the store stopped serving its secret
// (err), and reads it again after a backoff. b.mu is held.
func (b *TrustBundle) hold(err *Error) {
	kind := ErrStale
	if !errors.Is(err, secrets.ErrStale) {
		kind = ErrExpired
	}
	b.withdraw(&Error{Op: "verify", Certificate: b.opts.Name, Secret: b.secret, Kind: ErrUntrusted,
		Err: &Error{Op: "load", Certificate: b.opts.Name, Secret: b.secret, Kind: kind, Err: err}})
	b.holds++
	wait := holdMaxBackoff
	if b.holds < 8 {
		wait = min(holdMinBackoff<<(b.holds-1), holdMaxBackoff)
	}
	gen := b.reread.gen + 1
	b.reread.halt() // gen is now what gen says
	b.reread.stop = b.clock.AfterFunc(wait, func() {
		b.life.spawn(func() {
			b.mu.Lock()
			stale := b.reread.gen != gen
			b.mu.Unlock()
			if !stale {
				b.reload()
			}
		})
	})
}

// withdraw makes the bundle trust no CA and publishes EventWithdrawn, if
// it trusted any. b.mu is held.
func (b *TrustBundle) withdraw(err *Error) {
	old := b.current
	b.current, b.version = nil, ""
	clear(b.retired)
	b.retired = nil
	if b.overlapStop != nil {
		b.overlapStop()
		b.overlapStop = nil
	}
	if b.state.Swap(nil) == nil {
		return
	}
	ev := Event{Kind: EventWithdrawn, Certificate: b.opts.Name, Secret: b.secret, Time: b.clock.Now(), Err: err}
	if len(old) > 0 {
		ev.Serial, ev.Fingerprint, ev.NotAfter = old[0].SerialNumber.Text(16), fingerprint(old[0].Raw), old[0].NotAfter
	}
	b.publish(ev)
}

// rebuild drops retired CAs whose overlap has ended, publishes the pool of
// the current and retired CAs, and arms a timer for the next overlap end.
// b.mu is held.
func (b *TrustBundle) rebuild(now time.Time) {
	kept := b.retired[:0]
	var next time.Time
	for _, r := range b.retired {
		if r.until.After(now) && !contains(b.current, r.cert) {
			kept = append(kept, r)
			if next.IsZero() || r.until.Before(next) {
				next = r.until
			}
		}
	}
	clear(b.retired[len(kept):])
	b.retired = kept
	st := &trustState{pool: x509.NewCertPool(), certs: append([]*x509.Certificate(nil), b.current...)}
	for _, r := range b.retired {
		st.certs = append(st.certs, r.cert)
	}
	for _, c := range st.certs {
		st.pool.AddCert(c)
	}
	b.state.Store(st)
	if b.overlapStop != nil {
		b.overlapStop()
		b.overlapStop = nil
	}
	if !next.IsZero() {
		b.overlapStop = b.clock.AfterFunc(next.Sub(b.clock.Now()), func() {
			b.life.spawn(func() {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.rebuild(b.clock.Now())
			})
		})
	}
}

func (b *TrustBundle) refused(err error) {
	var e *Error
	secret := ""
	if errors.As(err, &e) {
		secret = e.Secret
	}
	b.publish(Event{Kind: EventRejected, Certificate: b.opts.Name, Secret: secret, Time: b.clock.Now(), Err: err})
}

func (b *TrustBundle) publish(ev Event) {
	level := slog.LevelInfo
	switch ev.Kind {
	case EventRejected:
		level = slog.LevelWarn
	case EventWithdrawn:
		level = slog.LevelError
	}
	b.log.LogAttrs(context.Background(), level, "strongroom: trust bundle "+ev.Kind.String(), slog.Any("bundle", ev))
	b.hub.Publish(ev)
}

func sameCerts(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

func contains(cs []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range cs {
		if x.Equal(c) {
			return true
		}
	}
	return false
}

// Pool returns a copy of the pool of CAs trusted now: the bundle's, plus
// those a rotation removed less than Overlap ago.
func (b *TrustBundle) Pool() *x509.CertPool {
	if st := b.state.Load(); st != nil {
		return st.pool.Clone()
	}
	return x509.NewCertPool()
}

// Certificates returns the CAs trusted now, the bundle's first.
func (b *TrustBundle) Certificates() []*x509.Certificate {
	if st := b.state.Load(); st != nil {
		return append([]*x509.Certificate(nil), st.certs...)
	}
	return nil
}

// Verify verifies chain (leaf first, then intermediates) against the CAs
// trusted now, with opts (whose Roots and Intermediates it sets), and
// returns the verified chains.
func (b *TrustBundle) Verify(chain []*x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
	st := b.state.Load()
	if st == nil || len(chain) == 0 {
		return nil, &Error{Op: "verify", Certificate: b.opts.Name, Kind: ErrUntrusted, Err: errNoTrust()}
	}
	opts.Roots = st.pool
	opts.Intermediates = x509.NewCertPool()
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	return chain[0].Verify(opts)
}

// Subscribe calls fn for every event of the bundle (EventLoaded,
// EventRotated, EventRejected, EventWithdrawn), as [Source.Subscribe]
// does.
func (b *TrustBundle) Subscribe(fn func(Event)) (cancel func(), err error) {
	return b.hub.subscribe(fn)
}

// Close stops watching the store, stops the overlap and re-read timers,
// the gauge and event deliveries, and waits for them. The last pool stays
// usable. It is idempotent.
func (b *TrustBundle) Close() error {
	if !b.life.close() {
		return nil
	}
	b.mu.Lock()
	if b.overlapStop != nil {
		b.overlapStop()
	}
	b.reread.halt()
	b.mu.Unlock()
	b.hub.Close()
	if b.tel != nil {
		b.tel.Unregister()
	}
	return nil
}

// String describes the bundle.
func (b *TrustBundle) String() string {
	n := 0
	if st := b.state.Load(); st != nil {
		n = len(st.certs)
	}
	return fmt.Sprintf("certs.TrustBundle{%s: %d CA(s)}", b.opts.Name, n)
}

// Format makes every fmt verb print String.
func (b *TrustBundle) Format(f fmt.State, _ rune) { io.WriteString(f, b.String()) }
