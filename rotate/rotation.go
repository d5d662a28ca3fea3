package rotate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/strongroom/strongroom/internal/busy"
	"github.com/strongroom/strongroom/secrets"
)

// rotation runs one Rotation: a loop that reads the state record, does at
// most one step, writes the record, and waits.
type rotation struct {
	r                     *Rotator
	spec                  Rotation
	name, pending, state  string
	wake                  chan func() // a hold's release (or a no-op) per wake-up
	unsubscribe           func()
	unannotate            func()
	backoff               time.Duration // after a step that failed at the backend
	mu                    sync.Mutex
	last                  record // as last read
	waiters               []*waiter
	waitingForReadersSent string // rotation id the event was sent for
}

// waiter is a caller of RotateNow, Emergency or Rollback.
type waiter struct {
	emergency, rollback bool
	id                  string // the rotation it waits for, once started or joined
	done                chan error
}

// poke wakes the loop.
func (rt *rotation) poke() {
	_, release := busy.Hold(rt.r.clock, context.Background())
	select {
	case rt.wake <- release:
	default:
		release() // a wake-up is pending already
	}
}

// init reads the state record, writing a first one when there is none.
func (rt *rotation) init(ctx context.Context) error {
	rec, _, err := rt.read(ctx)
	if err == nil {
		rt.setLast(rec)
		return rt.initPending(ctx)
	}
	if !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	now := rt.r.clock.Now()
	rec = record{Step: StepIdle}
	if rt.spec.Policy.Every > 0 {
		rec.Next = now.Add(jittered(rt.spec.Policy.Every, rt.spec.Policy.Jitter))
	}
	if _, err := rt.r.store.WriteIf(ctx, rt.state, rec.encode(), ""); err != nil && !errors.Is(err, secrets.ErrConflict) {
		return err
	}
	if err := rt.r.store.Refresh(ctx, rt.state); err != nil {
		return err
	}
	rec, _, err = rt.read(ctx)
	if err != nil {
		return err
	}
	rt.setLast(rec)
	return rt.initPending(ctx)
}

// initPending gives a pending secret that does not exist yet at the
// backend the current value, so that it exists (the store does not keep
// failing to fetch it) and holds no credential the target does not know.
func (rt *rotation) initPending(ctx context.Context) error {
	if _, err := rt.r.store.Get(ctx, rt.pending); !errors.Is(err, secrets.ErrNotFound) {
		return nil // there, or failing for another reason the store reports
	}
	return rt.r.store.Use(ctx, rt.name, func(v []byte) error {
		_, err := rt.r.store.Write(ctx, rt.pending, v)
		return err
	})
}

// read returns the state record as the store holds it, and its version.
func (rt *rotation) read(ctx context.Context) (record, string, error) {
	sec, err := rt.r.store.Get(ctx, rt.state)
	if err != nil {
		return record{}, "", err
	}
	var rec record
	err = sec.Use(func(v []byte) error {
		var err error
		rec, err = parseRecord(v)
		return err
	})
	return rec, sec.Version(), err
}

// lastSeq is the sequence number of the record last read or written.
func (rt *rotation) lastSeq() uint64 {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.last.Seq
}

func (rt *rotation) setLast(rec record) {
	rt.mu.Lock()
	rt.last = rec
	rt.mu.Unlock()
}

// run is the loop. release ends the hold on a virtual clock its caller
// took, so that the first tick counts as work the clock waits for.
func (rt *rotation) run(release func()) {
	defer rt.r.wg.Done()
	ctx := rt.r.ctx
	for {
		wait := rt.tick(ctx)
		if ctx.Err() != nil {
			release()
			return
		}
		// The next wake-up is arranged before this one's hold is released,
		// so that a virtual clock's Advance waits for the whole chain.
		var stop func() bool
		switch {
		case wait > 0:
			stop = rt.r.clock.AfterFunc(wait, rt.poke)
		case wait == 0:
			rt.poke()
		} // wait < 0: nothing is due; a poke (a demand, a record change) wakes it
		release()
		select {
		case release = <-rt.wake:
		case <-ctx.Done():
			if stop != nil {
				stop()
			}
			return
		}
		if stop != nil {
			stop()
		}
	}
}

// errConflict: another instance wrote the record first.
var errConflict = errors.New("rotate: the state record changed under this instance")

