//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package file

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// canLock says that the system has file locks.
const canLock = true

// lockOpenFlags are added when a lock file is opened: a symbolic link put
// in its place is not followed (with Options.Root, os.Root still follows
// one that stays inside the root).
const lockOpenFlags = unix.O_NOFOLLOW

// tryLock takes the exclusive flock(2) lock on f if no other open file
// description of the file holds it, and reports whether it did. Locks of
// separate opens exclude each other within a process too.
func tryLock(f *os.File) (locked bool, err error) {
	err = control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) })
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// unlockFile releases the lock that tryLock took.
func unlockFile(f *os.File) error {
	return control(f, func(fd int) error { return unix.Flock(fd, unix.LOCK_UN) })
}

// control calls fn with f's descriptor, retrying on EINTR.
func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if ferr = fn(int(fd)); ferr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
