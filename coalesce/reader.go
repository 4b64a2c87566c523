package coalesce

import (
	"context"
	"io"
	"time"
)

// Reader reads one streaming body from offset 0 as it grows. Read and
// WriteTo return the body's bytes and then io.EOF if the fill completed, or
// the fill's error exactly after the last byte it wrote. The bytes are
// never copied for a Reader: WriteTo hands the shared chunks straight to
// the destination, Read copies only into the caller's buffer.
//
// Every method blocks at most until the body changes (with SetBatch: until
// enough of it has, or the batch's maxWait) or the Open context is done
// (then it returns ctx.Err()). A Reader is not safe for concurrent
// use; to unblock one from outside, cancel its context.
type Reader[H any] struct {
	ctx    context.Context
	b      *body[H]
	cur    cursor
	m      *membership // nil for a lingering body, which has no waiters
	shared bool
	closed bool
	batch  int64         // SetBatch; <= 1 returns bytes as soon as any are published
	wait   time.Duration // SetBatch's bound on holding bytes back; 0 = none

	hook *headerHook[H] // OnHeader's registration, until dropped

	// Lock timeout, on a joined flight with Options.LockTimeout only.
	timeout  <-chan struct{}
	timer    Timer
	fallback func() (*body[H], *membership, error)
}

// Shared reports whether the body is someone else's flight (joined or
// lingering) rather than one this Reader started or fell back to.
func (rd *Reader[H]) Shared() bool { return rd.shared }

// SetBatch makes Read and WriteTo wait until at least n unread bytes are
// published before returning or writing any, so that a Reader streaming a
// body that grows in small steps makes one write (and wakes once) per n
// bytes instead of once per step — which matters when thousands of
// Readers follow one body. Fewer bytes are returned when the flight ends
// (the end of the body is never held back), and, if maxWait > 0, after at
// most maxWait of waiting (Readers waiting for the same amount share one
// timer, so a later one may be released sooner): a source that sends a
// small piece and pauses (a low-latency chunk) delays it by at most
// maxWait. n <= 1 (the default) returns bytes as soon as any are
// published. SetBatch may be called between reads.
func (rd *Reader[H]) SetBatch(n int, maxWait time.Duration) {
	// Bounded so that offset + batch cannot overflow; no body is larger.
	rd.batch, rd.wait = min(int64(n), maxBatch), max(maxWait, 0)
}

// maxBatch bounds SetBatch's n: far above any body (MaxBodySize is an
// int64 too, but a batch larger than the body only waits for its end).
const maxBatch = 1 << 50

// Header waits for the header the fill published and returns it. If the
// fill ended without one, Header returns the zero H and the fill's error
// (nil for a complete body). A header published before a failure is
// returned with a nil error; the failure comes from Read.
func (rd *Reader[H]) Header() (H, error) {
	for {
		if rd.closed {
			var zero H
			return zero, ErrReaderClosed
		}
		h, wake, ok, err := rd.b.header()
		if ok {
			return h, err
		}
		if err := rd.block(wake); err != nil {
			return h, err
		}
	}
}

// OnHeader registers f to run with the header when the fill publishes it:
// on the fill's goroutine, inside Writer.SetHeader (or the first Write,
// with the zero H), before any Reader of the flight can see the header —
// Header returns only after every registered f has returned. It reports
// whether it registered f: not if the header is published or being
// published, or the flight ended, or f was already set; Header then
// returns as usual. f runs at most once; Close (or a fallback after
// Options.LockTimeout) drops it unless it has begun.
//
// It is for a fan-out that must not wait for its Readers' goroutines: a
// server whose viewers all wait for one response head can have the fill
// write every head in one loop before any viewer wakes, so that no viewer
// already busy with body bytes delays another's head. f delays the header
// and body of every Reader: it must not block for long.
func (rd *Reader[H]) OnHeader(f func(H)) bool {
	if rd.closed || rd.hook != nil || f == nil {
		return false
	}
	rd.hook = rd.b.addHook(f)
	return rd.hook != nil
}

