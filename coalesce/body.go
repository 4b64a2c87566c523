package coalesce

import (
	"container/heap"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Chunk sizes of a streaming body. The body is a list of chunks rather than
// one slice so that it can grow without moving bytes readers are reading;
// sizes double from minChunk to maxChunk, so a small body wastes little and
// a large one needs few chunks. A size hint replaces the doubling with one
// chunk of the announced size (up to maxHintChunk).
const (
	minChunk     = 16 << 10
	maxChunk     = 1 << 20
	maxHintChunk = 64 << 20
)

// errFull is the Writer's internal "no room left under MaxBodySize".
var errFull = errors.New("edgekit/coalesce: body full")

// body is the one shared copy of a streaming flight's bytes and header.
//
// What must stay true: every chunk but the last is completely filled;
// bytes below size never change; bytes at or above size are touched only by
// the Writer. Readers therefore copy out of chunks without holding mu, and
// the Writer copies into the tail without holding it.
type body[H any] struct {
	mu     sync.Mutex // guards chunks, size, hdr, hdrSet, hooks, hdrBusy, ended, err, refuse, wake, levels, atLevel
	chunks [][]byte
	size   int64 // bytes published to readers
	hdr    H
	hdrSet bool // hdr published (explicitly, or as the zero H by the first Write)
	// hooks are the Reader.OnHeader registrations not yet run; hdrBusy is
	// set while the Writer runs them, before it publishes the header.
	hooks   []*headerHook[H]
	hdrBusy bool
	ended   bool          // the flight ended; err says how
	err     error         // the fill's error; nil means the body is complete
	refuse  error         // what Writer calls return once ended
	wake    chan struct{} // made by a reader about to block; closed on any change

	// Batched readers (Reader.SetBatch) wait for a size, not for any
	// change: atLevel holds one level per awaited size (and time bound),
	// released once size reaches it, its time bound passes, or the flight
	// ends; levels is a min-heap of the awaited sizes, so a growth wakes
	// only the readers it satisfies. Entries whose level timed out stay in
	// the heap until size passes them (popping finds no level).
	levels  levelHeap
	atLevel map[levelKey]*level
	clock   Clock // for the levels' time bounds
}

// headerHook is one Reader.OnHeader registration; f is nil once its
// Reader dropped it.
type headerHook[H any] struct{ f func(H) }

// takeHooks returns the OnHeader registrations to run before the header
// is published and marks the header busy, so that no more register and
// no reader sees a header yet; nil (and nothing marked) if there are none.
func (b *body[H]) takeHooks() []*headerHook[H] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.hooks) == 0 || b.hdrSet || b.ended {
		return nil
	}
	hooks := b.hooks
	b.hooks, b.hdrBusy = nil, true
	return hooks
}

// dropHook makes h do nothing if it has not run yet.
func (b *body[H]) dropHook(h *headerHook[H]) {
	b.mu.Lock()
	h.f = nil
	b.mu.Unlock()
}

// hookFunc returns h's function, nil if dropped.
func (b *body[H]) hookFunc(h *headerHook[H]) func(H) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return h.f
}

// addHook registers f to run before the header is published, unless the
// header is published or being published, or the flight ended.
func (b *body[H]) addHook(f func(H)) *headerHook[H] {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hdrSet || b.hdrBusy || b.ended {
		return nil
	}
	h := &headerHook[H]{f: f}
	b.hooks = append(b.hooks, h)
	return h
}

// levelKey names the readers that wait for the same thing.
type levelKey struct {
	size int64
	wait time.Duration // 0: no time bound
}

// level is one group of batched readers waiting for a size.
type level struct {
	ch    chan struct{} // closed when the wait ends, whatever ended it
	timer Timer         // the time bound; nil without one
	// expired is set before ch is closed when the time bound ended the
	// wait. Atomic: a Reader may also stop waiting for another reason (the
	// lock timeout) and look at it while the timer fires.
	expired atomic.Bool
}

// levelHeap is a min-heap of awaited sizes (container/heap).
type levelHeap []levelKey

