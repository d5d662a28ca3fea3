package file

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/strongroom/strongroom/providers"
)

// Write replaces the file that ref names with data, atomically: it writes a
// temporary file with mode 0600 in the same directory, syncs it, renames
// it over the target and syncs the directory, so that a reader sees the
// old content or the new, never a mix. The new file has mode 0600 whatever
// the old one had, and a symbolic link at the target is replaced, not
// followed. For a structured format (JSON, dotenv, PEM) data must parse as
// it, or Write fails with [providers.ErrInvalid] and changes nothing.
//
// Write holds the target's lock file while it writes, as [Provider.WriteIf]
// does (see there), so that it never falls between another process's check
// and write.
//
// Only whole-file references can be written; one with a fragment gives an
// error wrapping [providers.ErrUnsupported]. Write does not retain data.
func (p *Provider) Write(ctx context.Context, ref string, data []byte) (version string, err error) {
	return p.replace(ctx, "write", ref, data, nil)
}

// WriteIf replaces the file that ref names with data, as [Provider.Write]
// does, only if the file's current version is ifVersion, and returns the
// new version. Otherwise it writes nothing and returns an error wrapping
// [providers.ErrConflict].
//
// The current version is computed as Fetch computes it: the keyed hash of
// the file's content under this Provider's key, so a version that this
// Provider's Fetch (or Write, or WriteIf) returned compares equal exactly
// when the file holds the same bytes again; a version from another
// Provider, in this process or another, never does. ifVersion "" means
// that the file must not exist (a dangling symbolic link counts as
// missing, as it does for Fetch). Because versions are hashes of content,
// a file changed and then changed back to what it held compares equal:
// content that must not be mistaken for an earlier state should carry
// something that never repeats, such as a counter.
//
// The check and the write are atomic with respect to every Write,
// WriteIf and Delete of the same file by any Provider of any process on
// this machine: each takes an exclusive lock (flock(2) on Unix, LockFileEx
// on Windows) on the lock file ".NAME.lock" in the target's directory,
// created with mode 0600 on first use and never removed (removing it could
// let two writers lock different files). Writers that do not take the lock
// (another program, an editor) are not excluded. Network file systems may
// not honour the lock. WriteIf waits for the lock until ctx ends; it does
// not wait for the file to settle (see [Options].Settle), since the writers
// it excludes replace the file by rename. On systems with neither flock
// nor LockFileEx, WriteIf fails with [providers.ErrUnsupported].
//
// Only whole-file references can be written, with the errors of Write; a
// current file that cannot be read (not a regular file, larger than
// [Options].MaxSize, not readable) gives the error Fetch would give, not a
// conflict. WriteIf does not retain data.
func (p *Provider) WriteIf(ctx context.Context, ref string, data []byte, ifVersion string) (version string, err error) {
	return p.replace(ctx, "conditional write", ref, data, &ifVersion)
}

// replace is Write, and WriteIf when ifVersion is not nil. Under the lock
// of the target, it checks the version and writes by rename.
func (p *Provider) replace(ctx context.Context, op, ref string, data []byte, ifVersion *string) (string, error) {
	r, loc, err := p.prepareWhole(ctx, op, ref)
	if err != nil {
		return "", err
	}
	if _, _, err := extract(data, fileRef{format: r.format}); err != nil {
		return "", fmt.Errorf("providers/file: %s %s: data is not a valid %s file: %w", op, loc.path, r.format, err)
	}
	unlock, err := p.lock(ctx, op, loc, ifVersion != nil)
	if err != nil {
		if ifVersion != nil && *ifVersion != "" && errors.Is(err, providers.ErrNotFound) {
			// No directory, so no file: not the version asked for.
			return "", conflictError(op, loc, *ifVersion, "")
		}
		return "", err
	}
	defer unlock()
	if ifVersion != nil {
		current, err := p.currentVersion(ctx, loc)
		if err != nil {
			return "", err
		}
		if current != *ifVersion {
			return "", conflictError(op, loc, *ifVersion, current)
		}
	}
	dir := filepath.Dir(loc.name)
	tmp := filepath.Join(dir, "."+filepath.Base(loc.name)+".tmp-"+rand.Text())
	f, err := p.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", p.fsError("create", filepath.Join(filepath.Dir(loc.path), filepath.Base(tmp)), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = p.fs.Rename(tmp, loc.name)
	}
	if err != nil {
		_ = p.fs.Remove(tmp)
		return "", p.fsError(op, loc.path, err)
	}
	p.syncDir(dir)
	return p.hasher.Version(data), nil
}

// currentVersion returns the version of the file at loc as Fetch would
// compute it, or "" when there is no file.
func (p *Provider) currentVersion(ctx context.Context, loc location) (string, error) {
	buf, _, err := p.read(ctx, loc)
	if errors.Is(err, providers.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer clear(buf)
	return p.hasher.Version(buf), nil
}

// conflictError is the error of a conditional write that found the version
// current instead of want ("": none). Versions are keyed hashes, safe to
// show.
func conflictError(op string, loc location, want, current string) error {
	if current == "" {
		current = "none"
	} else {
		current = strconv.Quote(current)
	}
	return fmt.Errorf("providers/file: %s %s: want version %q, the current version is %s: %w", op, loc.path, want, current, providers.ErrConflict)
}

// syncDir makes a rename in dir durable where the system allows it.
func (p *Provider) syncDir(dir string) {
	if d, err := p.fs.OpenFile(dir, os.O_RDONLY, 0); err == nil {
		_ = d.Sync() // not supported everywhere; the rename happened anyway
		_ = d.Close()
	}
}

// Delete removes the file that ref names. Only whole-file references can be
// deleted; one with a fragment gives an error wrapping
// [providers.ErrUnsupported]. A missing file gives [providers.ErrNotFound].
// When the name is a symbolic link, the link is removed, not its target.
// Delete holds the target's lock file, as [Provider.WriteIf] does, and
// leaves it in place.
func (p *Provider) Delete(ctx context.Context, ref string) error {
	_, loc, err := p.prepareWhole(ctx, "delete", ref)
	if err != nil {
		return err
	}
	// Checked before locking too, so that refusing creates no lock file.
	if err := p.deletable(loc); err != nil {
		return err
	}
	unlock, err := p.lock(ctx, "delete", loc, false)
	if err != nil {
		return err
	}
	defer unlock()
	if err := p.deletable(loc); err != nil {
		return err
	}
	if err := p.fs.Remove(loc.name); err != nil {
		return p.fsError("delete", loc.path, err)
	}
	return nil
}

// deletable checks that there is something other than a directory at loc.
func (p *Provider) deletable(loc location) error {
	info, err := p.fs.Lstat(loc.name)
	if err != nil {
		return p.fsError("delete", loc.path, err)
	}
	if info.IsDir() {
		return fmt.Errorf("providers/file: delete %s: is a directory: %w", loc.path, providers.ErrInvalidRef)
	}
	return nil
}

// prepareWhole is prepare for operations on whole files only.
func (p *Provider) prepareWhole(ctx context.Context, op, ref string) (fileRef, location, error) {
	r, loc, err := p.prepare(ctx, op, ref)
	if err == nil && r.part != "" {
		err = fmt.Errorf("providers/file: %s %q: a part of a file cannot be changed, only a whole file: %w", op, ref, providers.ErrUnsupported)
	}
	return r, loc, err
}