// tick reads the record and does what is due: one step of a rotation
// this instance holds, taking over one whose lease has ended, starting
// one, or nothing. It returns how long to wait before the next tick (0:
// at once; negative: until woken).
func (rt *rotation) tick(ctx context.Context) time.Duration {
	rec, ver, err := rt.read(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		rt.r.log.Warn("strongroom: rotation: cannot read the state record", "secret", rt.name, "error", err.Error())
		return rt.nextBackoff()
	}
	rt.setLast(rec)
	rt.answerWaiters(rec)
	now := rt.r.clock.Now()
	var wait time.Duration
	switch {
	case rec.active() && rec.Owner != rt.r.instance && rec.leaseHeld(now):
		rt.joinWaiters(ctx, &rec, ver)
		return rec.LeaseUntil.Sub(now) + time.Millisecond
	case rec.active() && rec.Owner != rt.r.instance:
		from := rec.Owner
		rec.Owner = rt.r.instance
		if err = rt.save(ctx, &rec, ver); err == nil {
			rt.audit(rec, "take-over", nil, "from", from)
			rt.r.publish(Event{Kind: EventTakenOver, Secret: rt.name, Rotation: rec.ID, Step: rec.Step})
			// What this instance's store holds may predate the owner's writes.
			rt.r.store.Refresh(ctx, rt.pending)
			rt.r.store.Refresh(ctx, rt.name)
		}
	case rec.active():
		rt.applyDemands(&rec)
		wait, err = rt.step(ctx, rec, ver)
	default:
		wait, err = rt.maybeStart(ctx, rec, ver, now)
	}
	switch {
	case errors.Is(err, errConflict):
		rt.r.store.Refresh(ctx, rt.state)
		return 0
	case err != nil:
		return rt.nextBackoff()
	}
	rt.backoff = 0
	return wait
}

// nextBackoff doubles the wait after a failure, from 1 s to Policy.Retry.
func (rt *rotation) nextBackoff() time.Duration {
	rt.backoff = min(max(2*rt.backoff, time.Second), rt.spec.Policy.Retry)
	return rt.backoff
}

// save writes rec, conditioned on ver, with this instance's lease renewed.
func (rt *rotation) save(ctx context.Context, rec *record, ver string) error {
	rec.LeaseUntil = rt.r.clock.Now().Add(rt.spec.Policy.Lease)
	if rec.Step == StepIdle {
		rec.Owner, rec.LeaseUntil = "", time.Time{}
	}
	rec.Seq = rt.lastSeq() + 1
	_, err := rt.r.store.WriteIf(ctx, rt.state, rec.encode(), ver)
	if errors.Is(err, secrets.ErrConflict) {
		return errConflict
	}
	if err != nil {
		rt.r.log.Warn("strongroom: rotation: cannot write the state record", "secret", rt.name, "rotation", rec.ID, "error", err.Error())
	}
	rt.setLast(*rec)
	return err
}

// maybeStart starts a rotation when one is due or asked for.
func (rt *rotation) maybeStart(ctx context.Context, rec record, ver string, now time.Time) (time.Duration, error) {
	reason, emergency, wait := rt.due(rec, now)
	if reason == "" {
		return wait, nil
	}
	next := record{
		Step: StepCreate, ID: now.UTC().Format("20060102T150405Z") + "-" + randomID(4),
		Strategy: rt.spec.Strategy.name(), Reason: reason, Emergency: emergency,
		Owner: rt.r.instance, Started: now, Last: rec.Last, Next: rec.Next,
	}
	if err := rt.save(ctx, &next, ver); err != nil {
		return 0, err
	}
	rt.mu.Lock()
	for _, w := range rt.waiters {
		if w.id == "" && !w.rollback {
			w.id = next.ID
		}
	}
	rt.mu.Unlock()
	rt.r.tel.start(rt.name, reason)
	rt.audit(next, "start", nil, "reason", reason)
	rt.r.publish(Event{Kind: EventStarted, Secret: rt.name, Rotation: next.ID, Step: StepCreate, Reason: reason})
	return 0, nil
}

