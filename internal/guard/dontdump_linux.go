package guard

import "golang.org/x/sys/unix"

// dontDump asks the kernel to leave b out of core dumps (advice only).
func dontDump(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTDUMP) }
