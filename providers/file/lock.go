package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// Lock waits grow from lockWaitMin to lockWaitMax, each jittered, so that
// processes polling the same lock do not fall into step.
const (
	lockWaitMin = time.Millisecond
	lockWaitMax = 20 * time.Millisecond
)

// lockName is the lock file of the file called name: ".NAME.lock" in the
// same directory.
func lockName(name string) string {
	return filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".lock")
}

// lock takes the exclusive lock on the lock file of the file at loc,
// creating the lock file if needed, and returns the function that releases
// it. It polls a lock that another holds until ctx ends (a blocking lock
// could not be abandoned when ctx ends). Where the system has no file
// locks, it returns an error wrapping [providers.ErrUnsupported] when
// required, and otherwise nothing to release: Write and Delete then work
// as they did before locks.
func (p *Provider) lock(ctx context.Context, op string, loc location, required bool) (unlock func(), err error) {
	if !canLock {
		if required {
			return nil, fmt.Errorf("providers/file: %s %s: no file locks on this system: %w", op, loc.path, providers.ErrUnsupported)
		}
		return func() {}, nil
	}
	name := lockName(loc.name)
	path := filepath.Join(filepath.Dir(loc.path), filepath.Base(name))
	f, err := p.fs.OpenFile(name, os.O_RDWR|os.O_CREATE|lockOpenFlags, 0o600)
	if err != nil {
		return nil, p.fsError(op+": lock", path, err)
	}
	for wait := lockWaitMin; ; wait = min(2*wait, lockWaitMax) {
		locked, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, p.fsError(op+": lock", path, err)
		}
		if locked {
			return func() {
				_ = unlockFile(f) // closing releases it anyway
				f.Close()
			}, nil
		}
		if err := pause(ctx, wait/2+rand.N(wait)); err != nil {
			f.Close()
			return nil, fmt.Errorf("providers/file: %s %s: waiting for the lock: %w", op, loc.path, err)
		}
	}
}
