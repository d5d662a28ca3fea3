//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package file

import (
	"errors"
	"os"
)

// canLock says that the system has no file locks that the provider uses:
// WriteIf is unsupported, Write and Delete take no lock.
const canLock = false

const lockOpenFlags = 0

var errNoLocks = errors.New("no file locks")

func tryLock(*os.File) (bool, error) { return false, errNoLocks }

func unlockFile(*os.File) error { return errNoLocks }
