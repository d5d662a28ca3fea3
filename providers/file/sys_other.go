//go:build !unix

package file

import "io/fs"

const openFlags = 0

// fileID returns zeros: without inodes, a file replaced by another of the
// same size and modification time goes unnoticed by polling.
func fileID(fs.FileInfo) (dev, ino uint64) { return 0, 0 }

// exposed reports false: Unix permission bits do not describe who can read
// a file here.
func exposed(fs.FileMode) bool { return false }
