package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/providers"
)

// Revoke wipes the secret at once and marks it revoked: reads then fail
// with ErrRevoked, and refreshing stops. A version some Use is reading is
// wiped as that Use returns; Revoke does not wait for it. When the secret's
// provider can revoke (providers.Revoker), the versions wiped (the current
// one, and the previous one while its overlap window lasts) are then
// revoked at the backend too; the first error, if any, is returned after
// the wipe. The inventory keeps the secret's metadata, marked revoked;
// declaring the name again with Add or Create starts afresh.
func (s *Store) Revoke(ctx context.Context, name string) error {
	e, err := s.lookup("revoke", name)
	if err != nil {
		return err
	}
	versions := e.end(lifeRevoked, newError("use", name, ErrDestroyed, ErrRevoked),
		Event{Kind: EventRevoked, Secret: name})
	s.log.Info("strongroom: secret revoked and wiped", "secret", name, "versions", versions)
	r, ok := e.prov.(providers.Revoker)
	if !ok {
		return nil
	}
	var errs []error
	for _, v := range versions {
		if err := r.Revoke(ctx, e.ref, v); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return e.wrap("revoke", errors.Join(errs...), nil)
	}
	return nil
}

// Forget wipes the secret in memory at once and marks it deleted, without
// touching the backend: this process forgets it, the backend keeps it.
// Reads then fail with ErrNotFound and refreshing stops. The inventory
// keeps its metadata, marked deleted; declaring the name again with Add
// loads it afresh.
//
// Of the three ways to end a secret, Forget touches only memory, [Store.Revoke]
// also revokes the versions held at the backend (which goes on serving
// newer ones), and [Store.Delete] also deletes the secret at the backend.
func (s *Store) Forget(name string) error {
	e, err := s.lookup("forget", name)
	if err != nil {
		return err
	}
	e.destroyed()
	return nil
}

func (e *entry) destroyed() {
	versions := e.end(lifeDeleted, newError("use", e.name, ErrDestroyed, errors.New("secret deleted")),
		Event{Kind: EventDeleted, Secret: e.name})
	e.s.log.Info("strongroom: secret deleted and wiped", "secret", e.name, "versions", versions)
}

// Delete is Forget, then deletes the secret at the backend. It fails with
// ErrUnsupported, before wiping anything, when the provider cannot delete.
func (s *Store) Delete(ctx context.Context, name string) error {
	e, err := s.lookup("delete", name)
	if err != nil {
		return err
	}
	d, ok := e.prov.(providers.Deleter)
	if !ok {
		return newError("delete", name, ErrUnsupported, fmt.Errorf("provider %q cannot delete", e.source()))
	}
	e.destroyed()
	if err := d.Delete(ctx, e.ref); err != nil {
		return e.wrap("delete", err, nil)
	}
	return nil
}

// Write stores value as a new version of the secret called name at its
// backend (its provider must implement providers.Writer, else
// ErrUnsupported) and makes it current at once, after the spec's Validate,
// Expiry and Describe, with the usual rotation event. It is how a program
// rotates a secret it owns. Write does not keep value; the caller still
// owns and wipes it. It fails with ErrInvalid for a rejected value, and with
// ErrRevoked or ErrNotFound for a secret that was revoked or deleted.
func (s *Store) Write(ctx context.Context, name string, value []byte) (*Secret, error) {
	return s.write(ctx, "write", name, func(w providers.Writer) (writeFunc, error) { return w.Write, nil }, value)
}

// WriteIf is Write conditioned on the backend: it writes value only if the
// secret's current version at the backend is ifVersion (a version this
// store reported, by [Secret.Version] or in the inventory; "" when the
// secret must not exist at the backend yet), and fails with ErrConflict,
// writing nothing, when it is not. The check and the write are one atomic
// step at the backend, as the provider's providers.ConditionalWriter
// documents (for the file provider, across the processes of one machine);
// a provider without that ability gives ErrUnsupported. Several processes
// agree on who does something by each calling WriteIf from the version it
// read: one succeeds. After ErrConflict, Refresh the secret to read the
// version that won.
func (s *Store) WriteIf(ctx context.Context, name string, value []byte, ifVersion string) (*Secret, error) {
	return s.write(ctx, "write", name, func(w providers.Writer) (writeFunc, error) {
		c, ok := w.(providers.ConditionalWriter)
		if !ok {
			return nil, errors.New("its provider cannot write conditionally")
		}
		return func(ctx context.Context, ref string, value []byte) (string, error) {
			return c.WriteIf(ctx, ref, value, ifVersion)
		}, nil
	}, value)
}

// write is Write, WriteIf and Regenerate: it writes value with the
// writer pick makes of the secret's provider, and installs it.
func (s *Store) write(ctx context.Context, op, name string, pick func(providers.Writer) (writeFunc, error), value []byte) (*Secret, error) {
	e, write, err := s.writer(op, name, pick)
	if err != nil {
		return nil, err
	}
	if err := s.enter(op, name); err != nil {
		return nil, err
	}
	defer s.bg.Done()
	sec, err := e.put(ctx, op, write, value)
	if err != nil {
		return nil, err
	}
	return e.installWritten(sec)
}

// writer finds the secret called name and the write function pick makes of
// its provider.
func (s *Store) writer(op, name string, pick func(providers.Writer) (writeFunc, error)) (*entry, writeFunc, error) {
	e, err := s.lookup(op, name)
	if err != nil {
		return nil, nil, err
	}
	w, ok := e.prov.(providers.Writer)
	if !ok {
		return nil, nil, newError(op, name, ErrUnsupported, fmt.Errorf("secret has no writable provider (source %q)", e.source()))
	}
	write, err := pick(w)
	if err != nil {
		return nil, nil, newError(op, name, ErrUnsupported, err)
	}
	if ended := e.endedNow(op); ended != nil {
		return nil, nil, ended
	}
	return e, write, nil
}

// installWritten makes sec, just written to the backend, current, unless a
// watcher installed the same version first.
func (e *entry) installWritten(sec *Secret) (*Secret, error) {
	if cur := e.cur.Load(); cur != nil && cur.version == sec.version && cur.expiresAt.Equal(sec.expiresAt) {
		sec.destroy(newError("use", e.name, ErrDestroyed, errSuperseded)) // a watcher got there first
		return cur, nil
	}
	if err := e.install(sec, e.s.clock.Now(), nil); err != nil {
		return nil, err
	}
	return sec, nil
}
