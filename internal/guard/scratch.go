package guard

import (
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/strongroom/strongroom/internal/stripe"
)

// classSizes are the scratch size classes. Values larger than the last class
// get a region of their own for the length of one Open.
var classSizes = [...]int{64, 256, 1024, 4096, 16384, 65536}

// class is a pool of equal-sized scratch slots carved from locked regions.
//
// Free slots sit in shards, each with its own lock, and in a shared list.
// Open takes a slot from a shard and gives it back to one, without touching
// the class's lock: package stripe picks the shard, so that on many cores
// reads neither queue on one mutex nor bounce its cache line. The shared list, under mu, serves what
// the shards cannot: growth, stealing from other shards, waiting for a
// slot when the budget is spent, reclaiming, Close.
type class struct {
	size   int
	shards []shard
	wait   atomic.Int32 // goroutines waiting in acquire: put feeds the shared list

	mu      sync.Mutex
	cond    sync.Cond // signalled when a slot is returned or the Guard closes
	free    [][]byte
	chunks  []region
	waiters int // goroutines waiting in acquire
	closed  bool
}

// shard holds free slots of a class under a lock of its own, on a cache
// line of its own.
type shard struct {
	mu     sync.Mutex
	free   [][]byte
	closed bool
	_      cpu.CacheLinePad
}

// shardBatch is how many slots a shard takes from the shared list at once.
const shardBatch = 8

func newClass(size int) *class {
	c := &class{size: size, shards: make([]shard, stripe.Count())}
	c.cond.L = &c.mu
	return c
}

// pick returns the calling goroutine's shard.
func (c *class) pick() *shard { return &c.shards[stripe.Pick(len(c.shards))] }

// classFor returns the smallest class that holds n bytes, or nil.
func (g *Guard) classFor(n int) *class {
	for i, size := range classSizes {
		if n <= size {
			return g.classes[i]
		}
	}
	return nil
}

// acquire takes a free slot of c: from a shard, else from the shared
// list (refilling the shard), else from other shards, else growing the pool
// within the budget, else waiting for a slot to come back.
func (g *Guard) acquire(c *class) ([]byte, error) {
	sh := c.pick()
	sh.mu.Lock()
	if n := len(sh.free); n > 0 && !sh.closed {
		s := sh.free[n-1]
		sh.free = sh.free[:n-1]
		sh.mu.Unlock()
		return s, nil
	}
	sh.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	stolen := false
	for {
		if c.closed {
			return nil, ErrClosed
		}
		if n := len(c.free); n > 0 {
			s := c.free[n-1]
			c.free = c.free[:n-1]
			if k := min(len(c.free), shardBatch); k > 0 && c.wait.Load() == 0 {
				sh.mu.Lock()
				sh.free = append(sh.free, c.free[len(c.free)-k:]...)
				sh.mu.Unlock()
				clear(c.free[len(c.free)-k:])
				c.free = c.free[:len(c.free)-k]
			}
			return s, nil
		}
		if !stolen {
			stolen = true
			if c.gather() > 0 {
				continue
			}
		}
		err := g.grow(c)
		if err == nil {
			continue
		}
		if len(c.chunks) == 0 {
			// Nothing of this class will ever come back to wait for.
			return nil, err
		}
		c.waiters++
		c.wait.Add(1)
		c.gather() // a put that saw no waiter may have just fed a shard
		if len(c.free) == 0 {
			c.cond.Wait()
		}
		c.wait.Add(-1)
		c.waiters--
	}
}

// gather moves every shard's free slots to the shared list and returns how
// many it moved. c.mu is held.
func (c *class) gather() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.free)
		c.free = append(c.free, sh.free...)
		clear(sh.free)
		sh.free = sh.free[:0]
		sh.mu.Unlock()
	}
	return n
}

