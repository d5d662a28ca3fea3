//go:build unix

package file

import (
	"io/fs"
	"syscall"
)

// openFlags are added when a file is opened for reading: a FIFO put where a
// secret file was expected must not block the read.
const openFlags = syscall.O_NONBLOCK

// fileID returns the device and inode of the file that info describes.
func fileID(info fs.FileInfo) (dev, ino uint64) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// exposed reports whether mode lets group or others read or write.
func exposed(mode fs.FileMode) bool { return mode.Perm()&0o066 != 0 }
