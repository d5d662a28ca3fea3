package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/strongroom/strongroom/secrets"
)

// Issuer obtains certificates: an ACME CA ([ACME]), a local development CA
// ([DevCA]), or a CA of the program's own. Implementations must be safe
// for concurrent use.
type Issuer interface {
	// Issue returns a certificate chain, DER-encoded and leaf first, for
	// the public key and the names (DNSNames, IPAddresses) of csr. The
	// private key never leaves the caller: the issuer sees only the
	// request, whose signature it should check (csr.CheckSignature).
	// Issue honours ctx.
	Issue(ctx context.Context, csr *x509.CertificateRequest) ([][]byte, error)
}

// Renewal says how a [Source] renews a certificate. Issuer is required;
// every other field's zero value selects a documented default.
//
// A renewal makes a new ECDSA P-256 key, asks the Issuer to certify it,
// validates the result as any new certificate (plus the names requested),
// writes the new pair back to the store (Store.Write, through the
// secrets' provider) and puts it in service. Where the provider cannot
// write (a "#cert" part of a file, an environment variable) or the write
// fails, the new pair is served from memory only, and EventRenewed
// carries the write error; but when the write fails because a secret of
// the pair was revoked or deleted (as the store reports it), the new pair
// is dropped and the pair taken out of service, as a revocation seen from
// the store does. A pair held as one bundle secret is written in one
// step; a two-secret pair in two: key, then certificate, with the key put
// back as it was if the certificate cannot be written (the old key is
// read before the write, so this holds however late the failure comes).
// Prefer a bundle where the provider can write both halves at once: a
// reader of the store between the two writes (another process) sees the
// new key with the old certificate, which [Options].PairGrace covers
// for a Source. A renewal served from memory stays in service until the
// store holds a newer pair or the next renewal succeeds; re-reads of the
// store (a trust bundle rotation, say) do not put back the pair it
// replaced.
type Renewal struct {
	// Issuer obtains the certificate. Required.
	Issuer Issuer

	// DNSNames and IPAddresses are the names to request. Zero (both): the
	// names of the certificate in service; a pair whose secrets hold no
	// certificate yet needs them.
	DNSNames    []string // DNS names to request
	IPAddresses []net.IP // IP addresses to request

	// Ahead is the fraction of a certificate's lifetime (NotBefore to
	// NotAfter) after which it is renewed. Zero: 2/3. In (0, 1).
	Ahead float64

	// Jitter is the fraction of the lifetime by which a renewal is
	// brought forward at random, so that many processes do not renew
	// together. Zero: 0.1. Negative: none. Below Ahead.
	Jitter float64

	// MinBackoff and MaxBackoff bound the wait after a failed attempt:
	// exponential from MinBackoff, doubling per consecutive failure,
	// capped at MaxBackoff, with full jitter (at least MinBackoff/10).
	// Zero: 1 second (1 minute when Issuer is an *[ACME], whose CAs limit
	// failed validations per account and name: Let's Encrypt allows 5
	// an hour) and 5 minutes (at least MinBackoff).
	MinBackoff, MaxBackoff time.Duration

	// MaxStale is how long renewals may fail before the certificate is
	// withdrawn (handshakes for it then fail with ErrStale) even though
	// it has not expired. Zero: it is served until it expires.
	MaxStale time.Duration

	// Timeout bounds one attempt (Issue and the write back). Zero: 5
	// minutes.
	Timeout time.Duration
}

// defaultACMEBackoff is Renewal.MinBackoff's default for an ACME issuer.
const defaultACMEBackoff = time.Minute

