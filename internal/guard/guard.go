package guard

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/awnumar/memguard"
)

// ErrLockedMemory means that memory could not be locked within the budget.
var ErrLockedMemory = errors.New("guard: locked memory unavailable")

// ErrClosed means the Guard has been closed.
var ErrClosed = errors.New("guard: closed")

// ErrCorrupt means a sealed value failed authentication: its ciphertext was
// changed in memory, or it was sealed by another Guard.
var ErrCorrupt = errors.New("guard: sealed value failed authentication")

// processLock serialises the check, probe and lock of new locked memory
// across every Guard in the process: RLIMIT_MEMLOCK is per process, and two
// Guards that both saw room for one more buffer would make memguard panic.
// It guards no data of its own, only that sequence of system calls.
var processLock sync.Mutex

// DefaultMaxLocked is the locked-memory cap used when Options.MaxLocked is zero.
const DefaultMaxLocked = 2 << 20

// Options configure a Guard. A nil *Options means the defaults.
type Options struct {
	// MaxLocked caps the bytes of memory this Guard locks (the key page
	// plus scratch). Zero means DefaultMaxLocked (2 MiB). The effective
	// budget is the smaller of this and what RLIMIT_MEMLOCK leaves,
	// unless the process holds CAP_IPC_LOCK.
	MaxLocked int64

	// AllowUnlocked lets New succeed when no memory can be locked at all:
	// values stay sealed, but the key and scratch space live in ordinary
	// (unlocked, not-dumped) pages that the kernel may swap. False means
	// New fails with ErrLockedMemory instead.
	AllowUnlocked bool
}

// Guard seals values and opens them into scratch memory.
type Guard struct {
	key    region
	keyPtr *[32]byte

	locked bool

	mu      sync.Mutex // guards used, closed and growth
	used    int64      // bytes locked by this Guard
	budget  int64
	closed  bool
	classes [len(classSizes)]*class
	probe   func(n int) error
}

// New makes a Guard with a fresh random key. It returns an error wrapping
// ErrLockedMemory when it can lock nothing and opts.AllowUnlocked is false.
func New(opts *Options) (*Guard, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxLocked <= 0 {
		o.MaxLocked = DefaultMaxLocked
	}
	g := &Guard{probe: probeLock}
	g.budget = min(o.MaxLocked, lockable())
	g.locked = g.budget >= int64(2*pageSize) && g.probe(pageSize) == nil
	if !g.locked && !o.AllowUnlocked {
		return nil, &LockError{Need: int64(2 * pageSize), Budget: g.budget}
	}
	for i, size := range classSizes {
		g.classes[i] = newClass(size)
	}
	var err error
	if g.key, err = g.alloc(32); err != nil {
		return nil, err
	}
	b := g.key.bytes()
	if _, err := rand.Read(b); err != nil {
		g.key.free()
		return nil, fmt.Errorf("guard: reading random key: %w", err)
	}
	g.key.freeze()
	g.keyPtr = (*[32]byte)(b)
	return g, nil
}

// Locked reports whether scratch memory and the key are locked (false only
// when the Guard runs under Options.AllowUnlocked without locked memory).
func (g *Guard) Locked() bool { return g.locked }

// LockedBytes returns the bytes of memory this Guard holds locked.
func (g *Guard) LockedBytes() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.locked {
		return 0
	}
	return g.used
}

// Close wipes the key and every scratch slot and releases their memory.
// Values sealed by the Guard can no longer be opened. Close waits for no
// one: the caller ensures no Open is running. It is idempotent.
func (g *Guard) Close() error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true // from here grow fails, so no chunk is added below
	g.mu.Unlock()
	// Classes before g.mu, the order acquire and grow take them in.
	for _, c := range g.classes {
		c.mu.Lock()
		for i := range c.shards {
			sh := &c.shards[i]
			sh.mu.Lock()
			sh.free, sh.closed = nil, true
			sh.mu.Unlock()
		}
		for _, ch := range c.chunks {
			ch.free()
		}
		c.chunks, c.free = nil, nil
		c.closed = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keyPtr = nil
	g.key.free()
	g.used = 0
	return nil
}

// alloc returns a region of at least n bytes, locked when the Guard locks,
// charging it to the budget.
func (g *Guard) alloc(n int) (region, error) {
	size := int64(roundPage(n))
	if !g.locked {
		r, err := allocUnlocked(int(size))
		if err != nil {
			return nil, fmt.Errorf("guard: allocating %d bytes: %w", size, err)
		}
		g.used += size
		return r, nil
	}
	if g.used+size > g.budget {
		return nil, &LockError{Need: size, Used: g.used, Budget: g.budget}
	}
	// Re-check the limit and probe with a throw-away lock: memguard panics
	// (and wipes every buffer in the process) when its own mlock fails.
	// The limit is the process's, so every Guard takes turns.
	processLock.Lock()
	defer processLock.Unlock()
	if avail := lockable(); avail < size {
		return nil, &LockError{Need: size, Used: g.used, Budget: min(g.budget, g.used+avail)}
	}
	if err := g.probe(int(size)); err != nil {
		return nil, &LockError{Need: size, Used: g.used, Budget: g.budget, Err: err}
	}
	g.used += size
	return lockedRegion{memguard.NewBuffer(int(size))}, nil
}

// release returns size bytes to the budget.
func (g *Guard) release(r region) {
	g.mu.Lock()
	g.used -= int64(len(r.bytes()))
	g.mu.Unlock()
	r.free()
}

// LockError says how much locked memory was needed and what was left. It
// matches ErrLockedMemory with errors.Is.
type LockError struct {
	Need   int64 // bytes that had to be locked
	Used   int64 // bytes this Guard had locked already
	Budget int64 // bytes this Guard may lock in all
	Err    error // the operating system's refusal, if any
}

func (e *LockError) Error() string {
	msg := fmt.Sprintf("guard: locked memory unavailable: need %d bytes, %d of a %d-byte budget in use (RLIMIT_MEMLOCK; raise it, grant CAP_IPC_LOCK, or allow unlocked memory)", e.Need, e.Used, e.Budget)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrLockedMemory.
func (e *LockError) Is(target error) bool { return target == ErrLockedMemory }

// Unwrap returns the operating system's error.
func (e *LockError) Unwrap() error { return e.Err }

// Format prints the type's name for every fmt verb: fmt would otherwise
// read its state while others write it.
func (g *Guard) Format(f fmt.State, _ rune) { io.WriteString(f, "guard.Guard") }
