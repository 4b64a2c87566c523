package btree

import (
	"sync"
	"sync/atomic"
)

// Cache is a bounded cache of decoded tree and free-list pages shared by
// every transaction of one file. It is safe for concurrent use. Its budget
// is in bytes of memory the decoded pages hold (page buffer plus the cell
// index), not in pages, so that it bounds the Store's memory. Eviction is
// CLOCK (second chance): a hit only refills an entry's chances, so lookups
// share a read lock and never reorder a list. Branch pages get more chances
// than leaves (branchChances): every descent passes through them, and a
// miss on a branch costs a page read on every lookup below it, so with a
// small cache the leaves churn and the upper levels stay.
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
	budget int64 // bytes the entries may hold; fixed at construction

	mu      sync.RWMutex // guards latest, entries, ring, free, hand, used; readers take it shared
	latest  uint64       // newest published commit
	entries map[uint32]*cacheEntry
	ring    []*cacheEntry // CLOCK ring; nil slots are free
	free    []int         // indexes of nil slots in ring
	hand    int           // next ring slot the CLOCK hand examines
	used    int64         // sum of entry costs

	hits, misses atomic.Uint64
}

type cacheEntry struct {
	pg      uint32
	slot    int   // index in ring
	cost    int64 // bytes the entry holds
	version uint64
	val     any          // *node or *trunk
	weight  int32        // chances a hit restores: branchChances or 1; written under mu held exclusively
	chances atomic.Int32 // passes of the hand the entry survives without a hit
}

// branchChances is how many passes of the CLOCK hand an unreferenced branch
// page survives (a leaf or trunk survives one, as in plain CLOCK).
const branchChances = 3

// weightOf returns the chances a hit on v restores.
func weightOf(v any) int32 {
	if n, ok := v.(*node); ok && !n.leaf() {
		return branchChances
	}
	return 1
}

// MinCacheBytes is the smallest cache budget. Transactions hold the nodes
// they use, so correctness never depends on the cache keeping a page.
const MinCacheBytes = 4 * MinPageSize

// NewCache returns a cache holding at most budget bytes (at least
// MinCacheBytes), whose newest commit is latest.
func NewCache(budget int64, latest uint64) *Cache {
	budget = max(budget, MinCacheBytes)
	return &Cache{budget: budget, latest: latest, entries: make(map[uint32]*cacheEntry)}
}

// cellBytes approximates the memory of one decoded cell (three slice
// headers' worth of fields).
const cellBytes = 64

// costOf estimates the bytes a cached value keeps alive: a decoded node
// aliases its whole page buffer and adds its cell index.
func costOf(v any, pageSize int) int64 {
	switch v := v.(type) {
	case *node:
		if v.packed {
			return int64(max(pageSize, v.size) + 2*len(v.offs) + cellBytes)
		}
		return int64(max(pageSize, v.size) + cellBytes*(len(v.cells)+1))
	case *trunk:
		return int64(4*len(v.pages) + cellBytes)
	}
	return int64(pageSize)
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
		if e.chances.Load() < e.weight { // avoid a shared write on the hot path
			e.chances.Store(e.weight)
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
func (c *Cache) fill(pg uint32, snap uint64, v any, pageSize int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap != c.latest {
		return
	}
	if e, ok := c.entries[pg]; ok && e.version > snap {
		return
	}
	c.putLocked(pg, snap, v, costOf(v, pageSize))
}

func (c *Cache) putLocked(pg uint32, version uint64, v any, cost int64) {
	if e, ok := c.entries[pg]; ok {
		c.used += cost - e.cost
		e.version, e.val, e.cost, e.weight = version, v, cost, weightOf(v)
		e.chances.Store(e.weight)
	} else {
		// A new entry starts one chance short of a hit's (a leaf with
		// none, as in plain CLOCK): one read is not yet reuse.
		e := &cacheEntry{pg: pg, version: version, val: v, cost: cost, weight: weightOf(v)}
		e.chances.Store(e.weight - 1)
		if n := len(c.free); n > 0 {
			e.slot = c.free[n-1]
			c.free = c.free[:n-1]
			c.ring[e.slot] = e
		} else {
			e.slot = len(c.ring)
			c.ring = append(c.ring, e)
		}
		c.entries[pg] = e
		c.used += cost
	}
	c.evictLocked(pg)
}

// evictLocked advances the CLOCK hand, taking one chance from each entry
// it passes, and evicts entries with none left until the cache is within
// its budget. keep (the page just installed) is never the victim;
// branchChances+1 full turns always find victims, since by then every
// entry's chances are spent.
func (c *Cache) evictLocked(keep uint32) {
	for steps := 0; c.used > c.budget && steps < (branchChances+1)*len(c.ring)+1; steps++ {
		c.hand %= len(c.ring)
		e := c.ring[c.hand]
		switch {
		case e == nil || e.pg == keep:
		case e.chances.Load() > 0:
			e.chances.Add(-1)
		default:
			c.removeLocked(e.pg)
		}
		c.hand++
	}
}

func (c *Cache) removeLocked(pg uint32) {
	if e, ok := c.entries[pg]; ok {
		c.ring[e.slot] = nil
		c.free = append(c.free, e.slot)
		c.used -= e.cost
		delete(c.entries, pg)
	}
}

// publish installs a commit: pages written (with their new content), pages
// whose cached content must be dropped, and the new latest commit, as one
// step under the lock.
func (c *Cache) publish(version uint64, written map[uint32]any, drop []uint32, pageSize int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, pg := range drop {
		c.removeLocked(pg)
	}
	for pg, v := range written {
		c.putLocked(pg, version, v, costOf(v, pageSize))
	}
	c.latest = version
}

// CacheStats are counters of a Cache.
type CacheStats struct {
	Entries      int
	Bytes, Limit int64
	Hits, Misses uint64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return CacheStats{Entries: len(c.entries), Bytes: c.used, Limit: c.budget, Hits: c.hits.Load(), Misses: c.misses.Load()}
}
