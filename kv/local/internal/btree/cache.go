package btree

import (
	"container/list"
	"sync"
)

// Cache is a bounded LRU of decoded tree and free-list pages shared by every
// transaction of one file. It is safe for concurrent use.
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

	mu      sync.Mutex // guards latest, entries, lru, hits, misses
	latest  uint64     // newest published commit
	entries map[uint32]*list.Element
	lru     list.List // front = most recently used; values are *cacheEntry
	hits    uint64
	misses  uint64
}

type cacheEntry struct {
	pg      uint32
	version uint64
	val     any // *node or *trunk
}

// NewCache returns a cache of at most pages entries (minimum 16), whose
// newest commit is latest.
func NewCache(pages int, latest uint64) *Cache {
	if pages < 16 {
		pages = 16
	}
	return &Cache{cap: pages, latest: latest, entries: make(map[uint32]*list.Element)}
}

// Latest returns the newest published commit.
func (c *Cache) Latest() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.latest
}

// get returns the entry for pg if it is valid at snapshot snap.
func (c *Cache) get(pg uint32, snap uint64) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[pg]; ok {
		ce := e.Value.(*cacheEntry)
		if ce.version <= snap {
			c.lru.MoveToFront(e)
			c.hits++
			return ce.val
		}
	}
	c.misses++
	return nil
}

// fill installs a page read from the pager at snapshot snap, if snap is
// still the newest commit (else the page may already be stale).
func (c *Cache) fill(pg uint32, snap uint64, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap != c.latest {
		return
	}
	if e, ok := c.entries[pg]; ok && e.Value.(*cacheEntry).version > snap {
		return
	}
	c.putLocked(pg, snap, v)
}

func (c *Cache) putLocked(pg uint32, version uint64, v any) {
	if e, ok := c.entries[pg]; ok {
		ce := e.Value.(*cacheEntry)
		ce.version, ce.val = version, v
		c.lru.MoveToFront(e)
		return
	}
	c.entries[pg] = c.lru.PushFront(&cacheEntry{pg: pg, version: version, val: v})
	for c.lru.Len() > c.cap {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).pg)
	}
}

// publish installs a commit: pages written (with their new content), pages
// whose cached content must be dropped, and the new latest commit, as one
// step under the lock.
func (c *Cache) publish(version uint64, written map[uint32]any, drop []uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pg := range drop {
		if e, ok := c.entries[pg]; ok {
			c.lru.Remove(e)
			delete(c.entries, pg)
		}
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
	c.mu.Lock()
	defer c.mu.Unlock()
	return CacheStats{Entries: c.lru.Len(), Capacity: c.cap, Hits: c.hits, Misses: c.misses}
}
