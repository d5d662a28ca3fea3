package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strongroom/strongroom/secrets"
)

// pairState is one Pair at run time.
type pairState struct {
	s *Source
	p Pair

	cur  atomic.Pointer[served] // in service; nil when none is
	down atomic.Pointer[Error]  // why none is in service

	mu        sync.Mutex // serialises reads, swaps and timers of this pair
	names     []string   // the server names claimed (under Source.snapMu too)
	leaf      *x509.Certificate
	seen      [2]version // the store versions last read (or written by a renewal)
	memBase   [2]version // with a renewal served from memory: the store versions it replaced
	lastErr   error
	lastErrAt time.Time
	refusal   refusalKey // the last refusal published, so that a re-read does not repeat it
	alarms    []alarm
	alarmStop func() bool
	reread    timer // re-reads the pair: not yet valid, half-updated, store stale
	// ended lists the pair's secrets that were revoked or deleted: while
	// any is, the pair is out of service, its timers are stopped and
	// renewals fail, until the secret is loaded again.
	ended []string
	// halfSince is when the pair was first seen half-updated (the key
	// does not match the certificate), within Options.PairGrace.
	halfSince time.Time
	halfBlame string // the secret whose change made the pair half-updated
	// holds counts the consecutive re-reads of a pair whose secret the
	// store stopped serving (stale or expired), for their backoff.
	holds int
	// writing is set while a renewal writes the pair back: evaluations
	// wait for it (pending says one was asked for, and whether forced),
	// so that they never see the store half-written nor race the install.
	writing bool
	pending struct{ asked, force bool }
	renew   renewState
}

// refusalKey identifies a published refusal: the versions refused and why.
type refusalKey struct {
	seen [2]version
	kind error
}

// timer is a clock timer that can be re-armed; gen tells a firing that
// a newer arming replaced it.
type timer struct {
	stop func() bool
	at   time.Time
	gen  int
}

// halt stops the timer.
func (t *timer) halt() {
	if t.stop != nil {
		t.stop()
	}
	t.stop, t.at = nil, time.Time{}
	t.gen++
}

// served is a certificate in service.
type served struct {
	cert     *tls.Certificate
	chain    []*x509.Certificate
	id       [32]byte // SHA-256 over the chain's DER: equal chains, equal id
	fp       string   // the leaf's SHA-256 fingerprint
	cv, kv   version  // where the chain and the key came from
	since    time.Time
	inMemory bool // renewed but not written back to the store
}

// secrets returns the names of the secrets the pair reads.
func (ps *pairState) secrets() []string {
	if ps.bundle() {
		return []string{ps.p.Cert}
	}
	return []string{ps.p.Cert, ps.p.Key}
}

func (ps *pairState) bundle() bool { return ps.p.Key == "" || ps.p.Key == ps.p.Cert }

// load brings the pair into service at New: from the store, or, when the
// store holds no usable certificate and the pair has a Renewal, from its
// Issuer.
func (ps *pairState) load(ctx context.Context) error {
	ps.mu.Lock()
	c, err := ps.read(ctx)
	if err == nil {
		ps.seen = [2]version{c.cert, c.keyV}
		now := ps.s.clock.Now()
		if rerr := c.check(now, ps.p.Validation, c.cert); rerr != nil {
			err = rerr
		} else {
			err = ps.install(c, now, false)
		}
	}
	if err != nil {
		err = ps.named(err)
		ps.noteErr(err)
	}
	ps.mu.Unlock()
	if err != nil && ps.p.Renewal != nil && ctx.Err() == nil {
		ps.s.log.Info("strongroom: certificate not in the store or not usable; issuing one",
			"certificate", ps.p.Name, "reason", err.Error())
		return ps.renewNow(ctx)
	}
	return err
}

// onSecretEvent reacts to an event of one of the pair's secrets.
func (ps *pairState) onSecretEvent(ev secrets.Event) {
	switch ev.Kind {
	case secrets.EventLoaded, secrets.EventRotated:
		ps.mu.Lock()
		resumed := false
		if i := slices.Index(ps.ended, ev.Secret); i >= 0 {
			ps.ended = slices.Delete(ps.ended, i, i+1)
			resumed = len(ps.ended) == 0
		}
		ps.evaluateLocked(ev.Secret, resumed)
		ps.mu.Unlock()
	case secrets.EventRejected:
		// The store refused a new value (CertificateSpec's or KeySpec's
		// Validate, an expired certificate): it keeps the old one, and so
		// do we; say so on our side too.
		ps.refused(storeRefusal(ps.p.Name, ev.Secret, ev.Err))
	case secrets.EventStale, secrets.EventExpired:
		// The store no longer serves the value: read it, which fails, so
		// that the pair is withdrawn as the store's contract says (see
		// hold), unless what is in service is a renewal the store never
		// held.
		ps.evaluate(ev.Secret, true)
	case secrets.EventRevoked, secrets.EventDeleted:
		ps.end(ev.Secret, ev.Kind)
	}
}

