// Package guard keeps secret values sealed in memory and opens them, one
// short access at a time, into locked scratch memory.
//
// Each value is sealed with XSalsa20-Poly1305 (golang.org/x/crypto's
// secretbox, the construction memguard's own enclaves use) under one key per
// [Guard]. The ciphertext lives on the ordinary Go heap; the key lives in a
// single memguard LockedBuffer (locked, guard-paged, read-only after it is
// made) and is passed by pointer, never copied to the heap. [Guard.Open]
// decrypts into a pre-locked scratch slot of the right size class, runs the
// caller's function, wipes the slot and returns it to its pool: no mmap and
// no allocation on that path.
//
// # Locked memory
//
// memguard panics when mlock fails, and wipes every live buffer in the
// process first. A Guard therefore budgets locked memory itself before it
// asks memguard for any: it reads RLIMIT_MEMLOCK, the pages the process has
// already locked (VmLck) and whether it holds CAP_IPC_LOCK, caps its own use
// at [Options.MaxLocked], and probes with a throw-away mlock before each new
// LockedBuffer. When it cannot lock, [New] and [Guard.Open] return an error
// wrapping [ErrLockedMemory]; with [Options.AllowUnlocked] a Guard that can
// lock nothing at all runs with sealed values and unlocked scratch memory
// instead, and [Guard.Locked] reports false so that the caller can say so
// loudly.
//
// # Concurrency
//
// A Guard is safe for concurrent use. [Sealed] values are immutable once
// made; [Sealed.Destroy] must not race with an Open of the same value (the
// caller serialises them).
//
// # Errors
//
// [ErrLockedMemory] (with a [*LockError] saying what was needed and what
// the budget allowed), [ErrCorrupt] for a sealed value that fails
// authentication, and [ErrClosed]. A function passed to [Guard.Open] or
// [Guard.Scratch] has its error returned untouched.
//
// # Security
//
// Honest limits: the plaintext handed to [Guard.Seal] was on the Go heap
// before it got here, and the runtime may have copied it (the caller wipes
// its copy); secretbox derives a sub-key and key stream on the goroutine
// stack, which it does not wipe; a function passed to Open that copies the
// plaintext out defeats all of this. Importing memguard disables core dumps
// for the whole process.
package guard
