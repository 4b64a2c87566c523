package edgecache

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"
)

// bodyFile is a body's file under Config.CacheDir, shared by everyone who
// reads it: the fill that writes it as the body arrives, the viewers of
// its flight who send from it by sendfile as it grows, and the cache entry
// that keeps it once whole. Each holds a reference; the last release
// closes and removes the file.
//
// The fill appends to the file before it hands the same bytes to its
// flight, so whatever a viewer has received from the flight is already in
// the file at the same offset: the flight's in-memory body serves as the
// notice that bytes are there, and the file as where they are sent from.
// A failed append sets broken before the flight sees those bytes; from
// then on the file is not the body, viewers send from memory, and the body
// is not cached.
type bodyFile struct {
	f       *os.File
	w       io.Writer // where appends go: f, except in fault-injection tests
	refs    atomic.Int32
	broken  atomic.Bool
	written int64 // bytes appended; the fill's goroutine only
}

// newBodyFile creates a fresh file in the cache's directory, holding one
// reference for the caller.
func (c *cache) newBodyFile() (*bodyFile, error) {
	c.mu.Lock()
	c.seq++
	name := filepath.Join(c.dir, "obj-"+strconv.FormatUint(c.seq, 10))
	c.mu.Unlock()
	f, w, err := c.create(name)
	if err != nil {
		return nil, err
	}
	b := &bodyFile{f: f, w: w}
	b.refs.Store(1)
	return b, nil
}

// tryAcquire takes a reference unless the file is already closed (its
// last holder released it), and reports whether it did.
func (b *bodyFile) tryAcquire() bool {
	for {
		n := b.refs.Load()
		if n <= 0 {
			return false
		}
		if b.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release drops a reference; the last one closes and removes the file.
func (b *bodyFile) release() {
	if b.refs.Add(-1) == 0 {
		name := b.f.Name()
		_ = b.f.Close()
		_ = os.Remove(name)
	}
}

// Write appends p. A failed write marks the file broken and is not
// reported: the flight goes on from memory, since caching is an
// optimization, never a reason to fail a viewer.
func (b *bodyFile) Write(p []byte) (int, error) {
	if b.broken.Load() {
		return len(p), nil
	}
	n, err := b.w.Write(p)
	b.written += int64(n)
	if err != nil || n < len(p) {
		b.broken.Store(true)
	}
	return len(p), nil
}

// wantsFile reports whether a response of this status, Content-Length and
// lifetime would be cached as a file, so that its fill should write one as
// the body arrives.
func (c *cache) wantsFile(status int, length int64, ttl time.Duration) bool {
	return c.dir != "" && status == http.StatusOK && ttl > 0 && length >= c.diskMin && length <= c.max/4
}