// due says why a rotation should start now ("" when none should), whether
// as an emergency, and otherwise how long until one is due (negative:
// nothing is scheduled; wait to be woken).
func (rt *rotation) due(rec record, now time.Time) (reason string, emergency bool, wait time.Duration) {
	rt.mu.Lock()
	for _, w := range rt.waiters {
		if w.rollback {
			continue
		}
		if w.emergency {
			emergency = true
		}
		reason = "demand"
	}
	for _, w := range rt.waiters {
		if w.rollback && w.id == "" {
			// Nothing under way to roll back.
			w.done <- &Error{Secret: rt.name, Op: "rollback", Err: errors.New("no rotation under way")}
		}
	}
	rt.waiters = keepWaiters(rt.waiters, func(w *waiter) bool { return !w.rollback || w.id != "" })
	rt.mu.Unlock()
	if emergency {
		return "emergency", true, 0
	}
	if reason != "" {
		return reason, false, 0
	}
	p := rt.spec.Policy
	if p.Every > 0 && !rec.Next.IsZero() && !now.Before(rec.Next) {
		return "schedule", false, 0
	}
	if p.Every > 0 && rec.Next.IsZero() {
		return "schedule", false, 0
	}
	if p.MaxAge > 0 {
		born := rt.born(rec)
		if !born.IsZero() && now.Sub(born) >= p.MaxAge {
			if rec.Last != nil && rec.Last.Outcome == OutcomeRolledBack && now.Sub(rec.Last.Ended) < p.Retry {
				wait = p.Retry - now.Sub(rec.Last.Ended)
			} else {
				return "max-age", false, 0
			}
		} else if !born.IsZero() {
			wait = p.MaxAge - now.Sub(born)
		}
	}
	if p.Every > 0 {
		if w := rec.Next.Sub(now); wait == 0 || w < wait {
			wait = w
		}
	}
	if wait <= 0 {
		wait = -1 // nothing scheduled
	}
	return "", false, wait
}

// born is when the current value came to be, for MaxAge.
func (rt *rotation) born(rec record) time.Time {
	if rec.Last != nil && rec.Last.Outcome == OutcomeRotated {
		return rec.Last.Ended
	}
	md, err := rt.r.store.Metadata(rt.name)
	if err != nil {
		return time.Time{}
	}
	if !md.CreatedAt.IsZero() {
		return md.CreatedAt
	}
	return md.LoadedAt
}

// applyDemands marks the rotation under way as an emergency when asked,
// and points waiters at it.
func (rt *rotation) applyDemands(rec *record) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, w := range rt.waiters {
		if w.id == "" {
			w.id = rec.ID
		}
		if w.emergency && !rec.Emergency {
			rec.Emergency = true // written with the next step
		}
		if w.rollback && rec.Step != StepRollback && rec.Step != StepCreate {
			rec.FailedStep, rec.Failure = rec.Step, "rolled back on demand"
			rec.Step = StepRollback
		}
	}
}

// joinWaiters points waiters at a rotation another instance holds, and
// records an emergency on it.
func (rt *rotation) joinWaiters(ctx context.Context, rec *record, ver string) {
	rt.mu.Lock()
	emergency := false
	for _, w := range rt.waiters {
		if w.id == "" && !w.rollback {
			w.id = rec.ID
		}
		if w.emergency && !rec.Emergency {
			emergency = true
		}
	}
	rt.mu.Unlock()
	if emergency {
		// The owner reads the record before each step, and its next write,
		// conditioned on the version it read, fails if it read before this.
		r2 := *rec
		r2.Emergency = true
		rt.save(ctx, &r2, ver) // renews the owner's lease too; a conflict is retried at the next tick

	}
}

