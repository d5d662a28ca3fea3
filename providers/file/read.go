package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/strongroom/strongroom/providers"
)

// fileSystem is what the provider needs from the host's file system, or from
// an *os.Root that confines it.
type fileSystem interface {
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	Remove(name string) error
	Rename(oldname, newname string) error
}

// hostFS is the unconfined file system.
type hostFS struct{}

func (hostFS) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}
func (hostFS) Stat(name string) (fs.FileInfo, error)  { return os.Stat(name) }
func (hostFS) Lstat(name string) (fs.FileInfo, error) { return os.Lstat(name) }
func (hostFS) Remove(name string) error               { return os.Remove(name) }
func (hostFS) Rename(oldname, newname string) error   { return os.Rename(oldname, newname) }

// readAttempts is how many times read tries to get a stable copy of a file
// that keeps changing.
const readAttempts = 4

// readState says how a read went.
type readState uint8

const (
	readStable   readState = iota // the file did not change during the read
	readReplaced                  // complete, but another file now has the name
	readTorn                      // the file was modified during the read
)

// read returns the whole content of the file at loc and its metadata. It
// guards against reading a file half-way through a rewrite: when the
// file's signature (size, modification time) differs before and after the
// read, it wipes what it read and tries again. When the name points to
// another file (inode) after the read, it tries again too, for the newer
// content; if the name keeps changing, the last complete read is returned.
func (p *Provider) read(ctx context.Context, loc location) ([]byte, fs.FileInfo, error) {
	var (
		last     []byte
		lastInfo fs.FileInfo
	)
	for attempt := 1; ; attempt++ {
		buf, info, state, err := p.readOnce(loc)
		switch {
		case err != nil:
			clear(last)
			return nil, nil, err
		case state == readStable:
			clear(last)
			return buf, info, nil
		case state == readReplaced:
			clear(last)
			last, lastInfo = buf, info
		}
		if attempt == readAttempts {
			if last != nil {
				return last, lastInfo, nil
			}
			return nil, nil, fmt.Errorf("providers/file: %s changed during each of %d reads: %w", loc.path, readAttempts, providers.ErrInvalid)
		}
		if state == readReplaced {
			continue // the new file is complete already
		}
		if err := pause(ctx, time.Duration(attempt)*5*time.Millisecond); err != nil {
			clear(last)
			return nil, nil, fmt.Errorf("providers/file: fetch %s: %w", loc.path, err)
		}
	}
}

// pause waits for d, or until ctx ends and returns its error.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// readOnce reads the file at loc once.
func (p *Provider) readOnce(loc location) (buf []byte, info fs.FileInfo, state readState, err error) {
	f, err := p.fs.OpenFile(loc.name, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, nil, 0, p.fsError("open", loc.path, err)
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, nil, 0, p.fsError("stat", loc.path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, 0, fmt.Errorf("providers/file: %s is not a regular file: %w", loc.path, providers.ErrInvalid)
	}
	if info.Size() > p.maxSize {
		return nil, nil, 0, fmt.Errorf("providers/file: %s is %d bytes, over the limit of %d: %w", loc.path, info.Size(), p.maxSize, providers.ErrInvalid)
	}
	buf, err = readAll(f, info.Size(), p.maxSize)
	if errors.Is(err, errTooLarge) {
		return nil, nil, 0, fmt.Errorf("providers/file: %s grew past the limit of %d bytes while being read: %w", loc.path, p.maxSize, providers.ErrInvalid)
	}
	if err != nil {
		return nil, nil, 0, p.fsError("read", loc.path, err)
	}
	after, err := f.Stat()
	if err != nil || signatureOf(after) != signatureOf(info) {
		clear(buf)
		return nil, nil, readTorn, nil
	}
	if now, err := p.fs.Stat(loc.name); err != nil || signatureOf(now) != signatureOf(info) {
		return buf, info, readReplaced, nil
	}
	return buf, info, readStable, nil
}

var errTooLarge = errors.New("file too large")

// readAll reads r to the end into a buffer sized for size bytes (the file's
// size when it was opened). A buffer that must grow is copied and wiped, so
// no stray copy of the content is left for the garbage collector; more than
// limit bytes give errTooLarge. On error the buffer is wiped.
func readAll(r io.Reader, size, limit int64) (buf []byte, err error) {
	defer func() {
		if err != nil {
			clear(buf)
			buf = nil
		}
	}()
	buf = make([]byte, 0, min(max(size+1, 512), limit+1)) // +1 notices growth
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, errTooLarge
			}
			bigger := make([]byte, len(buf), min(2*int64(cap(buf)), limit+1))
			copy(bigger, buf)
			clear(buf)
			buf = bigger
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			if int64(len(buf)) > limit {
				return buf, errTooLarge
			}
			return buf[:len(buf):len(buf)], nil
		}
		if rerr != nil {
			return buf, rerr
		}
	}
}

// signature identifies one state of a file cheaply: two reads with the same
// signature saw the same content, up to the resolution of the file
// system's modification times.
type signature struct {
	state    uint8 // sigMissing, sigError or sigPresent
	dev, ino uint64
	size     int64
	mtime    int64
}

const (
	sigMissing uint8 = iota
	sigError
	sigPresent
)

func signatureOf(info fs.FileInfo) signature {
	dev, ino := fileID(info)
	return signature{state: sigPresent, dev: dev, ino: ino, size: info.Size(), mtime: info.ModTime().UnixNano()}
}

// signature returns the current signature of the file at loc, following
// symbolic links.
func (p *Provider) signature(loc location) signature {
	info, err := p.fs.Stat(loc.name)
	switch {
	case err == nil:
		return signatureOf(info)
	case errors.Is(err, fs.ErrNotExist):
		return signature{state: sigMissing}
	}
	return signature{state: sigError}
}
