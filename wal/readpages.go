package wal

import (
	"fmt"
	"io"

	"github.com/edgekit/edgekit/wal/vfs"
)

// Reading a run of consecutive pages. A page of the run lives in one of
// three places: the db file, a WAL frame, or (for a write transaction) in
// memory. Neighbouring pages that live next to each other in a file are
// read with one vectored read: pages in the db file are contiguous by
// construction, and pages in consecutive WAL frames are contiguous apart
// from the 24-byte frame headers between them, which are read into a
// scratch buffer. A transaction appends its frames in page order, so the
// pages of a run written by one commit are one read, wherever the run's
// pages were split by later commits or by a checkpoint the run falls apart
// into a few reads, never into wrong bytes: every page is looked up on its
// own.

// ReadPages reads the consecutive pages first, first+1, ... as of the
// snapshot into bufs, as one stream of bytes scattered over the buffers in
// order, like readv(2): the buffers' lengths must add up to a whole number
// n of pages, and a buffer may start or end anywhere within a page, so a
// caller can split a page into a header and a body, and send headers to a
// scratch buffer (buffers may alias each other; they are filled in order).
// Pages within the database size that were never written read as zeros,
// as in ReadPage. Each stretch of pages that lies contiguously in a file
// is read with one system call where the file system supports vectored
// reads (vfs.ReaderAtv).
func (r *Snapshot) ReadPages(first uint32, bufs [][]byte) error {
	n, err := checkRun(first, bufs, r.s.pageSize, r.nPage)
	if err != nil || n == 0 {
		return err
	}
	if r.closed.Load() {
		return errSnapshotClosed
	}
	mark := r.mark
	if r.dbOnly {
		mark = 0
	}
	return r.s.readPages(r.idx, mark, first, n, bufs, nil)
}

// ReadPages reads the consecutive pages first, first+1, ... into bufs as
// Snapshot.ReadPages does, seeing the transaction's own writes.
func (tx *Tx) ReadPages(first uint32, bufs [][]byte) error {
	if tx.done {
		return ErrTxDone
	}
	n, err := checkRun(first, bufs, tx.s.pageSize, tx.nPage)
	if err != nil || n == 0 {
		return err
	}
	// Frames of commits still queued for the group-commit leader are not
	// in the file yet; write them first.
	if err := tx.s.ensureOnFile(tx.s.w.mxFrame); err != nil {
		return err
	}
	mem := func(pg uint32) ([]byte, bool) {
		if p, ok := tx.dirty[pg]; ok {
			return p, true
		}
		if pg > tx.low {
			return nil, true // added by this transaction, not written: zeros
		}
		return nil, false
	}
	return tx.s.readPages(tx.s.gen, tx.s.w.mxFrame, first, n, bufs, mem)
}

// checkRun validates a ReadPages request and returns its length in pages.
func checkRun(first uint32, bufs [][]byte, pageSize int, nPage uint32) (uint32, error) {
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if total%pageSize != 0 {
		return 0, fmt.Errorf("%w: buffers of %d bytes for %d-byte pages", ErrPageSize, total, pageSize)
	}
	n := uint64(total / pageSize)
	if n == 0 {
		return 0, nil
	}
	if first == 0 || uint64(first)+n-1 > uint64(nPage) {
		return 0, fmt.Errorf("%w: pages %d-%d of %d", ErrPageNumber, first, uint64(first)+n-1, nPage)
	}
	return uint32(n), nil
}

// pageSource says where one page of a run is read from.
type pageSource struct {
	frame uint32 // WAL frame, 0 = not in the WAL
	mem   []byte // the page in memory (a write transaction's own)
	inMem bool   // mem (nil: zeros) rather than a file
}

// readPages reads pages first..first+n-1 as of frame mark of generation
// idx into bufs. mem, if not nil, returns a page the caller holds in
// memory (nil data for zeros) and whether it does.
func (s *Store) readPages(idx *index, mark, first, n uint32, bufs [][]byte, mem func(uint32) ([]byte, bool)) error {
	if s.closedF.Load() {
		return ErrClosed
	}
	ps := s.pageSize
	src := func(pg uint32) pageSource {
		if mem != nil {
			if p, ok := mem(pg); ok {
				return pageSource{mem: p, inMem: true}
			}
		}
		return pageSource{frame: idx.lookup(pg, mark)}
	}
	var (
		out  = byteStream{bufs: bufs}
		hdrs [frameHeaderSize]byte // frame headers between pages land here
	)
	// The iovec list is reused across calls: a run of 256 pages takes
	// ~800 entries, allocated afresh per call it would cost as much as a
	// page of the run.
	iovp, _ := s.iovs.Get().(*[][]byte)
	if iovp == nil {
		iovp = new([][]byte)
	}
	iov := (*iovp)[:0]
	defer func() {
		clear(iov[:cap(iov)]) // hold no caller's buffers while pooled
		*iovp = iov[:0]
		s.iovs.Put(iovp)
	}()
	next := src(first)
	for i := uint32(0); i < n; {
		start, cur := i, next
		// Extend the stretch while the next page lies right after this
		// one in the same file.
		for i++; i < n; i++ {
			next = src(first + i)
			if cur.inMem || next.inMem || (next.frame == 0) != (cur.frame == 0) ||
				(next.frame != 0 && next.frame != cur.frame+(i-start)) {
				break
			}
		}
		pg, k := first+start, i-start
		iov = iov[:0]
		switch {
		case cur.inMem:
			iov = out.take(iov, ps)
			copyOrZero(iov, cur.mem)
		case cur.frame != 0:
			for j := range k {
				if j > 0 {
					iov = append(iov, hdrs[:])
				}
				iov = out.take(iov, ps)
			}
			off := frameOffset(cur.frame, ps) + frameHeaderSize
			if _, err := vfs.ReadvAt(s.wal, iov, off); err != nil {
				return fmt.Errorf("edgekit/wal: reading frames %d-%d: %w", cur.frame, cur.frame+k-1, err)
			}
		default:
			iov = out.take(iov, int(k)*ps)
			m, err := vfs.ReadvAt(s.db, iov, int64(pg-1)*int64(ps))
			if err == io.EOF {
				// Inside the db size but past the file's end: zeros.
				clearFrom(iov, m)
				err = nil
			}
			if err != nil {
				return fmt.Errorf("edgekit/wal: reading pages %d-%d: %w", pg, pg+k-1, err)
			}
		}
	}
	return nil
}

// byteStream hands out consecutive stretches of a list of buffers.
type byteStream struct {
	bufs [][]byte
	off  int // bytes of bufs[0] already handed out
}

// take appends to iov the sub-slices covering the next k bytes.
func (b *byteStream) take(iov [][]byte, k int) [][]byte {
	for k > 0 {
		rest := b.bufs[0][b.off:]
		m := min(k, len(rest))
		if m > 0 {
			iov = append(iov, rest[:m:m])
		}
		k -= m
		if b.off += m; b.off == len(b.bufs[0]) {
			b.bufs, b.off = b.bufs[1:], 0
		}
	}
	return iov
}

// copyOrZero fills iov with p, or with zeros when p is nil.
func copyOrZero(iov [][]byte, p []byte) {
	for _, b := range iov {
		if p == nil {
			clear(b)
			continue
		}
		p = p[copy(b, p):]
	}
}

// clearFrom zeroes the bytes of iov after the first m.
func clearFrom(iov [][]byte, m int) {
	for _, b := range iov {
		if m >= len(b) {
			m -= len(b)
			continue
		}
		clear(b[m:])
		m = 0
	}
}