// normalized checks r and returns it with defaults filled in.
func (r Renewal) normalized() (Renewal, error) {
	switch {
	case r.Issuer == nil:
		return r, reason("Issuer is required")
	case r.Ahead < 0 || r.Ahead >= 1:
		return r, reason("Ahead %v outside (0, 1)", r.Ahead)
	case r.MinBackoff < 0 || r.MaxBackoff < 0 || r.MaxStale < 0 || r.Timeout < 0:
		return r, reason("negative duration")
	case r.MaxBackoff > 0 && r.MaxBackoff < r.MinBackoff:
		return r, reason("MaxBackoff %v below MinBackoff %v", r.MaxBackoff, r.MinBackoff)
	}
	if r.Ahead == 0 {
		r.Ahead = 2.0 / 3
	}
	if r.Jitter == 0 {
		r.Jitter = 0.1
	} else if r.Jitter < 0 {
		r.Jitter = 0
	}
	if r.Jitter >= r.Ahead {
		return r, reason("Jitter %v must be below Ahead %v", r.Jitter, r.Ahead)
	}
	if r.MinBackoff == 0 {
		r.MinBackoff = time.Second
		if _, ok := r.Issuer.(*ACME); ok {
			r.MinBackoff = defaultACMEBackoff
		}
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = max(5*time.Minute, r.MinBackoff)
	}
	if r.Timeout == 0 {
		r.Timeout = 5 * time.Minute
	}
	return r, nil
}

// renewState is a pair's renewal schedule. mu serialises attempts and is
// held across Issue and the write back; the other fields are guarded by
// pairState.mu.
type renewState struct {
	mu           sync.Mutex
	stop         func() bool // cancels the timer of the next attempt
	staleStop    func() bool // cancels the staleness deadline
	due          time.Time
	failures     int
	failingSince time.Time
	staleID      [32]byte // the chain withdrawn for MaxStale, until another is in service
}

// planRenewal schedules the renewal of leaf, just put in service, and
// clears any failure record. ps.mu is held.
func (ps *pairState) planRenewal(leaf *x509.Certificate, now time.Time) {
	r := ps.p.Renewal
	if r == nil {
		return
	}
	rs := &ps.renew
	rs.failures, rs.failingSince = 0, time.Time{}
	if rs.staleStop != nil {
		rs.staleStop()
		rs.staleStop = nil
	}
	life := leaf.NotAfter.Sub(leaf.NotBefore)
	due := leaf.NotBefore.Add(time.Duration(float64(life) * r.Ahead)).Add(-ps.s.rand.Upto(time.Duration(float64(life) * r.Jitter)))
	ps.armRenewal(due, now)
}

// armRenewal sets the next attempt at due. ps.mu is held.
func (ps *pairState) armRenewal(due, now time.Time) {
	rs := &ps.renew
	if rs.stop != nil {
		rs.stop()
		rs.stop = nil
	}
	rs.due = due
	fire := func() {
		ps.s.life.spawn(func() {
			ctx, cancel := ps.s.life.context(context.Background(), ps.p.Renewal.Timeout)
			defer cancel()
			ps.attempt(ctx, true)
		})
	}
	if !due.After(now) {
		fire()
		return
	}
	rs.stop = ps.s.clock.AfterFunc(due.Sub(ps.s.clock.Now()), fire) // from the clock's time now, not from now
}

// Renew renews the certificate called name now, whatever its schedule,
// and waits for the outcome or for ctx to end. It fails with ErrConfig for
// an unknown name or a pair without a Renewal, with ErrClosed after Close,
// with ErrNoCertificate while a secret of the pair is revoked or deleted
// (until it is loaded again), and otherwise with the attempt's error
// (after which the usual backoff and retries follow).
func (s *Source) Renew(ctx context.Context, name string) error {
	ps := s.byName[name]
	switch {
	case ps == nil:
		return &Error{Op: "renew", Certificate: name, Kind: ErrConfig, Err: reason("no such certificate")}
	case ps.p.Renewal == nil:
		return &Error{Op: "renew", Certificate: name, Kind: ErrConfig, Err: reason("the pair has no Renewal")}
	case !s.life.enter():
		return &Error{Op: "renew", Certificate: name, Kind: ErrClosed}
	}
	defer s.life.leave()
	return ps.renewNow(ctx)
}

// renewNow runs one attempt, bounded by ctx and Renewal.Timeout.
func (ps *pairState) renewNow(ctx context.Context) error {
	ctx, cancel := ps.s.life.context(ctx, ps.p.Renewal.Timeout)
	defer cancel()
	return ps.attempt(ctx, false)
}

