//go:build windows

package file

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// canLock says that the system has file locks.
const canLock = true

// lockOpenFlags are added when a lock file is opened: none here.
const lockOpenFlags = 0

// tryLock takes an exclusive LockFileEx lock on the first byte of f if
// no other handle holds it, and reports whether it did.
func tryLock(f *os.File) (locked bool, err error) {
	err = control(f, func(h windows.Handle) error {
		return windows.LockFileEx(h, windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, new(windows.Overlapped))
	})
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return err == nil, err
}

// unlockFile releases the lock that tryLock took.
func unlockFile(f *os.File) error {
	return control(f, func(h windows.Handle) error {
		return windows.UnlockFileEx(h, 0, 1, 0, new(windows.Overlapped))
	})
}

// control calls fn with f's handle.
func control(f *os.File, fn func(h windows.Handle) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(h uintptr) { ferr = fn(windows.Handle(h)) }); err != nil {
		return err
	}
	return ferr
}
