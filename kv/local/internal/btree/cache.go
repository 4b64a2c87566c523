package btree

import (
	"sync"
	"sync/atomic"
)

// Cache is a bounded cache of decoded tree and free-list pages shared by
// every transaction of one file. It is safe for concurrent use. Eviction is
// CLOCK (second chance): a hit only sets a reference bit, so lookups share
// a read lock and never reorder a list.
//
// Versioning: an entry holds the content of a page as of commit `version`
// and every later commit until it is replaced. A transaction reading
// snapshot s may use an entry only when entry.version <= s; otherwise the
// page changed after its snapshot and it reads its own version from the
// pager. Entries come from two places: commits install the pages they wrote
// (version = the new commit), and a reader of the newest snapshot installs
// what it read from the pager (version = that snapshot). Both happen under
// mu together with the check of latest, so an older read can never replace
// a newer commit's page.
type Cache struct {
	cap int // maximum entries; fixed at construction

	mu      sync.RWMutex // guards latest, entries, ring, hand; readers take it shared
	latest  uint64       // newest published commit
	entries map[uint32]*cacheEntry
	ring    []*cacheEntry // CLOCK ring, len <= cap
	hand    int           // next ring slot the CLOCK hand examines

	hits, misses atomic.Uint64
}

type cacheEntry struct {
	pg      uint32
	slot    int // index in ring
	version uint64
	val     any         // *node or *trunk
	ref     atomic.Bool // referenced since the hand last passed
}

// NewCache returns a cache of at most pages entries (minimum 16), whose
// newest commit is latest.
func NewCache(pages int, latest uint64) *Cache {
	if pages < 16 {
		pages = 16
	}
	return &Cache{cap: pages, latest: latest, entries: make(map[uint32]*cacheEntry)}
}

// Latest returns the newest published commit.
func (c *Cache) Latest() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.latest
}

// get returns the entry for pg if it is valid at snapshot snap.
func (c *Cache) get(pg uint32, snap uint64) any {
	c.mu.RLock()
	e, ok := c.entries[pg]
	var v any
	if ok && e.version <= snap {
		v = e.val
		if !e.ref.Load() {
			e.ref.Store(true)
		}
	}
	c.mu.RUnlock()
	if v != nil {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v
}

// fill installs a page read from the pager at snapshot snap, if snap is
// still the newest commit (else the page may already be stale).
func (c *Cache) fill(pg uint32, snap uint64, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap != c.latest {
		return
	}
	if e, ok := c.entries[pg]; ok && e.version > snap {
		return
	}
	c.putLocked(pg, snap, v)
}

func (c *Cache) putLocked(pg uint32, version uint64, v any) {
	if e, ok := c.entries[pg]; ok {
		e.version, e.val = version, v
		e.ref.Store(true)
		return
	}
	e := &cacheEntry{pg: pg, version: version, val: v}
	if len(c.ring) < c.cap {
		e.slot = len(c.ring)
		c.ring = append(c.ring, e)
		c.entries[pg] = e
		return
	}
	// Advance the hand past referenced entries (clearing their bit) to a
	// victim; at most two turns of the ring.
	for {
		old := c.ring[c.hand]
		if old == nil || !old.ref.Load() {
			if old != nil {
				delete(c.entries, old.pg)
			}
			e.slot = c.hand
			c.ring[c.hand] = e
			c.entries[pg] = e
			c.hand = (c.hand + 1) % len(c.ring)
			return
		}
		old.ref.Store(false)
		c.hand = (c.hand + 1) % len(c.ring)
	}
}

func (c *Cache) removeLocked(pg uint32) {
	if e, ok := c.entries[pg]; ok {
		c.ring[e.slot] = nil // an empty slot is the next victim
		delete(c.entries, pg)
	}
}

// publish installs a commit: pages written (with their new content), pages
// whose cached content must be dropped, and the new latest commit, as one
// step under the lock.
func (c *Cache) publish(version uint64, written map[uint32]any, drop []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pg := range drop {
		c.removeLocked(pg)
	}
	for pg, v := range written {
		c.putLocked(pg, version, v)
	}
	c.latest = version
}

// CacheStats are counters of a Cache.
type CacheStats struct {
	Entries, Capacity int
	Hits, Misses      uint64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{Entries: len(c.entries), Capacity: c.cap, Hits: c.hits.Load(), Misses: c.misses.Load()}
}
