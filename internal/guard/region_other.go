//go:build !unix

package guard

import "math"

// On systems without mlock probing the Guard trusts memguard.
func probeLock(int) error { return nil }

func lockable() int64 { return math.MaxInt64 }

// unlockedRegion falls back to heap memory where there is no mmap.
type unlockedRegion []byte

func allocUnlocked(n int) (region, error) { return unlockedRegion(make([]byte, n)), nil }

func (r unlockedRegion) bytes() []byte { return r }
func (r unlockedRegion) freeze()       {}
func (r unlockedRegion) free()         { clear(r) }
