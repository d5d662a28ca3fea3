//go:build unix && !linux

package guard

// lockable returns RLIMIT_MEMLOCK: these systems do not tell cheaply what is
// locked already, so the probe in Guard.alloc is the real check.
func lockable() int64 { return rlimitMemlock() }
