package guard

import (
	"os"

	"github.com/awnumar/memguard"
)

var pageSize = os.Getpagesize()

func roundPage(n int) int {
	if n <= 0 {
		return pageSize
	}
	return (n + pageSize - 1) / pageSize * pageSize
}

// region is memory off the Go heap that holds key material or scratch
// space: a memguard LockedBuffer, or plain pages when nothing can be locked.
type region interface {
	bytes() []byte
	freeze() // make read-only
	free()   // wipe and release
}

type lockedRegion struct{ b *memguard.LockedBuffer }

func (r lockedRegion) bytes() []byte { return r.b.Bytes() }
func (r lockedRegion) freeze()       { r.b.Freeze() }
func (r lockedRegion) free()         { r.b.Destroy() }