// attempt renews the pair once: issue, validate, write back, serve. On
// failure it schedules a retry after a backoff. A scheduled attempt that
// finds the certificate no longer due once it holds the lock (a Renew or
// a rotation got there first, or a failure set a backoff) does nothing.
// While the pair is ended (a secret revoked or deleted) it fails with
// ErrNoCertificate and schedules nothing.
func (ps *pairState) attempt(ctx context.Context, scheduled bool) error {
	ps.renew.mu.Lock()
	defer ps.renew.mu.Unlock()
	ps.mu.Lock()
	if err := ps.endedError("renew"); err != nil {
		ps.mu.Unlock()
		return err
	}
	if scheduled && (ps.renew.due.IsZero() || ps.s.clock.Now().Before(ps.renew.due)) {
		ps.mu.Unlock()
		return nil
	}
	ps.mu.Unlock()
	c, err := ps.issue(ctx)
	if err != nil {
		err = ps.named(err)
		if !ps.s.life.isClosed() {
			ps.renewalFailed(err)
		}
		return err
	}
	ps.mu.Lock()
	if err := ps.endedError("renew"); err != nil {
		ps.mu.Unlock()
		return err // revoked while issuing: the new certificate is dropped
	}
	ps.writing = true
	ps.mu.Unlock()
	seen, werr := ps.writeBack(ctx, c)
	ended := ps.endedSecret(werr)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.writing = false
	defer ps.evaluatePending()
	if err := ps.endedError("renew"); err != nil {
		return err
	}
	if ps.s.life.isClosed() {
		return &Error{Op: "renew", Certificate: ps.p.Name, Kind: ErrClosed}
	}
	now := ps.s.clock.Now()
	leaf := c.chain[0]
	if ended != "" {
		// The secret is gone from the store: never a reason to serve the
		// new pair from memory.
		ps.endLocked(ended, werr)
		ps.s.publish(Event{Kind: EventRenewalFailed, Certificate: ps.p.Name, Secret: ended, Time: now, Err: werr})
		return werr
	}
	ps.s.publish(Event{Kind: EventRenewed, Certificate: ps.p.Name, Secret: ps.p.Cert, Serial: leaf.SerialNumber.Text(16),
		Fingerprint: fingerprint(leaf.Raw), NotAfter: leaf.NotAfter, Time: now, Err: werr})
	if err := ps.install(c, now, werr != nil); err != nil {
		ps.renewalFailedLocked(err, now)
		return err
	}
	ps.seen, ps.memBase = seen, seen
	return nil
}

// evaluatePending runs, on a goroutine of its own, the evaluation asked
// for while a renewal was writing back. ps.mu is held.
func (ps *pairState) evaluatePending() {
	if !ps.pending.asked {
		return
	}
	force := ps.pending.force
	ps.pending.asked, ps.pending.force = false, false
	ps.s.life.spawn(func() { ps.evaluate("", force) })
}

// endedSecret returns, after a failed write-back (werr not nil), the
// secret of the pair that the store reports revoked or deleted, or "". It
// asks the store rather than reading werr, which may carry a provider's
// own "not found" or a failed restore of the key, neither of which ends
// the secret.
func (ps *pairState) endedSecret(werr error) string {
	if werr == nil {
		return ""
	}
	names := []string{ps.p.Cert}
	if !ps.bundle() {
		names = append(names, ps.p.Key)
	}
	for _, name := range names {
		md, err := ps.s.store.Metadata(name)
		switch {
		case errors.Is(err, secrets.ErrNotFound):
			return name // no longer declared
		case err == nil && (md.State == secrets.StateRevoked || md.State == secrets.StateDeleted):
			return name
		}
	}
	return ""
}