// evaluate reads the pair from the store after trigger (a secret's name)
// changed, and swaps it into service if it differs from the certificate in
// service and passes validation; otherwise it publishes the refusal.
// Unless force is set, versions already read are ignored: an event that
// arrives late (the first load, a renewal's own write) changes nothing.
func (ps *pairState) evaluate(trigger string, force bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.evaluateLocked(trigger, force)
}

// evaluateLocked is evaluate with ps.mu held.
func (ps *pairState) evaluateLocked(trigger string, force bool) {
	switch {
	case len(ps.ended) > 0:
		return // out of service until the ended secret is loaded again
	case ps.writing:
		ps.pending.asked = true
		ps.pending.force = ps.pending.force || force
		return
	}
	ctx, cancel := ps.s.life.context(context.Background(), ps.s.opts.LoadTimeout)
	defer cancel()
	c, err := ps.read(ctx)
	if err != nil {
		switch {
		case errors.Is(err, secrets.ErrClosed) || ctx.Err() != nil:
			// shutting down
		case errors.Is(err, secrets.ErrStale) || errors.Is(err, secrets.ErrExpired):
			ps.hold(err)
		default:
			ps.refusedLocked(err, [2]version{})
		}
		return
	}
	ps.holds = 0
	seen := [2]version{c.cert, c.keyV}
	if seen == ps.seen && !force {
		return // nothing new in the store
	}
	if ps.servedFromMemory() && seen == ps.memBase {
		// A forced re-read (a trust bundle rotated, a grace or a
		// not-yet-valid wait ended) does not put back what the store held
		// when a renewal could not be written: the renewal in service is
		// newer. A pair the store got since is read as usual.
		ps.seen = seen
		return
	}
	ps.seen = seen
	id := chainID(c.chain)
	if cur := ps.cur.Load(); cur != nil && cur.id == id && matches(c.chain[0], c.key) {
		ps.halfSince = time.Time{}
		return // the same pair (a rewrite, or our own renewal written back)
	}
	if cur := ps.cur.Load(); cur == nil && id == ps.renew.staleID {
		return // withdrawn for renewals failing past MaxStale: only a new certificate comes back
	}
	if trigger == "" && !ps.halfSince.IsZero() {
		trigger = ps.halfBlame // a re-read at the end of the grace
	}
	blame := c.cert
	if trigger == ps.p.Key {
		blame = c.keyV
	}
	now := ps.s.clock.Now()
	if rerr := c.check(now, ps.p.Validation, blame); rerr != nil {
		if ps.halfUpdated(rerr, now) {
			return
		}
		if rerr.Kind == ErrNotYetValid {
			ps.rereadAt(c.chain[0].NotBefore.Add(time.Millisecond), now)
		}
		ps.refusedLocked(rerr, seen)
		return
	}
	if err := ps.install(c, now, false); err != nil {
		ps.refusedLocked(err, seen)
	}
}

// servedFromMemory reports whether the certificate in service is a
// renewal that could not be written back. ps.mu is held.
func (ps *pairState) servedFromMemory() bool {
	cur := ps.cur.Load()
	return cur != nil && cur.inMemory
}

// halfUpdated reports whether rerr is the mismatch of a two-secret pair
// whose halves have not both rotated yet, within Options.PairGrace: it
// is then logged at Debug only and the pair read again when the grace
// ends. ps.mu is held.
func (ps *pairState) halfUpdated(rerr *Error, now time.Time) bool {
	grace := ps.s.opts.PairGrace
	if rerr.Kind != ErrMismatch || ps.bundle() || grace <= 0 {
		ps.halfSince = time.Time{}
		return false
	}
	if ps.halfSince.IsZero() {
		ps.halfSince, ps.halfBlame = now, rerr.Secret
	}
	until := ps.halfSince.Add(grace)
	if !now.Before(until) {
		return false // the grace is spent: a refusal like any other
	}
	ps.s.log.LogAttrs(context.Background(), slog.LevelDebug, "strongroom: certificate pair half-updated; waiting for the other half",
		slog.String("certificate", ps.p.Name), slog.Time("until", until), slog.String("error", rerr.Error()))
	ps.rereadAt(until, now)
	return true
}