// grow adds one region's worth of slots to c, reclaiming idle regions of
// other classes when the budget is spent. c.mu is held.
func (g *Guard) grow(c *class) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	r, err := g.alloc(max(c.size, pageSize))
	if errors.Is(err, ErrLockedMemory) && g.reclaim(c) {
		r, err = g.alloc(max(c.size, pageSize))
	}
	if err != nil {
		return err
	}
	b := r.bytes()
	c.chunks = append(c.chunks, r)
	for off := 0; off+c.size <= len(b); off += c.size {
		c.free = append(c.free, b[off:off+c.size:off+c.size])
	}
	return nil
}

// reclaim frees the regions of classes other than c whose slots are all
// free, and reports whether it freed any. g.mu and c.mu are held; other
// classes are only tried (TryLock), since their goroutines may hold their
// own lock while waiting for g.mu.
func (g *Guard) reclaim(c *class) bool {
	freed := false
	for _, o := range g.classes {
		if o == c || !o.mu.TryLock() {
			continue
		}
		o.gather()
		kept := o.chunks[:0]
		for _, ch := range o.chunks {
			if o.idle(ch) {
				o.drop(ch)
				g.used -= int64(len(ch.bytes()))
				ch.free()
				freed = true
			} else {
				kept = append(kept, ch)
			}
		}
		clear(o.chunks[len(kept):])
		o.chunks = kept
		o.mu.Unlock()
	}
	return freed
}

// idle reports whether every slot of region ch is in c's free list. c.mu
// is held.
func (c *class) idle(ch region) bool {
	n := 0
	for _, s := range c.free {
		if within(s, ch.bytes()) {
			n++
		}
	}
	return n == len(ch.bytes())/c.size
}

// drop removes the slots of region ch from c's free list. c.mu is held.
func (c *class) drop(ch region) {
	kept := c.free[:0]
	for _, s := range c.free {
		if !within(s, ch.bytes()) {
			kept = append(kept, s)
		}
	}
	clear(c.free[len(kept):])
	c.free = kept
}

// within reports whether slot s lies inside region b.
func within(s, b []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p < start+uintptr(len(b))
}

// put returns a wiped slot to c: to a shard, or to the shared list when a
// goroutine waits for one.
func (c *class) put(s []byte) {
	if c.wait.Load() == 0 {
		sh := c.pick()
		sh.mu.Lock()
		ok := !sh.closed
		if ok {
			sh.free = append(sh.free, s)
		}
		sh.mu.Unlock()
		if !ok || c.wait.Load() == 0 {
			return
		}
		// A goroutine began to wait after the check above, and its
		// gather may have missed this slot: hand it over.
		c.mu.Lock()
		c.gather()
		c.mu.Unlock()
		c.cond.Broadcast()
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.free = append(c.free, s)
	}
	wake := c.waiters > 0
	c.mu.Unlock()
	if wake {
		c.cond.Signal()
	}
}

// Scratch runs fn with n bytes of zeroed scratch memory (locked when the
// Guard locks), then wipes it, also when fn panics. fn must not keep buf. It
// serves code that must build a secret somewhere before sealing it, such as
// a generator.
func (g *Guard) Scratch(n int, fn func(buf []byte) error) error {
	buf, c, r, err := g.take(n)
	if err != nil {
		return err
	}
	defer g.give(buf, n, c, r)
	return fn(buf[:n])
}

// take returns a slot of at least n bytes: from class c, or, past the
// largest class, a region r of its own. give wipes and returns it.
func (g *Guard) take(n int) (buf []byte, c *class, r region, err error) {
	if c = g.classFor(n); c != nil {
		buf, err = g.acquire(c)
		return buf, c, nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, nil, nil, ErrClosed
	}
	if r, err = g.alloc(n); err != nil {
		return nil, nil, nil, err
	}
	return r.bytes(), nil, r, nil
}

// give wipes the first n bytes of buf and returns it to where take got it.
func (g *Guard) give(buf []byte, n int, c *class, r region) {
	if r != nil {
		g.release(r) // free wipes
		return
	}
	clear(buf[:n])
	c.put(buf)
}
