package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
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
	lastErr   error
	lastErrAt time.Time
	alarms    []alarm
	alarmStop func() bool
	retryStop func() bool // re-reads a certificate refused as not yet valid
	renew     renewState
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
	if ps.p.Key == "" || ps.p.Key == ps.p.Cert {
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

// evaluate reads the pair from the store after trigger (a secret's name)
// changed, and swaps it into service if it differs from the certificate in
// service and passes validation; otherwise it publishes the refusal.
// Unless force is set, versions already read are ignored: an event that
// arrives late (the first load, a renewal's own write) changes nothing.
func (ps *pairState) evaluate(trigger string, force bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ctx, cancel := ps.s.life.context(context.Background(), ps.s.opts.LoadTimeout)
	defer cancel()
	c, err := ps.read(ctx)
	if err != nil {
		if errors.Is(err, secrets.ErrClosed) || ctx.Err() != nil {
			return // shutting down
		}
		ps.refusedLocked(err)
		return
	}
	seen := [2]version{c.cert, c.keyV}
	if seen == ps.seen && !force {
		return
	}
	ps.seen = seen
	if cur := ps.cur.Load(); cur != nil && cur.id == chainID(c.chain) && matches(c.chain[0], c.key) {
		return // the same pair (a rewrite, or our own renewal written back)
	}
	blame := c.cert
	if trigger == ps.p.Key {
		blame = c.keyV
	}
	now := ps.s.clock.Now()
	if rerr := c.check(now, ps.p.Validation, blame); rerr != nil {
		if rerr.Kind == ErrNotYetValid {
			ps.retryAt(c.chain[0].NotBefore, now)
		}
		ps.refusedLocked(rerr)
		return
	}
	if err := ps.install(c, now, false); err != nil {
		ps.refusedLocked(err)
	}
}

// retryAt reads the pair again at t, when a certificate refused as not yet
// valid becomes valid. ps.mu is held.
func (ps *pairState) retryAt(t, now time.Time) {
	if ps.retryStop != nil {
		ps.retryStop()
	}
	ps.retryStop = ps.s.clock.AfterFunc(t.Sub(now)+time.Millisecond, func() {
		ps.s.life.spawn(func() { ps.evaluate("", true) })
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
	tc := &tls.Certificate{Leaf: leaf, PrivateKey: c.key, Certificate: make([][]byte, len(c.chain))}
	for i, cert := range c.chain {
		tc.Certificate[i] = cert.Raw
	}
	if ps.p.SealedKey {
		sg, err := ps.s.vault.signer(c.key)
		if err != nil {
			return &Error{Op: "seal", Certificate: ps.p.Name, Secret: c.keyV.secret, Version: c.keyV.version, Kind: ErrUnavailable, Err: err}
		}
		tc.PrivateKey = sg
	}
	c.key = nil
	sv := &served{cert: tc, chain: c.chain, id: chainID(c.chain), fp: fingerprint(leaf.Raw),
		cv: c.cert, kv: c.keyV, since: now, inMemory: inMemory}
	old := ps.cur.Swap(sv) // the old certificate and its key are dropped here
	ps.down.Store(nil)
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
	ps.refusedLocked(err)
}

// refusedLocked records and publishes a refused value; the certificate in
// service stays. ps.mu is held.
func (ps *pairState) refusedLocked(err error) {
	err = ps.named(err)
	ps.noteErr(err)
	var e *Error
	secret := ""
	if errors.As(err, &e) {
		secret = e.Secret
	}
	ps.s.tel.refused(ps)
	ps.s.publish(Event{Kind: EventRejected, Certificate: ps.p.Name, Secret: secret, Time: ps.lastErrAt, Err: err})
}

// noteErr records err as the pair's last error. ps.mu is held.
func (ps *pairState) noteErr(err error) {
	ps.lastErr, ps.lastErrAt = err, ps.s.clock.Now()
}

// withdraw takes the pair out of service (its secret was revoked or
// deleted).
func (ps *pairState) withdraw(err *Error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.withdrawLocked(err, EventWithdrawn, ps.s.clock.Now())
}

// withdrawLocked takes the pair out of service, as of at: handshakes for
// its names then fail with err. ps.mu is held.
func (ps *pairState) withdrawLocked(err *Error, kind EventKind, at time.Time) {
	old := ps.cur.Swap(nil)
	ps.down.Store(err)
	ps.lastErr, ps.lastErrAt = err, at
	if old == nil {
		return
	}
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
	if due != nil {
		if due.expired {
			ps.withdrawLocked(&Error{Op: "serve", Certificate: ps.p.Name, Kind: ErrExpired,
				Err: reason("leaf (serial %s) expired at %s", leaf.SerialNumber.Text(16), stamp(leaf.NotAfter))}, EventExpired, now)
			return
		}
		ps.s.publish(Event{Kind: EventExpiring, Certificate: ps.p.Name, Serial: leaf.SerialNumber.Text(16),
			Fingerprint: fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Threshold: due.threshold, Time: now})
	}
	if len(ps.alarms) > 0 {
		ps.alarmStop = ps.s.clock.AfterFunc(ps.alarms[0].at.Sub(now), func() {
			ps.s.life.spawn(func() {
				ps.mu.Lock()
				defer ps.mu.Unlock()
				ps.ring(leaf, ps.s.clock.Now())
			})
		})
	}
}

// stopTimers stops the pair's timers, at Close.
func (ps *pairState) stopTimers() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, stop := range []func() bool{ps.alarmStop, ps.retryStop, ps.renew.stop, ps.renew.staleStop} {
		if stop != nil {
			stop()
		}
	}
}
