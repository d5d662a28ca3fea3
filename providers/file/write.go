package file

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

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
// Only whole-file references can be written; one with a fragment gives an
// error wrapping [providers.ErrUnsupported]. Write does not retain data.
func (p *Provider) Write(ctx context.Context, ref string, data []byte) (version string, err error) {
	r, loc, err := p.prepareWhole(ctx, "write", ref)
	if err != nil {
		return "", err
	}
	if _, _, err := extract(data, fileRef{format: r.format}); err != nil {
		return "", fmt.Errorf("providers/file: write %s: data is not a valid %s file: %w", loc.path, r.format, err)
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
		return "", p.fsError("write", loc.path, err)
	}
	p.syncDir(dir)
	return p.hasher.Version(data), nil
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
func (p *Provider) Delete(ctx context.Context, ref string) error {
	_, loc, err := p.prepareWhole(ctx, "delete", ref)
	if err != nil {
		return err
	}
	info, err := p.fs.Lstat(loc.name)
	if err != nil {
		return p.fsError("delete", loc.path, err)
	}
	if info.IsDir() {
		return fmt.Errorf("providers/file: delete %s: is a directory: %w", loc.path, providers.ErrInvalidRef)
	}
	if err := p.fs.Remove(loc.name); err != nil {
		return p.fsError("delete", loc.path, err)
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