// dropHook drops the OnHeader registration, if any.
func (rd *Reader[H]) dropHook() {
	if rd.hook != nil {
		rd.b.dropHook(rd.hook)
		rd.hook = nil
	}
}

// Read reads the next bytes of the body, waiting for the fill if it has
// read everything published so far.
func (rd *Reader[H]) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	batch := rd.batch
	for {
		if rd.closed {
			return 0, ErrReaderClosed
		}
		seg, wake, lv, err := rd.b.next(&rd.cur, batch, rd.wait)
		if len(seg) > 0 {
			n := copy(p, seg)
			rd.cur.advance(n)
			return n, nil
		}
		if wake == nil {
			return 0, err
		}
		if err := rd.block(wake); err != nil {
			return 0, err
		}
		if lv != nil && lv.expired.Load() {
			batch = 1 // waited long enough: whatever there is, or the next byte
		}
	}
}

// WriteTo writes the rest of the body to w as it arrives and returns nil
// once the complete body is written, or the fill's error after the last
// byte the fill wrote. w receives slices of the shared body: per the
// io.Writer contract it must neither modify nor keep them.
func (rd *Reader[H]) WriteTo(w io.Writer) (n int64, err error) {
	batch := rd.batch
	for {
		if rd.closed {
			return n, ErrReaderClosed
		}
		seg, wake, lv, err := rd.b.next(&rd.cur, batch, rd.wait)
		if len(seg) > 0 {
			batch = rd.batch
			k, werr := w.Write(seg)
			rd.cur.advance(k)
			n += int64(k)
			if werr != nil {
				return n, werr
			}
			if k < len(seg) {
				return n, io.ErrShortWrite
			}
			continue
		}
		if wake == nil {
			if err == io.EOF {
				return n, nil
			}
			return n, err
		}
		if err := rd.block(wake); err != nil {
			return n, err
		}
		if lv != nil && lv.expired.Load() {
			batch = 1 // waited long enough: whatever there is, or the next byte
		}
	}
}

// Wait waits for the fill to end and returns the body's size and its
// error: nil means the body is complete (and safe to cache), anything else
// means it was cut short. It does not move the read position.
func (rd *Reader[H]) Wait() (size int64, err error) {
	for {
		if rd.closed {
			return 0, ErrReaderClosed
		}
		n, wake, ok, err := rd.b.result()
		if ok {
			return n, err
		}
		if err := rd.block(wake); err != nil {
			return n, err
		}
	}
}

// Close stops the Reader counting as a waiter; the last waiter to leave a
// running flight cancels its fill. Close always returns nil.
func (rd *Reader[H]) Close() error {
	if rd.closed {
		return nil
	}
	rd.closed = true
	rd.dropHook()
	if rd.timer != nil {
		rd.timer.Stop()
	}
	if rd.m != nil {
		rd.m.leave()
	}
	return nil
}

// block waits for wake (the body changed), the context, or the lock
// timeout. It returns ctx.Err() when the context ends; the Reader has then
// left its flight.
func (rd *Reader[H]) block(wake <-chan struct{}) error {
	select {
	case <-wake:
		return nil
	case <-rd.ctx.Done():
		if rd.m != nil {
			rd.m.leave()
		}
		return rd.ctx.Err()
	case <-rd.timeout:
		return rd.lockTimedOut()
	}
}

// lockTimedOut runs when LockTimeout passes. If the flight has shown
// nothing yet, the Reader leaves it and switches to a fill of its own; it
// has consumed nothing, so it simply starts reading the new body at 0.
func (rd *Reader[H]) lockTimedOut() error {
	rd.timeout, rd.timer = nil, nil
	if rd.b.progressed() {
		return nil
	}
	rd.dropHook()
	rd.m.leave()
	b, m, err := rd.fallback()
	if err != nil {
		return err
	}
	rd.b, rd.m, rd.shared = b, m, false
	rd.cur = cursor{}
	return nil
}
