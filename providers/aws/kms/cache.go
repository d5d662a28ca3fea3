package kms

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"sync"
	"time"

	"github.com/strongroom/strongroom/internal/guard"
)

// Defaults of the data-key cache (see Options.DataKeyTTL and
// Options.DataKeyCacheSize).
const (
	DefaultDataKeyTTL       = 5 * time.Minute
	DefaultDataKeyCacheSize = 256
)

// cacheLockedMemory caps the memory the cache's guard locks: its sealing
// key's page and scratch pages for opening 32-byte keys (64 at once per
// page).
const cacheLockedMemory = 16 << 10

// dataKeys caches the plaintext data keys of envelopes, each sealed by a
// guard.Guard (key and scratch memory locked), under an id hashed from what
// KMS decrypted: the encrypted data key, the encryption context and the
// accepted keys; never from a plaintext. An entry lives ttl from the KMS
// Decrypt that produced it, however often it is used; at most size live at
// once, the oldest evicted first. Expired entries are destroyed by the next
// lookup or insert that notices them (no goroutine); close destroys all and
// closes the guard.
//
// A nil *dataKeys is a cache that is off: every lookup misses.
type dataKeys struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	// mu guards the fields below. Lookups open a sealed key under the
	// read lock, so that no Destroy or guard Close (write lock) runs
	// during an Open, as guard requires.
	mu      sync.RWMutex
	g       *guard.Guard // made on the first insert
	off     bool         // no guard could be made: the cache stays empty
	closed  bool
	entries map[cacheID]*list.Element
	order   list.List // of *dataKey, oldest first
}

// cacheID identifies a cached data key (see dataKeyID).
type cacheID [sha256.Size]byte

type dataKey struct {
	id      cacheID
	sealed  *guard.Sealed
	expires time.Time
}

// newDataKeys returns a cache, or nil when ttl or size is negative.
func newDataKeys(ttl time.Duration, size int, now func() time.Time) *dataKeys {
	if ttl < 0 || size < 0 {
		return nil
	}
	if ttl == 0 {
		ttl = DefaultDataKeyTTL
	}
	if size == 0 {
		size = DefaultDataKeyCacheSize
	}
	return &dataKeys{ttl: ttl, size: size, now: now, entries: make(map[cacheID]*list.Element)}
}

// dataKeyID returns the cache id of the data key that KMS would return for
// wrapped under ec, for a provider accepting the keys accepted: a SHA-256
// of the three, each field length-prefixed (the map in key order).
func dataKeyID(wrapped []byte, ec map[string]string, accepted []string) cacheID {
	h := sha256.New()
	h.Write([]byte("strongroom kms data key v1\x00"))
	field(h, wrapped)
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	count(h, len(keys))
	for _, k := range keys {
		field(h, []byte(k))
		field(h, []byte(ec[k]))
	}
	count(h, len(accepted))
	for _, a := range accepted {
		field(h, []byte(a))
	}
	var id cacheID
	h.Sum(id[:0])
	return id
}

func count(h hash.Hash, n int) { h.Write(binary.BigEndian.AppendUint64(nil, uint64(n))) }

func field(h hash.Hash, b []byte) {
	count(h, len(b))
	h.Write(b)
}

// open calls use with the cached data key of id, in the guard's locked
// scratch memory (use must not keep it), and reports whether there was
// one. An expired key is not used.
func (d *dataKeys) open(id cacheID, use func(key []byte)) bool {
	if d == nil {
		return false
	}
	now := d.now()
	used, stale, broken := false, false, (*list.Element)(nil)
	d.mu.RLock()
	if el, ok := d.entries[id]; ok && !d.closed {
		e := el.Value.(*dataKey)
		if now.Before(e.expires) {
			err := d.g.Open(e.sealed, func(key []byte) error {
				use(key)
				used = true
				return nil
			})
			if err != nil { // corrupt, or no scratch memory: ask KMS
				broken = el
			}
		} else {
			stale = true
		}
	}
	if front := d.order.Front(); front != nil && !now.Before(front.Value.(*dataKey).expires) {
		stale = true
	}
	d.mu.RUnlock()
	if stale || broken != nil {
		d.mu.Lock()
		if broken != nil && d.entries[id] == broken {
			d.remove(broken)
		}
		d.sweep(now)
		d.mu.Unlock()
	}
	return used
}

// put caches key (which it does not keep: it seals a copy) as the data key
// of id, obtained from KMS at fetched. It does nothing once closed, when
// the guard cannot be made, or when id is cached already.
func (d *dataKeys) put(id cacheID, key []byte, fetched time.Time) {
	if d == nil {
		return
	}
	now := d.now()
	expires := fetched.Add(d.ttl)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.off || !now.Before(expires) {
		return
	}
	if d.g == nil {
		g, err := guard.New(&guard.Options{MaxLocked: cacheLockedMemory})
		if err != nil { // no locked memory: no cache, rather than keys in swappable pages
			d.off = true
			return
		}
		d.g = g
	}
	d.sweep(now)
	if _, ok := d.entries[id]; ok {
		return
	}
	for d.order.Len() >= d.size {
		d.remove(d.order.Front())
	}
	s, err := d.g.Seal(key)
	if err != nil {
		return
	}
	d.entries[id] = d.order.PushBack(&dataKey{id: id, sealed: s, expires: expires})
}

// sweep destroys the expired entries. d.mu is held for writing.
func (d *dataKeys) sweep(now time.Time) {
	for el := d.order.Front(); el != nil; {
		next := el.Next()
		if !now.Before(el.Value.(*dataKey).expires) {
			d.remove(el)
		}
		el = next
	}
}

// remove destroys the entry el. d.mu is held for writing.
func (d *dataKeys) remove(el *list.Element) {
	e := d.order.Remove(el).(*dataKey)
	delete(d.entries, e.id)
	e.sealed.Destroy()
}

// close destroys every entry and closes the guard; later lookups miss and
// inserts do nothing. It is idempotent.
func (d *dataKeys) close() {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	d.closed = true
	for d.order.Len() > 0 {
		d.remove(d.order.Front())
	}
	if d.g != nil {
		d.g.Close()
	}
}

// held returns the number of entries, expired or not.
func (d *dataKeys) held() int {
	if d == nil {
		return 0
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.order.Len()
}
