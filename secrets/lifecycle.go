package secrets

import (
	"context"
	"errors"
	"fmt"

	"github.com/strongroom/strongroom/providers"
)

// Revoke wipes the secret at once and marks it revoked: reads then fail
// with ErrRevoked, and refreshing stops. When the secret's provider can
// revoke (providers.Revoker), the current version is then revoked at the
// backend too; that error, if any, is returned after the wipe. The
// inventory keeps the secret's metadata, marked revoked; declaring the name
// again with Add starts afresh.
func (s *Store) Revoke(ctx context.Context, name string) error {
	e, err := s.lookup("revoke", name)
	if err != nil {
		return err
	}
	version := ""
	if cur := e.cur.Load(); cur != nil {
		version = cur.version
	}
	e.end(lifeRevoked, newError("use", name, ErrDestroyed, ErrRevoked),
		Event{Kind: EventRevoked, Secret: name, Version: version})
	s.log.Info("strongroom: secret revoked and wiped", "secret", name, "version", version)
	if r, ok := e.prov.(providers.Revoker); ok && version != "" {
		if err := r.Revoke(ctx, e.spec.Ref, version); err != nil {
			return classify("revoke", name, err)
		}
	}
	return nil
}

// Destroy wipes the secret in memory at once and marks it deleted, without
// touching the backend: reads then fail with ErrNotFound and refreshing
// stops. The inventory keeps its metadata, marked deleted.
func (s *Store) Destroy(name string) error {
	e, err := s.lookup("destroy", name)
	if err != nil {
		return err
	}
	e.destroyed()
	return nil
}

func (e *entry) destroyed() {
	version := ""
	if cur := e.cur.Load(); cur != nil {
		version = cur.version
	}
	e.end(lifeDeleted, newError("use", e.name, ErrDestroyed, errors.New("secret deleted")),
		Event{Kind: EventDeleted, Secret: e.name, Version: version})
	e.s.log.Info("strongroom: secret deleted and wiped", "secret", e.name, "version", version)
}

// Delete is Destroy, then deletes the secret at the backend. It fails with
// ErrUnsupported, before wiping anything, when the provider cannot delete.
func (s *Store) Delete(ctx context.Context, name string) error {
	e, err := s.lookup("delete", name)
	if err != nil {
		return err
	}
	d, ok := e.prov.(providers.Deleter)
	if !ok {
		return newError("delete", name, ErrUnsupported, fmt.Errorf("provider %q cannot delete", e.scheme))
	}
	e.destroyed()
	if err := d.Delete(ctx, e.spec.Ref); err != nil {
		return classify("delete", name, err)
	}
	return nil
}
