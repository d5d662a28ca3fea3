//go:build unix && !linux

package guard

import (
	"math"

	"golang.org/x/sys/unix"
)

// lockable returns RLIMIT_MEMLOCK: these systems do not tell cheaply what is
// locked already, so the probe in Guard.alloc is the real check.
func lockable() int64 {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return 0
	}
	if rl.Cur == unix.RLIM_INFINITY || rl.Cur > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(rl.Cur)
}
