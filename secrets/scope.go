package secrets

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// View is a least-privilege window on a Store for one consumer (a
// component, a handler, a plug-in): it reads only the secrets whose names
// match its patterns, and every read through it is counted under the
// consumer's name in the inventory (Metadata.ReadsBy) and, with
// Options.AuditReads, logged. A refused read fails with ErrPermission and
// is always logged. Make one with [Store.Scope]; it is safe for concurrent
// use and costs nothing to keep.
type View struct {
	s        *Store
	consumer string
	patterns []string

	mu    sync.RWMutex
	grant map[string]viewGrant // name -> the entry it was granted for
}

type viewGrant struct {
	e     *entry
	reads *atomic.Uint64
}

// Scope returns a View for consumer that can read the secrets whose names
// match any of patterns ('*' matches any run of characters, '/' included,
// and '?' any one: "db-*", "payments/*"). It fails
// with ErrInvalid for an empty consumer, no patterns, or a malformed
// pattern.
func (s *Store) Scope(consumer string, patterns ...string) (*View, error) {
	if consumer == "" {
		return nil, newError("scope", "", ErrInvalid, fmt.Errorf("consumer name is empty"))
	}
	if len(patterns) == 0 {
		return nil, newError("scope", "", ErrInvalid, fmt.Errorf("scope for %q has no patterns", consumer))
	}
	for _, p := range patterns {
		if err := checkPattern(p); err != nil {
			return nil, newError("scope", "", ErrInvalid, err)
		}
	}
	return &View{s: s, consumer: consumer, patterns: append([]string(nil), patterns...),
		grant: make(map[string]viewGrant)}, nil
}

// Consumer returns the consumer's name.
func (v *View) Consumer() string { return v.consumer }

// Allows reports whether the view may read the secret called name.
func (v *View) Allows(name string) bool {
	for _, p := range v.patterns {
		if match(p, name) {
			return true
		}
	}
	return false
}

// Get is [Store.Get] limited to the view's secrets; a name outside them
// fails with ErrPermission, whether or not it exists.
func (v *View) Get(ctx context.Context, name string) (*Secret, error) {
	e, err := v.s.lookup("get", name)
	v.mu.RLock()
	g, ok := v.grant[name]
	v.mu.RUnlock()
	if !ok || g.e != e {
		if !v.Allows(name) {
			v.s.log.Warn("strongroom: secret read refused", "secret", name, "consumer", v.consumer)
			return nil, newError("get", name, ErrPermission, fmt.Errorf("consumer %q is not granted this secret", v.consumer))
		}
		if err != nil {
			return nil, err
		}
		g = viewGrant{e: e, reads: e.counterFor(v.consumer)}
		v.mu.Lock()
		v.grant[name] = g
		v.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return e.get(ctx, v.consumer, g.reads)
}

// Use is Get followed by Secret.Use.
func (v *View) Use(ctx context.Context, name string, fn func(value []byte) error) error {
	sec, err := v.Get(ctx, name)
	if err != nil {
		return err
	}
	return useRetry(ctx, sec, fn, func() (*Secret, error) { return v.Get(ctx, name) })
}

// Subscribe is [Store.Subscribe] limited to the view's secrets.
func (v *View) Subscribe(pattern string, fn func(Event)) (cancel func(), err error) {
	match, err := matcher(pattern)
	if err != nil {
		return nil, err
	}
	return v.s.subscribe(func(name string) bool { return match(name) && v.Allows(name) }, fn)
}