// hold withdraws the pair when the store stopped serving one of its
// secrets (err matches secrets.ErrStale or secrets.ErrExpired), unless the
// certificate in service is a renewal that never came from the store,
// and reads the pair again after a backoff: the store says nothing when
// a later fetch gives back the same version. ps.mu is held.
func (ps *pairState) hold(err error) {
	now := ps.s.clock.Now()
	if sv := ps.cur.Load(); sv != nil {
		if sv.inMemory {
			return
		}
		if leaf := sv.chain[0]; !now.Before(leaf.NotAfter) {
			ps.expired(leaf, now) // the store saw the expiry before our own timer did
			return
		}
		kind, secret := ErrStale, ""
		if !errors.Is(err, secrets.ErrStale) {
			kind = ErrExpired
		}
		var e *Error
		if errors.As(err, &e) {
			secret = e.Secret
		}
		ps.withdrawLocked(&Error{Op: "serve", Certificate: ps.p.Name, Secret: secret, Kind: kind, Err: err}, EventWithdrawn, now)
	}
	ps.holds++
	wait := holdMaxBackoff
	if ps.holds < 8 {
		wait = min(holdMinBackoff<<(ps.holds-1), holdMaxBackoff)
	}
	ps.rereadAt(now.Add(wait), now)
}

// The backoff of re-reads while the store does not serve a pair's secret.
const (
	holdMinBackoff = time.Second
	holdMaxBackoff = time.Minute
)

// rereadAt reads the pair again (forced) at t, unless a re-read is due
// earlier already; that one re-arms what is still needed. ps.mu is held.
func (ps *pairState) rereadAt(t, now time.Time) {
	r := &ps.reread
	if r.stop != nil && !r.at.After(t) {
		return
	}
	r.halt()
	gen := r.gen
	r.at = t
	r.stop = ps.s.clock.AfterFunc(t.Sub(ps.s.clock.Now()), func() {
		ps.s.life.spawn(func() {
			ps.mu.Lock()
			defer ps.mu.Unlock()
			if r.gen != gen {
				return // re-armed or stopped since
			}
			r.stop, r.at = nil, time.Time{}
			ps.evaluateLocked("", true)
		})
	})
}