// answerWaiters tells the waiters of rotations that have ended.
func (rt *rotation) answerWaiters(rec record) {
	if rec.Last == nil {
		return
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.waiters = keepWaiters(rt.waiters, func(w *waiter) bool {
		if w.id == "" || w.id != rec.Last.ID || (rec.active() && rec.ID == w.id) {
			return true
		}
		w.done <- rt.outcomeError(rec.Last, w.rollback)
		return false
	})
}

func (rt *rotation) outcomeError(l *lastRotation, rollback bool) error {
	switch {
	case l.Outcome == OutcomeRotated && !rollback:
		return nil
	case l.Outcome == OutcomeRolledBack && rollback:
		return nil
	case l.Outcome == OutcomeRolledBack:
		return &Error{Secret: rt.name, Op: "rotate", Rotation: l.ID, Step: l.FailedStep, Err: errors.New(l.Failure)}
	}
	msg := "the rotation completed instead"
	if l.Failure != "" {
		msg += ": " + l.Failure
	}
	return &Error{Secret: rt.name, Op: "rollback", Rotation: l.ID, Err: errors.New(msg)}
}

func keepWaiters(ws []*waiter, keep func(*waiter) bool) []*waiter {
	out := ws[:0]
	for _, w := range ws {
		if keep(w) {
			out = append(out, w)
		}
	}
	clear(ws[len(out):])
	return out
}

// step does the side effect of rec.Step, which rec (at version ver) says
// is under way or next, and records the step after it.
func (rt *rotation) step(ctx context.Context, rec record, ver string) (time.Duration, error) {
	switch rec.Step {
	case StepCreate:
		return 0, rt.create(ctx, rec, ver)
	case StepSet, StepTest:
		return 0, rt.deploy(ctx, rec, ver)
	case StepPromote:
		return 0, rt.promote(ctx, rec, ver)
	case StepRetire:
		return rt.retire(ctx, rec, ver)
	case StepRollback:
		return 0, rt.rollback(ctx, rec, ver)
	}
	return 0, fmt.Errorf("rotate: unknown step %q", rec.Step)
}

// create makes the pending credential.
func (rt *rotation) create(ctx context.Context, rec record, ver string) error {
	s := rt.spec.Strategy
	rec.Account, rec.From = s.accounts[0], s.accounts[0]
	gen := rt.spec.Policy.Generator
	if s.kind == kindAlternating {
		from, err := rt.currentAccount(ctx)
		if err != nil {
			return rt.fail(ctx, rec, ver, StepCreate, err, nil)
		}
		rec.From = from
		rec.Account = s.accounts[0]
		if from == s.accounts[0] {
			rec.Account = s.accounts[1]
		}
		gen = AccountGenerator(rec.Account, gen)
	}
	sec, err := rt.r.store.Regenerate(ctx, rt.pending, gen)
	if err != nil {
		rt.stepDone(rec, StepCreate, err)
		return err // the backend: retried
	}
	rec.PendingVersion = sec.Version()
	rt.stepDone(rec, StepCreate, nil)
	rec.Step = StepSet
	return rt.save(ctx, &rec, ver)
}

// currentAccount returns the account the current value of an alternating
// pair names.
func (rt *rotation) currentAccount(ctx context.Context) (string, error) {
	var account string
	err := rt.r.store.Use(ctx, rt.name, func(v []byte) error {
		a, _, err := SplitAccount(v)
		account = a
		return err
	})
	if err == nil && account != rt.spec.Strategy.accounts[0] && account != rt.spec.Strategy.accounts[1] {
		err = fmt.Errorf("the current value names account %q, which is not one of the pair", account)
	}
	return account, err
}

// deploy sets the pending credential at the target (StepSet), or tests it
// there (StepTest).
func (rt *rotation) deploy(ctx context.Context, rec record, ver string) error {
	step := rec.Step
	var stepErr error
	err := rt.withCredential(ctx, rt.pending, func(c Credential) error {
		if step == StepSet {
			stepErr = rt.spec.Target.Set(ctx, c)
		} else {
			stepErr = rt.spec.Target.Test(ctx, c)
		}
		if stepErr != nil {
			stepErr = &targetError{msg: safeError(stepErr, c.Secret), cause: stepErr}
		}
		return nil
	})
	if err != nil {
		return rt.fail(ctx, rec, ver, step, err, nil)
	}
	if stepErr != nil {
		return rt.fail(ctx, rec, ver, step, stepErr, nil)
	}
	rt.stepDone(rec, step, nil)
	if step == StepSet {
		rec.Step = StepTest
	} else {
		rec.Step = StepPromote
	}
	return rt.save(ctx, &rec, ver)
}

// targetError is a target's error with its text checked (safeError).
type targetError struct {
	msg   string
	cause error
}

func (e *targetError) Error() string { return e.msg }

// Unwrap keeps the classification (context errors, say) but only when the
// text was not withheld.
func (e *targetError) Unwrap() error {
	if e.cause != nil && e.cause.Error() == e.msg {
		return e.cause
	}
	return nil
}

// promote makes the pending credential current.
func (rt *rotation) promote(ctx context.Context, rec record, ver string) error {
	if md, err := rt.r.store.Metadata(rt.name); err == nil {
		rec.PreviousVersion = md.Version
	}
	err := rt.r.store.Use(ctx, rt.pending, func(v []byte) error {
		_, err := rt.r.store.Write(ctx, rt.name, v)
		return err
	})
	rt.stepDone(rec, StepPromote, err)
	if err != nil {
		return err // the backend: retried, never rolled back (the target may hold only the new one)
	}
	rec.Step = StepRetire
	rec.Promoted = rt.r.clock.Now()
	if err := rt.save(ctx, &rec, ver); err != nil {
		return err
	}
	rt.r.publish(Event{Kind: EventPromoted, Secret: rt.name, Rotation: rec.ID, Step: StepPromote})
	return nil
}

// retire waits out the overlap and the old version's readers, then
// retires every credential but the current one at the target.
func (rt *rotation) retire(ctx context.Context, rec record, ver string) (time.Duration, error) {
	p := rt.spec.Policy
	now := rt.r.clock.Now()
	renew := func(until time.Time) (time.Duration, error) {
		// Keep the lease while waiting: write the record again before it
		// runs out.
		left := until.Sub(now)
		if lease := rec.LeaseUntil.Sub(now); lease < p.Lease/3 {
			if err := rt.save(ctx, &rec, ver); err != nil {
				return 0, err
			}
			return 0, nil
		} else if left > lease-p.Lease/3 {
			left = lease - p.Lease/3
		}
		return max(left, time.Millisecond), nil
	}
	if !rec.Emergency {
		overlapEnd := rec.Promoted.Add(p.Overlap)
		if now.Before(overlapEnd) {
			return renew(overlapEnd)
		}
		if md, err := rt.r.store.Metadata(rt.name); err == nil && !md.PreviousLastRead.IsZero() {
			quietAt := md.PreviousLastRead.Add(p.ReadQuiet)
			limit := overlapEnd.Add(p.RetireWait)
			if now.Before(quietAt) && now.Before(limit) {
				rt.mu.Lock()
				first := rt.waitingForReadersSent != rec.ID
				rt.waitingForReadersSent = rec.ID
				rt.mu.Unlock()
				if first {
					rt.r.log.Info("strongroom: rotation: the old version is still read; retiring it once reads stop",
						"secret", rt.name, "rotation", rec.ID, "previous_reads", md.PreviousReads, "until", limit.UTC().Format(time.RFC3339))
					rt.r.publish(Event{Kind: EventWaitingForReaders, Secret: rt.name, Rotation: rec.ID, Step: StepRetire})
				}
				until := quietAt
				if limit.Before(until) {
					until = limit
				}
				return renew(until)
			}
			if !now.Before(limit) && now.Before(quietAt) {
				rt.r.log.Warn("strongroom: rotation: retiring the old credential while it is still read: the wait is over",
					"secret", rt.name, "rotation", rec.ID, "previous_reads", md.PreviousReads)
			}
		}
	}
	var stepErr error
	err := rt.withCredential(ctx, rt.name, func(c Credential) error {
		if e := rt.spec.Target.Retire(ctx, c); e != nil {
			stepErr = &targetError{msg: safeError(e, c.Secret), cause: e}
		}
		return nil
	})
	if err == nil {
		err = stepErr
	}
	rt.stepDone(rec, StepRetire, err)
	if err != nil {
		return 0, err // retried: the new credential is current already
	}
	return 0, rt.finish(ctx, rec, ver, OutcomeRotated)
}

// fail records that step failed with err and goes to StepRollback.
func (rt *rotation) fail(ctx context.Context, rec record, ver string, step Step, err error, value []byte) error {
	rt.stepDone(rec, step, err)
	rec.FailedStep, rec.Failure = step, safeError(err, value)
	rec.Step = StepRollback
	if err := rt.save(ctx, &rec, ver); err != nil {
		return err
	}
	rt.r.publish(Event{Kind: EventStepFailed, Secret: rt.name, Rotation: rec.ID, Step: step, Err: errors.New(rec.Failure)})
	return nil
}

// rollback returns the target to the current credential. Before
// promotion, the current secret still holds the old credential: in place,
// it is set again; then every other credential is retired, which drops the
// pending one. After promotion (Rollback on demand), the old value comes
// from Store.Previous: it is written back as current first.
func (rt *rotation) rollback(ctx context.Context, rec record, ver string) error {
	outcome := OutcomeRolledBack
	if !rec.Promoted.IsZero() {
		prev, err := rt.r.store.Previous(rt.name)
		if err != nil {
			// The old value is gone (another instance promoted, or the
			// overlap ended): keep the new one, which the target accepts.
			rt.r.log.Warn("strongroom: rotation: cannot roll back after promotion: the previous value is not held; keeping the new credential",
				"secret", rt.name, "rotation", rec.ID, "error", err.Error())
			rec.Failure = "rollback impossible after promotion: the previous value is not held by this process"
			outcome = OutcomeRotated
		} else {
			err = prev.Use(func(v []byte) error {
				if rt.spec.Strategy.kind == kindInPlace {
					c, err := rt.credential(v)
					if err != nil {
						return err
					}
					if err := rt.spec.Target.Set(ctx, c); err != nil {
						return &targetError{msg: safeError(err, c.Secret), cause: err}
					}
				}
				_, err := rt.r.store.Write(ctx, rt.name, v)
				return err
			})
			if err != nil {
				rt.stepDone(rec, StepRollback, err)
				return err
			}
			rec.Promoted = time.Time{}
			rt.r.store.Refresh(ctx, rt.name)
		}
	}
	err := rt.withCredential(ctx, rt.name, func(c Credential) error {
		// In place, the target may hold the pending credential once Set
		// was reached (even a failed Set may have taken effect): set the
		// current one again.
		if outcome == OutcomeRolledBack && rt.spec.Strategy.kind == kindInPlace && rec.FailedStep != StepCreate {
			if err := rt.spec.Target.Set(ctx, c); err != nil {
				return &targetError{msg: safeError(err, c.Secret), cause: err}
			}
		}
		if err := rt.spec.Target.Retire(ctx, c); err != nil {
			return &targetError{msg: safeError(err, c.Secret), cause: err}
		}
		return nil
	})
	if err != nil {
		rt.stepDone(rec, StepRollback, err)
		return err // retried
	}
	// Discard the pending credential: the pending secret takes the
	// current value, so no credential the target refuses is kept.
	if outcome == OutcomeRolledBack {
		err = rt.r.store.Use(ctx, rt.name, func(v []byte) error {
			_, err := rt.r.store.Write(ctx, rt.pending, v)
			return err
		})
		if err != nil {
			rt.stepDone(rec, StepRollback, err)
			return err
		}
	}
	rt.stepDone(rec, StepRollback, nil)
	return rt.finish(ctx, rec, ver, outcome)
}

// finish ends the rotation: the record goes back to idle with its outcome
// and the next due time.
func (rt *rotation) finish(ctx context.Context, rec record, ver string, outcome Outcome) error {
	now := rt.r.clock.Now()
	p := rt.spec.Policy
	done := record{
		Step: StepIdle,
		Last: &lastRotation{ID: rec.ID, Outcome: outcome, Reason: rec.Reason, FailedStep: rec.FailedStep, Failure: rec.Failure, Started: rec.Started, Ended: now},
		Next: rec.Next,
	}
	if outcome == OutcomeRotated {
		done.Last.FailedStep = ""
	}
	switch {
	case p.Every > 0 && outcome == OutcomeRotated:
		done.Next = now.Add(jittered(p.Every, p.Jitter))
	case p.Every > 0 && !now.Before(rec.Next):
		done.Next = now.Add(min(p.Retry, p.Every))
	}
	if err := rt.save(ctx, &done, ver); err != nil {
		return err
	}
	d := now.Sub(rec.Started)
	rt.r.tel.ended(rt.name, outcome, d)
	rt.audit(rec, "end", nil, "result", string(outcome), "duration", d.String())
	kind := EventCompleted
	var err error
	if outcome == OutcomeRolledBack {
		kind, err = EventRolledBack, errors.New(rec.Failure)
	}
	rt.r.publish(Event{Kind: kind, Secret: rt.name, Rotation: rec.ID, Step: rec.FailedStep, Reason: rec.Reason, Err: err, Duration: d})
	rt.answerWaiters(done)
	return nil
}

// withCredential opens the secret called name and calls fn with it as a
// Credential, in locked memory.
func (rt *rotation) withCredential(ctx context.Context, name string, fn func(Credential) error) error {
	return rt.r.store.Use(ctx, name, func(v []byte) error {
		c, err := rt.credential(v)
		if err != nil {
			return err
		}
		return fn(c)
	})
}

// credential is the Credential a value stands for under the strategy.
func (rt *rotation) credential(v []byte) (Credential, error) {
	s := rt.spec.Strategy
	if s.kind != kindAlternating {
		return Credential{Account: s.accounts[0], Secret: v, ID: credentialID(v)}, nil
	}
	a, secret, err := SplitAccount(v)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Account: a, Secret: secret, ID: credentialID(secret)}, nil
}

