package file

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// DefaultSettle is how long a file must stay unchanged before a
// [Provider] reads it, when [Options].Settle is zero.
const DefaultSettle = 100 * time.Millisecond

// minSettleLimit is the least time a fetch or a watch waits for a file
// that keeps changing to settle; see settleLimit.
const minSettleLimit = 10 * time.Second

// settleLimit is how long a fetch or a watch waits for a file that keeps
// changing: 100 settle periods, and at least minSettleLimit.
func settleLimit(settle time.Duration) time.Duration {
	return max(minSettleLimit, 100*settle)
}

// observation is what is known of a file while it settles: its state,
// and when that state was first seen.
type observation struct {
	sig   signature
	since time.Time // zero before the first look
}

// observe looks at the file at loc at time now, notes a new state in o,
// and returns how much longer the file must stay as it is to have
// settled: 0 when it has.
//
// A state has lasted since it was first seen, and since the file's
// modification time, when that is not in the future: the modification
// time is taken from the file system's clock, which is the real clock on
// a local file system. That lets a file changed long ago be read at once.
//
// The modification time is trusted only so far. A truncation changes the
// size before the modification time (a stat between the two sees the new
// size with the old time), so an empty file's time is never trusted, and a
// state is never taken to be older than the last time this provider saw
// the file in another state.
func (p *Provider) observe(loc location, o *observation, now time.Time) time.Duration {
	sig := p.signature(loc)
	if sig != o.sig || o.since.IsZero() {
		*o = observation{sig: sig, since: now}
	}
	differentAt := p.remember(loc.path, sig, now)
	if p.settle <= 0 {
		return 0
	}
	stable := now.Sub(o.since)
	if mtime := time.Unix(0, sig.mtime); sig.state == sigPresent && sig.size > 0 && !mtime.After(now) {
		byTime := now.Sub(mtime)
		if !differentAt.IsZero() {
			byTime = min(byTime, now.Sub(differentAt))
		}
		stable = max(stable, byTime)
	}
	return max(p.settle-stable, 0)
}

// seenState is the last state this provider saw a file in.
type seenState struct {
	sig         signature
	seenAt      time.Time // when sig was last seen
	differentAt time.Time // when another state was last seen before it; zero: never
}

// remember records that the file at path was seen in state sig at now,
// and returns when this provider last saw it in another state (zero if
// never): the state began after that.
func (p *Provider) remember(path string, sig signature, now time.Time) time.Time {
	next := seenState{sig: sig, seenAt: now}
	if v, ok := p.seen.Load(path); ok {
		prev := v.(seenState)
		if prev.sig == sig {
			next.differentAt = prev.differentAt
		} else {
			next.differentAt = prev.seenAt
		}
	}
	p.seen.Store(path, next)
	return next.differentAt
}

// readSettled reads the file at loc once it has settled: once its size,
// modification time and inode have stayed the same for the settle period.
// When what it read is not the state that settled (the file changed
// between the two), it waits for the new state to settle and reads again.
// A missing or unreadable file is read at once, for read to report it.
func (p *Provider) readSettled(ctx context.Context, loc location) ([]byte, fs.FileInfo, error) {
	start := time.Now()
	for {
		sig, err := p.awaitSettled(ctx, loc, start)
		if err != nil {
			return nil, nil, err
		}
		buf, info, err := p.read(ctx, loc)
		if err != nil || p.settle <= 0 || signatureOf(info) == sig {
			return buf, info, err
		}
		clear(buf)
		if time.Since(start) > settleLimit(p.settle) {
			return nil, nil, p.unsettled(loc)
		}
	}
}

// awaitSettled waits until the file at loc has settled, and returns the
// state that did. It gives up when ctx ends, or settleLimit after start.
func (p *Provider) awaitSettled(ctx context.Context, loc location, start time.Time) (signature, error) {
	var o observation
	for {
		now := time.Now()
		wait := p.observe(loc, &o, now)
		if wait == 0 || o.sig.state != sigPresent {
			return o.sig, nil
		}
		if now.Add(wait).Sub(start) > settleLimit(p.settle) {
			return o.sig, p.unsettled(loc)
		}
		if err := pause(ctx, wait); err != nil {
			return o.sig, fmt.Errorf("providers/file: %s had not stayed unchanged for %v when the fetch ended: %w",
				loc.path, p.settle, err)
		}
	}
}

// unsettled is the error of a fetch of a file that kept changing.
func (p *Provider) unsettled(loc location) error {
	return fmt.Errorf("providers/file: %s kept changing for %v; it is read once it stays unchanged for %v: %w",
		loc.path, settleLimit(p.settle), p.settle, providers.ErrInvalid)
}