// read loads and parses the pair's secrets.
func (ps *pairState) read(ctx context.Context) (*candidate, error) {
	c := &candidate{}
	w := certsOnly
	if ps.bundle() {
		w = certsAndKey
	}
	err := ps.use(ctx, ps.p.Cert, &c.cert, func(data []byte) error {
		p, err := parsePEM(data, w)
		if err == nil {
			c.chain, c.key = p.certs, p.key
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if ps.bundle() {
		c.keyV = c.cert
		return c, nil
	}
	err = ps.use(ctx, ps.p.Key, &c.keyV, func(data []byte) error {
		p, err := parsePEM(data, keyOnly)
		if err == nil {
			c.key = p.key
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// use reads the current version of the secret called name into fn,
// recording its version in v, and names the pair in any error.
func (ps *pairState) use(ctx context.Context, name string, v *version, fn func([]byte) error) error {
	ver, err := readSecret(ctx, ps.s.store, name, fn)
	*v = version{name, ver}
	if err != nil {
		return ps.named(err)
	}
	return nil
}

// readSecret calls fn with the current value of the secret called name and
// returns its version. A failure of fn (a parse error) is an ErrMalformed
// naming the secret; a failure to read, ErrUnavailable.
func readSecret(ctx context.Context, store *secrets.Store, name string, fn func([]byte) error) (string, error) {
	for attempt := 0; ; attempt++ {
		sec, err := store.Get(ctx, name)
		if err != nil {
			return "", &Error{Op: "load", Secret: name, Kind: ErrUnavailable, Err: err}
		}
		var parseErr error
		err = sec.Use(func(b []byte) error {
			parseErr = fn(b)
			return parseErr
		})
		switch {
		case parseErr != nil:
			return sec.Version(), &Error{Op: "validate", Secret: name, Version: sec.Version(), Kind: ErrMalformed, Err: parseErr}
		case errors.Is(err, secrets.ErrDestroyed) && attempt == 0:
			continue // rotated between Get and Use: read the new version
		case err != nil:
			return sec.Version(), &Error{Op: "load", Secret: name, Version: sec.Version(), Kind: ErrUnavailable, Err: err}
		}
		return sec.Version(), nil
	}
}

// install puts c into service. ps.mu is held.
func (ps *pairState) install(c *candidate, now time.Time, inMemory bool) error {
	leaf := c.chain[0]
	tc := &tls.Certificate{Leaf: leaf, Certificate: make([][]byte, len(c.chain))}
	for i, cert := range c.chain {
		tc.Certificate[i] = cert.Raw
	}
	if ps.p.SealedKey {
		sg, err := ps.s.vault.signer(ps.p.Name, c.key)
		if err != nil {
			return &Error{Op: "seal", Certificate: ps.p.Name, Secret: c.keyV.secret, Version: c.keyV.version, Kind: ErrUnavailable, Err: err}
		}
		tc.PrivateKey = sg
	} else {
		tc.PrivateKey = redacted(c.key)
	}
	c.key = nil
	sv := &served{cert: tc, chain: c.chain, id: chainID(c.chain), fp: fingerprint(leaf.Raw),
		cv: c.cert, kv: c.keyV, since: now, inMemory: inMemory}
	old := ps.cur.Swap(sv) // the old certificate and its key are dropped here
	ps.down.Store(nil)
	ps.halfSince, ps.holds, ps.refusal, ps.renew.staleID = time.Time{}, 0, refusalKey{}, [32]byte{}
	prevLeaf := ps.leaf
	ps.leaf = leaf
	ps.s.claim(ps, ps.namesFor(leaf))
	ev := Event{Kind: EventLoaded, Certificate: ps.p.Name, Secret: c.cert.secret, Serial: leaf.SerialNumber.Text(16),
		Fingerprint: sv.fp, NotAfter: leaf.NotAfter, Time: now}
	switch {
	case old != nil:
		ev.Kind, ev.PreviousFingerprint = EventRotated, old.fp
	case prevLeaf != nil: // back in service after a withdrawal
		ev.Kind, ev.PreviousFingerprint = EventRotated, fingerprint(prevLeaf.Raw)
	}
	ps.s.publish(ev)
	ps.s.tel.rotated(ps)
	ps.watchExpiry(leaf, now)
	ps.planRenewal(leaf, now)
	return nil
}

// namesFor returns the server names the pair claims for leaf.
func (ps *pairState) namesFor(leaf *x509.Certificate) []string {
	if len(ps.p.ServerNames) > 0 {
		return ps.p.ServerNames
	}
	return leaf.DNSNames
}

// chainID identifies a chain by its content.
func chainID(chain []*x509.Certificate) [32]byte {
	h := sha256.New()
	for _, c := range chain {
		h.Write(c.Raw)
	}
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// named fills in the pair's name on err.
func (ps *pairState) named(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Certificate == "" {
		cp := *e
		cp.Certificate = ps.p.Name
		return &cp
	}
	return err
}

// refused publishes a refusal (from outside the pair's lock).
func (ps *pairState) refused(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.refusedLocked(err, [2]version{})
}

// refusedLocked records and publishes a refused value; the certificate in
// service stays. A refusal of the same versions for the same reason as
// the last one (a forced re-read: a trust bundle rotated, a timer) is
// recorded but not published again. ps.mu is held.
func (ps *pairState) refusedLocked(err error, seen [2]version) {
	err = ps.named(err)
	ps.noteErr(err)
	var e *Error
	secret := ""
	var kind error
	if errors.As(err, &e) {
		secret, kind = e.Secret, e.Kind
	}
	if r := (refusalKey{seen, kind}); seen != ([2]version{}) {
		if r == ps.refusal {
			return
		}
		ps.refusal = r
	}
	ps.s.tel.refused(ps)
	ps.s.publish(Event{Kind: EventRejected, Certificate: ps.p.Name, Secret: secret, Time: ps.lastErrAt, Err: err})
}

// noteErr records err as the pair's last error. ps.mu is held.
func (ps *pairState) noteErr(err error) {
	ps.lastErr, ps.lastErrAt = err, ps.s.clock.Now()
}

// end takes the pair out of service because secret was revoked or
// deleted (kind), stops its timers and renewals, and keeps it so until
// the secret is loaded again.
func (ps *pairState) end(secret string, kind secrets.EventKind) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.endLocked(secret, reason("the secret was %s", kind))
}

// endLocked is end with ps.mu held; cause says what happened to secret.
func (ps *pairState) endLocked(secret string, cause error) {
	if !slices.Contains(ps.ended, secret) {
		ps.ended = append(ps.ended, secret)
	}
	ps.stopTimersLocked()
	rs := &ps.renew
	rs.due, rs.failures, rs.failingSince = time.Time{}, 0, time.Time{}
	ps.halfSince, ps.holds, ps.refusal = time.Time{}, 0, refusalKey{}
	ps.seen = [2]version{} // whatever is loaded next is read afresh
	ps.withdrawLocked(&Error{Op: "serve", Certificate: ps.p.Name, Secret: secret, Kind: ErrNoCertificate, Err: cause},
		EventWithdrawn, ps.s.clock.Now())
}

// endedError is why the pair is out of service for good (until a secret
// is loaded again), or nil. ps.mu is held.
func (ps *pairState) endedError(op string) *Error {
	if len(ps.ended) == 0 {
		return nil
	}
	return &Error{Op: op, Certificate: ps.p.Name, Secret: ps.ended[0], Kind: ErrNoCertificate,
		Err: reason("the secret was revoked or deleted; the certificate is out of service until the secret is loaded again")}
}

// withdrawLocked takes the pair out of service, as of at: handshakes for
// its names then fail with err, or go to another pair claiming the name.
// ps.mu is held.
func (ps *pairState) withdrawLocked(err *Error, kind EventKind, at time.Time) {
	old := ps.cur.Swap(nil)
	ps.down.Store(err)
	ps.lastErr, ps.lastErrAt = err, at
	if old == nil {
		return
	}
	ps.s.claim(ps, ps.names)
	leaf := old.chain[0]
	ps.s.publish(Event{Kind: kind, Certificate: ps.p.Name, Serial: leaf.SerialNumber.Text(16), Fingerprint: old.fp,
		NotAfter: leaf.NotAfter, Time: ps.lastErrAt, Err: err})
}

// watchExpiry arms the expiry thresholds of leaf, just put in service.
// ps.mu is held.
func (ps *pairState) watchExpiry(leaf *x509.Certificate, now time.Time) {
	if ps.alarmStop != nil {
		ps.alarmStop()
		ps.alarmStop = nil
	}
	ps.alarms = alarms(leaf, ps.s.opts.Thresholds, now)
	ps.ring(leaf, now)
}

// ring reports the alarms of leaf that are due at now (the last of them
// only, or the expiry) and arms a timer for the next one. ps.mu is held.
func (ps *pairState) ring(leaf *x509.Certificate, now time.Time) {
	if ps.leaf != leaf || ps.cur.Load() == nil {
		return // a timer of a certificate no longer in service
	}
	var due *alarm
	for len(ps.alarms) > 0 && !ps.alarms[0].at.After(now) {
		due = &ps.alarms[0]
		ps.alarms = ps.alarms[1:]
		if due.expired {
			break
		}
	}
	if due != nil && due.expired {
		ps.expired(leaf, now)
		return
	}
	// The next timer is armed before the event goes out, and its delay
	// counts from the clock's time now, not from now: a subscriber (or a
	// test moving a virtual clock) that acts on the event finds it armed
	// for the right instant.
	if len(ps.alarms) > 0 {
		ps.alarmStop = ps.s.clock.AfterFunc(ps.alarms[0].at.Sub(ps.s.clock.Now()), func() {
			ps.s.life.spawn(func() {
				ps.mu.Lock()
				defer ps.mu.Unlock()
				ps.ring(leaf, ps.s.clock.Now())
			})
		})
	}
	if due != nil {
		ps.s.publish(Event{Kind: EventExpiring, Certificate: ps.p.Name, Serial: leaf.SerialNumber.Text(16),
			Fingerprint: fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Threshold: due.threshold, Time: now})
	}
}

// expired withdraws leaf, in service, at its expiry. ps.mu is held.
func (ps *pairState) expired(leaf *x509.Certificate, now time.Time) {
	ps.withdrawLocked(&Error{Op: "serve", Certificate: ps.p.Name, Kind: ErrExpired,
		Err: reason("leaf (serial %s) expired at %s", leaf.SerialNumber.Text(16), stamp(leaf.NotAfter))}, EventExpired, now)
}

// stopTimers stops the pair's timers, at Close.
func (ps *pairState) stopTimers() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.stopTimersLocked()
}

// stopTimersLocked stops the pair's timers: expiry alarms, re-reads,
// renewal and its staleness deadline. ps.mu is held.
func (ps *pairState) stopTimersLocked() {
	for _, stop := range []*func() bool{&ps.alarmStop, &ps.renew.stop, &ps.renew.staleStop} {
		if *stop != nil {
			(*stop)()
			*stop = nil
		}
	}
	ps.reread.halt()
}