// stepDone counts, logs and announces the end of a step.
func (rt *rotation) stepDone(rec record, step Step, err error) {
	rt.r.tel.step(rt.name, step, err)
	rt.audit(rec, string(step), err)
	if err == nil {
		rt.r.publish(Event{Kind: EventStepDone, Secret: rt.name, Rotation: rec.ID, Step: step})
	}
}

// audit writes the audit record of a step: never a value.
func (rt *rotation) audit(rec record, what string, err error, args ...any) {
	attrs := []any{"secret", rt.name, "rotation", rec.ID, "step", what, "instance", rt.r.instance}
	if rec.Account != "" {
		attrs = append(attrs, "account", rec.Account)
	}
	attrs = append(attrs, args...)
	if err != nil {
		attrs = append(attrs, "outcome", "error", "error", safeError(err))
		rt.r.log.Warn("strongroom: rotation step", attrs...)
		return
	}
	attrs = append(attrs, "outcome", "ok")
	rt.r.log.Info("strongroom: rotation step", attrs...)
}

// status is the Status of the record last read.
func (rt *rotation) status(now time.Time) Status {
	rt.mu.Lock()
	rec := rt.last
	rt.mu.Unlock()
	p := rt.spec.Policy
	st := Status{
		Secret: rt.name, Strategy: rt.spec.Strategy.String(), Policy: p.String(),
		Step: rec.Step, Rotation: rec.ID, Owner: rec.Owner, Next: rec.Next,
	}
	grace := 2 * p.Lease
	switch {
	case rec.active():
		st.Overdue = now.Sub(rec.Started) > p.Overlap+p.RetireWait+4*p.Lease
	case !rec.Next.IsZero():
		st.Overdue = now.Sub(rec.Next) > grace
	}
	if l := rec.Last; l != nil {
		st.LastOutcome, st.LastStarted, st.LastDuration = l.Outcome, l.Started, l.Ended.Sub(l.Started)
		st.LastFailedStep, st.LastFailure = l.FailedStep, l.Failure
	}
	return st
}

