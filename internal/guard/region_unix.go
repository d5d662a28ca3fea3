//go:build unix

package guard

import (
	"math"

	"golang.org/x/sys/unix"
)

// rlimitMemlock returns the soft RLIMIT_MEMLOCK in bytes (math.MaxInt64 for
// none), or 0 if it cannot be read.
func rlimitMemlock() int64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return 0
	}
	if rl.Cur == unix.RLIM_INFINITY || rl.Cur > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(rl.Cur)
}

// probeLock locks and unlocks n bytes of fresh memory, to learn whether
// memguard's own mlock of that size would succeed.
func probeLock(n int) error {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	defer unix.Munmap(b)
	if err := unix.Mlock(b); err != nil {
		return err
	}
	return unix.Munlock(b)
}

// unlockedRegion is anonymous memory that is not locked, but still off the
// Go heap (the garbage collector never copies it) and left out of core dumps.
type unlockedRegion []byte

func allocUnlocked(n int) (region, error) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, err
	}
	dontDump(b)
	return unlockedRegion(b), nil
}

func (r unlockedRegion) bytes() []byte { return r }
func (r unlockedRegion) freeze()       { _ = unix.Mprotect(r, unix.PROT_READ) }
func (r unlockedRegion) free() {
	_ = unix.Mprotect(r, unix.PROT_READ|unix.PROT_WRITE)
	clear(r)
	_ = unix.Munmap(r)
}