// issue obtains and validates a new certificate and key.
func (ps *pairState) issue(ctx context.Context) (*candidate, error) {
	r := ps.p.Renewal
	fail := func(kind, err error) (*candidate, error) {
		return nil, &Error{Op: "renew", Certificate: ps.p.Name, Kind: kind, Err: err}
	}
	dns, ips := r.DNSNames, r.IPAddresses
	if len(dns) == 0 && len(ips) == 0 {
		ps.mu.Lock()
		if ps.leaf != nil {
			dns, ips = ps.leaf.DNSNames, ps.leaf.IPAddresses
		}
		ps.mu.Unlock()
		if len(dns) == 0 && len(ips) == 0 {
			return fail(ErrConfig, reason("no names to request: set Renewal.DNSNames or IPAddresses"))
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fail(ErrIssue, err)
	}
	tmpl := &x509.CertificateRequest{DNSNames: dns, IPAddresses: ips}
	if len(dns) > 0 {
		tmpl.Subject = pkix.Name{CommonName: dns[0]}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return fail(ErrIssue, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return fail(ErrIssue, err)
	}
	chainDER, err := r.Issuer.Issue(ctx, csr)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, ps.named(err) // this package's issuers say what failed
		}
		return fail(ErrIssue, err)
	}
	if len(chainDER) == 0 {
		return fail(ErrIssue, reason("the issuer returned no certificate"))
	}
	c := &candidate{key: key}
	for i, d := range chainDER {
		cert, err := x509.ParseCertificate(d)
		if err != nil {
			return fail(ErrIssue, reason("issued certificate %d does not parse: %v", i+1, err))
		}
		c.chain = append(c.chain, cert)
	}
	serial := c.chain[0].SerialNumber.Text(16)
	c.cert = version{ps.p.Cert, "issued:" + serial}
	c.keyV = version{ps.p.Key, "issued:" + serial}
	if ps.bundle() {
		c.keyV = c.cert
	}
	v := Validation{DNSNames: dns, IPAddresses: ips}
	if pv := ps.p.Validation; pv != nil {
		v.Roots, v.Trust, v.KeyUsages = pv.Roots, pv.Trust, pv.KeyUsages
		v.DNSNames = append(append([]string(nil), pv.DNSNames...), dns...)
		v.IPAddresses = append(append([]net.IP(nil), pv.IPAddresses...), ips...)
	}
	if rerr := c.check(ps.s.clock.Now(), &v, c.cert); rerr != nil {
		rerr.Op = "renew"
		return nil, rerr
	}
	return c, nil
}

// writeBack writes c's chain and key to the pair's secrets, so that the
// store holds the new pair; on success it records their store versions in
// c. It returns the store versions the pair is to count as read (those
// written or, after a failure, those the store holds now) and why it
// could not write, in which case c is served from memory only, unless the
// store reports a secret of the pair revoked or deleted. ps.mu is not
// held: the writes are I/O.
//
// A bundle is one write, all or nothing. A two-secret pair is written key
// first; the key the store held is read (copied to the heap, and wiped
// on return) before, so that when the certificate's write then fails,
// however late, the old key is written back and the store does not hold
// a key that does not match its certificate. When that is impossible
// (the secret held no key, or writing it back fails too), the error says
// so: the store then holds the new key with the old certificate until
// the next renewal or rotation.
func (ps *pairState) writeBack(ctx context.Context, c *candidate) ([2]version, error) {
	var certPEM []byte
	for _, cert := range c.chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		return ps.storeVersions(ctx), &Error{Op: "write", Certificate: ps.p.Name, Secret: ps.p.Key, Kind: ErrIssue, Err: reason("the new key cannot be encoded")}
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	clear(keyDER)
	defer clear(keyPEM)
	st := ps.s.store
	if ps.bundle() {
		value := append(certPEM, keyPEM...)
		defer clear(value)
		sec, err := st.Write(ctx, ps.p.Cert, value)
		if err != nil {
			return ps.storeVersions(ctx), ps.writeError(ps.p.Cert, err, nil)
		}
		c.cert = version{ps.p.Cert, sec.Version()}
		c.keyV = c.cert
		return [2]version{c.cert, c.keyV}, nil
	}
	oldKey := ps.currentKey(ctx)
	defer clear(oldKey)
	ksec, err := st.Write(ctx, ps.p.Key, keyPEM)
	if err != nil {
		return ps.storeVersions(ctx), ps.writeError(ps.p.Key, err, nil)
	}
	keyV := version{ps.p.Key, ksec.Version()}
	csec, err := st.Write(ctx, ps.p.Cert, certPEM)
	if err != nil {
		rerr := ps.restoreKey(ctx, oldKey)
		return ps.storeVersions(ctx), ps.writeError(ps.p.Cert, err, rerr)
	}
	c.cert, c.keyV = version{ps.p.Cert, csec.Version()}, keyV
	return [2]version{c.cert, c.keyV}, nil
}