// annotations are the rotation's entries in the store's inventory.
func (rt *rotation) annotations() map[string]string {
	st := rt.status(rt.r.clock.Now())
	a := map[string]string{
		"rotation.strategy": st.Strategy,
		"rotation.policy":   st.Policy,
		"rotation.step":     string(st.Step),
		"rotation.overdue":  strconv.FormatBool(st.Overdue),
	}
	if !st.Next.IsZero() {
		a["rotation.next_due"] = st.Next.UTC().Format(time.RFC3339)
	}
	if st.Step == StepSet || st.Step == StepTest || st.Step == StepPromote {
		// Valid at the target (or about to be), not yet current: a consumer refused with
		// the current one may try it (tokens.PendingAnnotation).
		a["rotation.pending"] = rt.pending
	}
	if st.LastOutcome != "" {
		a["rotation.last_outcome"] = string(st.LastOutcome)
		a["rotation.last_duration"] = st.LastDuration.String()
		if st.LastFailedStep != "" {
			a["rotation.last_failed_step"] = string(st.LastFailedStep)
			a["rotation.last_failure"] = st.LastFailure
		}
	}
	return a
}

// AccountGenerator returns a generator of an alternating pair's value for
// account (see [SplitAccount]): what inner makes, wrapped with the
// account's name, in the buffer the store gives it, so that nothing of it
// leaves locked memory. inner must make printable ASCII without '"' or
// '\' (secrets.RandomPassword does). It is how the Rotator makes each new
// credential of a pair, and how a program writes a pair's first value
// (Store.Create or Store.Regenerate).
func AccountGenerator(account string, inner secrets.Generator) secrets.Generator {
	return accountGenerator{account: account, inner: inner}
}

type accountGenerator struct {
	account string
	inner   secrets.Generator
}

func (g accountGenerator) Size() int { return accountSize(g.account, g.inner.Size()) }

func (g accountGenerator) Generate(dst []byte, r io.Reader) error {
	if err := checkAccount([]byte(g.account)); err != nil {
		return err
	}
	return g.inner.Generate(putAccount(dst, g.account), r)
}
