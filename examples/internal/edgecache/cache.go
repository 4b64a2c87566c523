package edgecache

import (
	"container/list"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// entry is one cached response. Its fields never change after put; body
// bytes live in memory (body) or in a file (file), never both.
type entry struct {
	key     string
	status  int
	ctype   string
	body    []byte
	file    *os.File  // bf.f, for readers
	bf      *bodyFile // the entry holds one reference while it has refs
	size    int64
	expires time.Time
	stored  time.Time
	hdr     entryValues

	refs    atomic.Int32 // readers holding file open, plus one while cached
	elem    *list.Element
	cache   *cache
	evicted bool // guarded by cache.mu
}

// entryValues are an entry's response header values, built once at put so
// that a hit formats nothing; shared read-only by every response (see
// constValues for why that is safe).
type entryValues struct {
	ctype, length, modified []string
}

// release drops one reference; the last one releases the file.
func (e *entry) release() {
	if e.refs.Add(-1) == 0 && e.bf != nil {
		e.bf.release()
	}
}

// cache is a byte-bounded response cache: entries expire at their TTL and,
// past the budget, the least recently used go first (a live window's old
// segments, which nobody asks for any more, before a VOD title's popular
// ones). Bodies larger than
// diskMin go to files under dir (when dir is set) so hits can leave by
// sendfile; the rest stay in memory.
type cache struct {
	dir     string
	diskMin int64
	max     int64
	now     func() time.Time
	create  func(name string) (*os.File, io.Writer, error) // a new body file and where to append to it; tests replace it

	mu    sync.Mutex // guards m, order, bytes, seq
	m     map[string]*entry
	order *list.List // least recently used first
	bytes int64
	seq   uint64
}

func newCache(dir string, diskMin, max int64, now func() time.Time) *cache {
	return &cache{dir: dir, diskMin: diskMin, max: max, now: now, create: createFile, m: make(map[string]*entry), order: list.New()}
}

func createFile(name string) (*os.File, io.Writer, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	return f, f, err
}

// get returns a fresh entry with a reference the caller must release.
func (c *cache) get(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[key]
	if e == nil {
		return nil
	}
	if !c.now().Before(e.expires) {
		c.removeLocked(e)
		return nil
	}
	e.refs.Add(1)
	c.order.MoveToBack(e.elem)
	return e
}

// put stores a complete body. A failure to write the file keeps the body
// in memory instead: caching is an optimization, never a reason to fail.
func (c *cache) put(key string, status int, ctype string, body []byte, ttl time.Duration) {
	if ttl <= 0 || int64(len(body)) > c.max/4 {
		return
	}
	e := c.newEntry(key, status, ctype, int64(len(body)), ttl)
	// Only a 200 goes to a file: serveHit and the lane send any other
	// status from e.body, so a file entry of a 404 would go out empty.
	if c.wantsFile(status, e.size, ttl) {
		if bf, err := c.newBodyFile(); err == nil {
			if _, _ = bf.Write(body); !bf.broken.Load() {
				e.file, e.bf = bf.f, bf
			} else {
				bf.release()
			}
		}
	}
	if e.file == nil {
		e.body = body
	}
	c.insert(e)
}

// putFile stores a complete body that its fill wrote to bf (size bytes,
// none of them failed); the entry takes its own reference to bf.
func (c *cache) putFile(key string, ctype string, bf *bodyFile, size int64, ttl time.Duration) {
	if !c.wantsFile(http.StatusOK, size, ttl) || bf.broken.Load() || bf.written != size || !bf.tryAcquire() {
		return
	}
	e := c.newEntry(key, http.StatusOK, ctype, size, ttl)
	e.file, e.bf = bf.f, bf
	c.insert(e)
}

func (c *cache) newEntry(key string, status int, ctype string, size int64, ttl time.Duration) *entry {
	now := c.now()
	e := &entry{key: key, status: status, ctype: ctype, size: size, stored: now, expires: now.Add(ttl), cache: c}
	e.hdr = entryValues{
		ctype:    []string{ctype},
		length:   []string{strconv.FormatInt(size, 10)},
		modified: []string{now.UTC().Format(http.TimeFormat)},
	}
	e.refs.Store(1)
	return e
}

// insert indexes e, replacing any entry of its key, and evicts past the
// budget.
func (c *cache) insert(e *entry) {
	c.mu.Lock()
	if old := c.m[e.key]; old != nil {
		c.removeLocked(old)
	}
	c.m[e.key] = e
	e.elem = c.order.PushBack(e)
	c.bytes += e.size
	for c.bytes > c.max && c.order.Len() > 1 {
		c.removeLocked(c.order.Front().Value.(*entry))
	}
	c.mu.Unlock()
}

// removeLocked drops e from the index and releases the cache's reference.
func (c *cache) removeLocked(e *entry) {
	if e.evicted {
		return
	}
	e.evicted = true
	if c.m[e.key] == e {
		delete(c.m, e.key)
	}
	c.order.Remove(e.elem)
	c.bytes -= e.size
	e.release()
}

// sweep drops expired entries; called periodically.
func (c *cache) sweep() {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*entry); !now.Before(e.expires) {
			c.removeLocked(e)
		}
		el = next
	}
}

// close drops everything.
func (c *cache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.order.Len() > 0 {
		c.removeLocked(c.order.Front().Value.(*entry))
	}
}

func (c *cache) size() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.bytes
}