// currentKey returns a copy of the value the key secret holds now, or nil
// when it holds none. The caller wipes it.
func (ps *pairState) currentKey(ctx context.Context) []byte {
	sec, err := ps.s.store.Get(ctx, ps.p.Key)
	if err != nil {
		return nil
	}
	var old []byte
	sec.Use(func(v []byte) error {
		old = append(make([]byte, 0, len(v)), v...)
		return nil
	})
	return old
}

// restoreKey writes old, the value the key secret held before the
// write-back, back to it, after the new key was written but its
// certificate could not be. It is bounded by its own short timeout, since
// ctx may be what ended the certificate's write.
func (ps *pairState) restoreKey(ctx context.Context, old []byte) error {
	if old == nil {
		return fmt.Errorf("the new key stays in secret %s with the old certificate: the secret held no key before", ps.p.Key)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), restoreTimeout)
	defer cancel()
	if _, err := ps.s.store.Write(ctx, ps.p.Key, old); err != nil {
		return fmt.Errorf("the new key stays in secret %s with the old certificate: writing the previous key back failed (%w)", ps.p.Key, err)
	}
	return nil
}

// restoreTimeout bounds writing a key back after a half-failed write-back.
const restoreTimeout = 10 * time.Second

// storeVersions returns the versions of the pair's secrets the store
// holds now (empty where it holds none).
func (ps *pairState) storeVersions(ctx context.Context) [2]version {
	get := func(name string) version {
		v := version{secret: name}
		if sec, err := ps.s.store.Get(ctx, name); err == nil {
			v.version = sec.Version()
		}
		return v
	}
	cv := get(ps.p.Cert)
	if ps.bundle() {
		return [2]version{cv, cv}
	}
	return [2]version{cv, get(ps.p.Key)}
}

// writeError is the error of a failed write of secret; restore, when
// not nil, says the key could not be put back as it was.
func (ps *pairState) writeError(secret string, err, restore error) *Error {
	if restore != nil {
		err = errors.Join(err, restore)
	}
	if !errors.Is(err, secrets.ErrUnsupported) {
		ps.s.log.Warn("strongroom: renewed certificate could not be written back",
			"certificate", ps.p.Name, "secret", secret, "error", err.Error())
	}
	return &Error{Op: "write", Certificate: ps.p.Name, Secret: secret, Kind: ErrUnavailable, Err: err}
}

// renewalFailed records a failed attempt and schedules the next one.
func (ps *pairState) renewalFailed(err error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.renewalFailedLocked(err, ps.s.clock.Now())
}

// renewalFailedLocked records a failed attempt, arms the staleness
// deadline at the first failure, and schedules a retry after a backoff
// before it publishes the failure. ps.mu is held.
func (ps *pairState) renewalFailedLocked(err error, now time.Time) {
	r, rs := ps.p.Renewal, &ps.renew
	rs.failures++
	ps.noteErr(err)
	if rs.failingSince.IsZero() {
		rs.failingSince = now
		if r.MaxStale > 0 {
			since := now
			rs.staleStop = ps.s.clock.AfterFunc(r.MaxStale, func() {
				ps.s.life.spawn(func() { ps.staleDeadline(since) })
			})
		}
	}
	wait := ps.s.rand.Backoff(rs.failures, r.MinBackoff, r.MaxBackoff)
	ps.armRenewal(now.Add(wait), now)
	ps.s.publish(Event{Kind: EventRenewalFailed, Certificate: ps.p.Name, Time: now, Err: err})
}

// staleDeadline withdraws the certificate when renewals have failed since
// since for Renewal.MaxStale.
func (ps *pairState) staleDeadline(since time.Time) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	rs := &ps.renew
	if !rs.failingSince.Equal(since) {
		return // a renewal succeeded meanwhile
	}
	if sv := ps.cur.Load(); sv != nil {
		ps.renew.staleID = sv.id
	}
	ps.withdrawLocked(&Error{Op: "serve", Certificate: ps.p.Name, Kind: ErrStale,
		Err: reason("renewals failing since %s, over the %s budget; last error: %v",
			stamp(since), ps.p.Renewal.MaxStale, ps.lastErr)}, EventWithdrawn, since.Add(ps.p.Renewal.MaxStale))
}
