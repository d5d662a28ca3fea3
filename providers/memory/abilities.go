package memory

import (
	"context"
	"fmt"
	"strconv"

	"github.com/strongroom/strongroom/providers"
)

var _ providers.ConditionalWriter = (*Provider)(nil)

// Write stores a copy of data as the new current value of ref, as
// [Provider.Set] does with no options, and returns its version.
func (p *Provider) Write(ctx context.Context, ref string, data []byte) (version string, err error) {
	name, err := p.lockOpen(ctx, "write", ref)
	if err != nil {
		return "", err
	}
	defer p.mu.Unlock()
	return p.storeLocked(name, data, nil, p.clock.Now()), nil
}

// WriteIf stores a copy of data as the new current value of ref, as
// [Provider.Write] does, only if ref's current version is ifVersion, and
// returns the new version. The current version is the one Fetch reports
// (leaving scripted faults aside): "" when the name does not exist or its
// current version is revoked, the version number otherwise; ifVersion ""
// means that the name must not exist. When it is not ifVersion, WriteIf
// stores nothing and returns an error wrapping [providers.ErrConflict]. The
// check and the store happen under the provider's lock, so exactly one of
// several calls conditioned on the same version succeeds. Faults scripted
// with [Provider.Fail] and [Provider.Corrupt] apply to fetches only, as for
// Write.
func (p *Provider) WriteIf(ctx context.Context, ref string, data []byte, ifVersion string) (version string, err error) {
	name, err := p.lockOpen(ctx, "conditional write", ref)
	if err != nil {
		return "", err
	}
	defer p.mu.Unlock()
	if current := p.currentLocked(name); current != ifVersion {
		if current == "" {
			current = "none"
		} else {
			current = strconv.Quote(current)
		}
		return "", fmt.Errorf("providers/memory: conditional write %s: want version %q, the current version is %s: %w", ref, ifVersion, current, providers.ErrConflict)
	}
	return p.storeLocked(name, data, nil, p.clock.Now()), nil
}

// currentLocked returns the version of name that Fetch would report, or ""
// when Fetch would report none.
func (p *Provider) currentLocked(name string) string {
	e := p.entries[name]
	if e == nil || e.revoked[e.seq] {
		return ""
	}
	return strconv.Itoa(e.seq)
}

// Revoke revokes version of ref. Every version set since the name was last
// created is known; revoking one twice succeeds. When version is the
// current one, fetches fail with an error wrapping [providers.ErrNotFound]
// until a new value is set. Revoke records the version for
// [Provider.Revoked] and signals the watches of the name.
func (p *Provider) Revoke(ctx context.Context, ref, version string) error {
	name, err := p.lockOpen(ctx, "revoke", ref)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	e := p.entries[name]
	if e == nil {
		return opError("revoke", ref, providers.ErrNotFound)
	}
	n, err := strconv.Atoi(version)
	if err != nil || strconv.Itoa(n) != version || n < e.first || n > e.seq {
		return fmt.Errorf("providers/memory: revoke %s: unknown version: %w", ref, providers.ErrNotFound)
	}
	if e.revoked[n] {
		return nil
	}
	if e.revoked == nil {
		e.revoked = make(map[int]bool)
	}
	e.revoked[n] = true
	p.revoked[name] = append(p.revoked[name], version)
	p.notifyLocked(name)
	return nil
}

// Delete removes ref and wipes its value, as [Provider.Remove] does; a
// missing ref gives an error wrapping [providers.ErrNotFound].
func (p *Provider) Delete(ctx context.Context, ref string) error {
	name, err := p.lockOpen(ctx, "delete", ref)
	if err != nil {
		return err
	}
	defer p.mu.Unlock()
	if !p.removeLocked(name) {
		return opError("delete", ref, providers.ErrNotFound)
	}
	return nil
}

// lockOpen parses ref, checks ctx, and locks the provider if it is open:
// the first steps of every operation. On success the caller holds p.mu.
func (p *Provider) lockOpen(ctx context.Context, op, ref string) (name string, err error) {
	name, err = parseRef(ref)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", opError(op, ref, err)
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return "", opError(op, ref, providers.ErrClosed)
	}
	return name, nil
}
