package coalesce

import (
	"io"
	"time"
)

// Writer is what a streaming fill writes the body into. Every byte written
// is visible to every reader at once; the Writer never waits for readers.
//
// A Writer is not safe for concurrent use: one fill goroutine writes. Its
// methods fail once the fill has returned (ErrFillDone), the Stream was
// closed (ErrClosed), every reader left (ErrAbandoned) or the leader
// deadline passed (ErrLeaderTimeout), so a fill that ignores its context
// still stops at its next Write.
type Writer[H any] struct {
	b    *body[H]
	fc   *flightCtx
	set  func(d time.Duration) // records a per-flight linger (SetLinger)
	max  int64                 // byte bound; -1 = none
	cur  []byte                // chunk being filled; cur[used:] belongs to the Writer alone
	used int
	n    int64 // bytes written so far
	hint int64 // expected total size, 0 = unknown
	// hdrDone: the header was published or is being published (OnHeader
	// hooks run at most once).
	hdrDone bool
	err     error // sticky: the first refusal (ErrTooLarge, ErrLeaderTimeout, ...)
}

// fail records err as the Writer's first refusal and returns it. A refusal
// is sticky: a fill that ignores it and returns nil still fails the flight
// with it (Stream.run), so a body cut short is never taken for a whole one.
func (w *Writer[H]) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// SetHeader publishes h to every reader, whose Header calls then return it.
// Call it at most once, before the first Write; a Write without it
// publishes the zero H. Later calls return ErrHeaderSet. Readers share h:
// if it holds maps or slices (an http.Header), nobody may modify them.
//
// Before any reader sees h, SetHeader runs the functions Readers
// registered with OnHeader, in order, on the calling goroutine.
func (w *Writer[H]) SetHeader(h H) error {
	if err := w.live(); err != nil {
		return w.fail(err)
	}
	if w.hdrDone {
		return ErrHeaderSet
	}
	w.runHooks(h)
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	switch {
	case w.b.ended:
		return w.fail(w.b.refuse)
	case w.b.hdrSet:
		return ErrHeaderSet
	}
	w.b.hdr, w.b.hdrSet = h, true
	w.b.wakeLocked()
	return nil
}

// runHooks runs the OnHeader registrations with h, once per flight,
// before h (or, for a first Write, the zero H) is published.
func (w *Writer[H]) runHooks(h H) {
	w.hdrDone = true
	hooks := w.b.takeHooks()
	if hooks == nil {
		return
	}
	defer func() {
		w.b.mu.Lock()
		w.b.hdrBusy = false
		w.b.mu.Unlock()
	}()
	for _, hk := range hooks {
		if f := w.b.hookFunc(hk); f != nil { // nil: its Reader left
			f(h)
		}
	}
}

// SetLinger overrides Options.Linger (or ErrorLinger, if the fill fails)
// for this flight's body: 0 means the body serves only the readers already
// on it, as for an uncacheable response (Cache-Control: no-store, a 5xx);
// a longer time keeps a popular object longer. Call it any time before the
// fill returns; the last call wins.
func (w *Writer[H]) SetLinger(d time.Duration) { w.set(max(d, 0)) }

// SizeHint says how large the body will be (a Content-Length), so the
// Writer can store it in one chunk of that size. It is only a hint: a
// longer body still fits, up to MaxBodySize.
func (w *Writer[H]) SizeHint(n int64) {
	if n > 0 {
		w.hint = n
	}
}

// Len returns the number of bytes written so far.
func (w *Writer[H]) Len() int64 { return w.n }

// Write appends p to the body. Past MaxBodySize it stores what fits and
// returns ErrTooLarge, which then ends the flight.
func (w *Writer[H]) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		t, err := w.tail()
		if err == errFull {
			return n, w.fail(ErrTooLarge)
		}
		if err != nil {
			return n, w.fail(err)
		}
		c := copy(t, p)
		if err := w.commit(c); err != nil {
			return n, w.fail(err)
		}
		n += c
		p = p[c:]
	}
	return n, nil
}

// ReadFrom reads r to EOF straight into the body, with no buffer in
// between; io.Copy uses it. A source longer than MaxBodySize gets
// ErrTooLarge.
func (w *Writer[H]) ReadFrom(r io.Reader) (n int64, err error) {
	if w.err != nil {
		return 0, w.err
	}
	for {
		if w.used == len(w.cur) && w.hint > 0 && w.n >= w.hint {
			// The hinted size is in: look for EOF before making a chunk
			// nobody may need, and before checking the flight, so that a
			// body read whole is not failed because its last reader left
			// between its last byte and EOF.
			var probe [1]byte
			k, rerr := io.ReadFull(r, probe[:])
			if k == 0 {
				if rerr == io.EOF {
					rerr = nil
				}
				return n, rerr
			}
			if _, err := w.Write(probe[:k]); err != nil {
				return n, err
			}
			n += int64(k)
			continue
		}
		t, err := w.tail()
		if err == errFull {
			// At the bound exactly: too large only if r has more.
			var probe [1]byte
			k, rerr := io.ReadFull(r, probe[:])
			switch {
			case k > 0:
				return n, w.fail(ErrTooLarge)
			case rerr == io.EOF:
				return n, nil
			default:
				return n, rerr
			}
		}
		if err != nil {
			return n, w.fail(err)
		}
		k, rerr := r.Read(t)
		if k > 0 {
			if err := w.commit(k); err != nil {
				return n, w.fail(err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// live returns why writes are refused by the flight's context, if they are.
func (w *Writer[H]) live() error {
	switch cause := w.fc.why(); cause {
	case nil, errFinished:
		return nil // errFinished: the body's refuse error says it
	default:
		return cause
	}
}

// tail returns the free space the next bytes go into, adding a chunk to
// the body when the current one is full.
func (w *Writer[H]) tail() ([]byte, error) {
	if err := w.live(); err != nil {
		return nil, err
	}
	if w.used < len(w.cur) {
		return w.cur[w.used:], nil
	}
	size := int64(min(max(2*len(w.cur), minChunk), maxChunk))
	if w.hint > w.n {
		size = min(w.hint-w.n, maxHintChunk)
	}
	if w.max >= 0 {
		left := w.max - w.n
		if left <= 0 {
			return nil, errFull
		}
		size = min(size, left)
	}
	c := make([]byte, size)
	w.b.mu.Lock()
	if w.b.ended {
		w.b.mu.Unlock()
		return nil, w.b.refuse
	}
	w.b.chunks = append(w.b.chunks, c)
	w.b.mu.Unlock()
	w.cur, w.used = c, 0
	return c, nil
}

// commit publishes the next k bytes of the tail to readers.
func (w *Writer[H]) commit(k int) error {
	if !w.hdrDone {
		var zero H
		w.runHooks(zero) // the first byte publishes the zero header
	}
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	if w.b.ended {
		return w.b.refuse
	}
	w.b.size += int64(k)
	w.b.hdrSet = true // the first byte publishes the zero header if none was set
	w.b.wakeLocked()
	w.used += k
	w.n += int64(k)
	return nil
}