func (h levelHeap) Len() int           { return len(h) }
func (h levelHeap) Less(i, j int) bool { return h[i].size < h[j].size }
func (h levelHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *levelHeap) Push(x any)        { *h = append(*h, x.(levelKey)) }
func (h *levelHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newBody[H any](clock Clock) *body[H] { return &body[H]{clock: clock} }

// endFlight records how the flight ended (first call wins) and wakes every
// reader. The registry calls it with its lock held.
func (b *body[H]) endFlight(err, refuse error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended, b.err, b.refuse = true, err, refuse
	b.wakeLocked()
	for _, lv := range b.atLevel {
		lv.release() // the end releases every batched reader: nothing is held back
	}
	b.levels, b.atLevel = nil, nil
}

// wakeLocked wakes the readers waiting for any change, and the batched
// readers whose size has been reached.
func (b *body[H]) wakeLocked() {
	if b.wake != nil {
		close(b.wake)
		b.wake = nil
	}
	for len(b.levels) > 0 && b.levels[0].size <= b.size {
		k := heap.Pop(&b.levels).(levelKey)
		if lv, ok := b.atLevel[k]; ok {
			lv.release()
			delete(b.atLevel, k)
		}
	}
}

func (lv *level) release() {
	if lv.timer != nil {
		lv.timer.Stop()
	}
	close(lv.ch)
}

// waitSizeLocked returns the level that is released once the body holds
// at least size bytes, wait has passed (if wait > 0), or the flight ends.
// Readers awaiting the same size and bound share one level. The caller has
// checked that the body is neither that long nor ended.
func (b *body[H]) waitSizeLocked(size int64, wait time.Duration) *level {
	k := levelKey{size, wait}
	if lv, ok := b.atLevel[k]; ok {
		return lv
	}
	if b.atLevel == nil {
		b.atLevel = make(map[levelKey]*level)
	}
	lv := &level{ch: make(chan struct{})}
	if wait > 0 {
		clock := b.clock
		if clock == nil {
			clock = realClock{}
		}
		lv.timer = clock.AfterFunc(wait, func() { b.expire(k, lv) })
	}
	b.atLevel[k] = lv
	heap.Push(&b.levels, k)
	return lv
}

// expire ends a level's wait when its time bound passes, unless the size
// or the end of the flight released it first.
func (b *body[H]) expire(k levelKey, lv *level) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.atLevel[k] != lv {
		return
	}
	lv.expired.Store(true)
	close(lv.ch)
	delete(b.atLevel, k)
}

// waitLocked returns the channel that closes on the next change.
func (b *body[H]) waitLocked() <-chan struct{} {
	if b.wake == nil {
		b.wake = make(chan struct{})
	}
	return b.wake
}

// progressed reports whether the flight has shown any sign of life to
// readers: a header, a byte, or its end. LockTimeout applies only before.
func (b *body[H]) progressed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hdrSet || b.hdrBusy || b.size > 0 || b.ended
}

// cursor is a reader's position: chunk index, offset in it, and total.
type cursor struct {
	ci, co int
	off    int64
}

func (c *cursor) advance(n int) {
	c.co += n
	c.off += int64(n)
}

// next returns the published bytes at c up to the end of c's chunk; or,
// when c has read everything, the end error (io.EOF for a complete body) if
// the flight ended, else a channel to wait on. With batch > 1, fewer than
// batch unread bytes are returned only once the flight has ended; until
// then next returns the level to wait on, released when batch bytes are
// there or after wait (if wait > 0).
func (b *body[H]) next(c *cursor, batch int64, wait time.Duration) (seg []byte, wake <-chan struct{}, lv *level, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.off < b.size && (b.ended || b.size-c.off >= batch) {
		ch := b.chunks[c.ci]
		if c.co == len(ch) { // full chunk read; the next one exists since size > off
			c.ci, c.co = c.ci+1, 0
			ch = b.chunks[c.ci]
		}
		n := min(int64(len(ch)-c.co), b.size-c.off)
		return ch[c.co : c.co+int(n)], nil, nil, nil
	}
	if b.ended {
		if b.err != nil {
			return nil, nil, nil, b.err
		}
		return nil, nil, nil, io.EOF
	}
	if batch > 1 {
		lv := b.waitSizeLocked(c.off+batch, wait)
		return nil, lv.ch, lv, nil
	}
	return nil, b.waitLocked(), nil, nil
}

// header returns the published header, or the fill's error if it ended
// without one, or a channel to wait on.
func (b *body[H]) header() (h H, wake <-chan struct{}, ok bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.hdrSet:
		return b.hdr, nil, true, nil
	case b.ended:
		return h, nil, true, b.err
	}
	return h, b.waitLocked(), false, nil
}

// result returns the final size and error once the flight ended, or a
// channel to wait on.
func (b *body[H]) result() (n int64, wake <-chan struct{}, ok bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return b.size, nil, true, b.err
	}
	return b.size, b.waitLocked(), false, nil
}
