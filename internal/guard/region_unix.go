//go:build unix

package guard

import "golang.org/x/sys/unix"

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
	_ = unix.Madvise(b, unix.MADV_DONTDUMP) // advice only; not every kernel has it
	return unlockedRegion(b), nil
}

func (r unlockedRegion) bytes() []byte { return r }
func (r unlockedRegion) freeze()       { _ = unix.Mprotect(r, unix.PROT_READ) }
func (r unlockedRegion) free() {
	_ = unix.Mprotect(r, unix.PROT_READ|unix.PROT_WRITE)
	clear(r)
	_ = unix.Munmap(r)
}
