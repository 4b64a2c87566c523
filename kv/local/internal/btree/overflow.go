package btree

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// Values too large to sit in a leaf cell live in a chain of overflow pages;
// the cell keeps the total length and the first page. Overflow pages bypass
// the cache: a large value read once should not evict the tree's hot pages.
//
// A chain is linked page to page (the frozen format has no extent list),
// but the writer gives a chain the lowest-numbered pages it allocates in
// ascending order, so a chain written into fresh or freed space is mostly
// runs of consecutive pages. The reader guesses that the next pages of the
// chain follow the current one, reads a run of them with one call (a
// PageRunReader), and checks each page's link; where the guess was wrong
// it continues from the real link, and what it read past the break is
// overwritten by the right pages later. Bytes are never trusted on the
// guess: every page's header is checked before its data counts.

// PageRunReader is a PageReader that can also read the consecutive pages
// first, first+1, ... with one call, scattered over bufs in order as
// readv(2) does (wal.Snapshot and wal.Tx). Overflow chains are read through
// it where the pager has it, one page at a time otherwise.
type PageRunReader interface {
	ReadPages(first uint32, bufs [][]byte) error
}

const (
	// maxRun bounds one run read: 1 MiB of 4 KiB pages, and at most three
	// buffers a page (WAL frame header, page header, data) stays within
	// Linux's 1024 iovecs per preadv.
	maxRun = 256
	// firstRun is the first guess of a chain's run length; it doubles
	// while the guesses hold and drops to what was found when one fails,
	// so a scattered chain wastes little reading.
	firstRun = 64
)

// writeOverflow stores the value head+body in a new chain and returns its
// first page. Pages are written straight to the pager (they are never read
// back by this transaction), so a large value does not sit in memory
// twice, and each page is filled from wherever its bytes lie in head and
// body. The chain takes its pages in ascending order, so that pages the
// free list hands out in any order still form runs where they are
// consecutive.
func (tx *Tx) writeOverflow(head, body []byte) (uint32, error) {
	per := capacity(tx.ps)
	vlen := len(head) + len(body)
	n := (vlen + per - 1) / per
	pages := make([]uint32, n)
	for i := range pages {
		pg, err := tx.alloc()
		if err != nil {
			return 0, err
		}
		pages[i] = pg
	}
	slices.Sort(pages)
	buf := make([]byte, tx.ps)
	for i, pg := range pages {
		next := uint32(0)
		if i+1 < n {
			next = pages[i+1]
		}
		lo, hi := i*per, min((i+1)*per, vlen)
		// The page's data: the part of head in [lo, hi), then of body.
		var h, b []byte
		if lo < len(head) {
			h = head[lo:min(hi, len(head))]
		}
		if hi > len(head) {
			b = body[max(lo, len(head))-len(head) : hi-len(head)]
		}
		encodeOverflow(buf, h, b, next)
		if err := tx.w.WritePage(pg, buf); err != nil {
			return 0, err
		}
		tx.direct = append(tx.direct, pg)
	}
	return pages[0], nil
}

// readOverflow returns the vlen bytes of the chain starting at first, in
// a new slice. Each page's data is read straight into its place in the
// result (its header into a scratch buffer), so a large value is copied
// once, by the read itself.
func (tx *Tx) readOverflow(first uint32, vlen uint32) ([]byte, error) {
	n, err := tx.chainLen(first, vlen)
	if err != nil {
		return nil, err
	}
	out := make([]byte, vlen)
	if err := tx.walkChain(first, vlen, n, first, 0, out, 0, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// Placer chooses where ReadValue puts a value: given the value's length
// and its first bytes (all of them for a value inline in its leaf, else the
// first overflow page's worth), it returns how many leading bytes to skip
// (at most len(head)) and dst, the buffer for the rest, exactly vlen-skip
// bytes long; or a nil dst to read no further.
type Placer func(vlen int, head []byte) (skip int, dst []byte, err error)

// errPlacement: a Placer broke its contract (a bug in the caller).
var errPlacement = errors.New("edgekit/kv/local: ReadValue: placement does not fit the value")

// readValue reads cell c's value into the buffer place picks. A chain's
// first page goes to scratch (the caller must see its head to know where
// the value starts), the rest of the chain straight into dst: a large
// value is copied once, by the read itself, and no buffer but dst holds it.
func (tx *Tx) readValue(c *cell, place Placer) error {
	if c.ovf == 0 {
		skip, dst, err := place(len(c.val), c.val)
		if err != nil || dst == nil {
			return err
		}
		if skip < 0 || skip > len(c.val) || len(dst) != len(c.val)-skip {
			return errPlacement
		}
		copy(dst, c.val[skip:])
		return nil
	}
	first, vlen := c.ovf, c.vlen
	n, err := tx.chainLen(first, vlen)
	if err != nil {
		return err
	}
	if err := tx.chainPageOK(first, first, 0, n, tx.chainLimit()); err != nil {
		return err
	}
	page := make([]byte, tx.ps)
	if err := tx.r.ReadPage(first, page); err != nil {
		return err
	}
	per := capacity(tx.ps)
	link, err := checkChainPage(first, first, page, 0, n, vlen, per)
	if err != nil {
		return err
	}
	head := page[headerSize : headerSize+min(per, int(vlen))]
	skip, dst, err := place(int(vlen), head)
	if err != nil || dst == nil {
		return err
	}
	if skip < 0 || skip > len(head) || len(dst) != int(vlen)-skip {
		return errPlacement
	}
	copy(dst, head[skip:])
	if n == 1 {
		return nil
	}
	return tx.walkChain(first, vlen, n, link, 1, dst, skip, nil)
}

// overflowPages lists the pages of the chain for a value of vlen bytes.
// The links live in the pages, so it reads them, discarding their data.
func (tx *Tx) overflowPages(first uint32, vlen uint32) ([]uint32, error) {
	n, err := tx.chainLen(first, vlen)
	if err != nil {
		return nil, err
	}
	out := make([]uint32, 0, n)
	err = tx.walkChain(first, vlen, n, first, 0, nil, 0, func(pg uint32) { out = append(out, pg) })
	return out, err
}

// freeOverflow returns a chain's pages to the free list.
func (tx *Tx) freeOverflow(first uint32, vlen uint32) error {
	pages, err := tx.overflowPages(first, vlen)
	if err != nil {
		return err
	}
	for _, pg := range pages {
		if err := tx.free(pg); err != nil {
			return err
		}
	}
	return nil
}

// chainLen returns the number of pages of a vlen-byte value's chain,
// refusing lengths that cannot fit in the file (a corrupt cell must not
// make the reader allocate gigabytes).
func (tx *Tx) chainLen(first uint32, vlen uint32) (int, error) {
	per := uint64(capacity(tx.ps))
	// In uint64: on a 32-bit platform int(vlen) can be negative, and the
	// value's buffer (n pages of per bytes) must fit an int.
	n := (uint64(vlen) + per - 1) / per
	if n == 0 || n > uint64(tx.meta.pageCount) || n*per > math.MaxInt {
		return 0, corrupt(first, "overflow value of %d bytes needs %d pages (file has %d)", vlen, n, tx.meta.pageCount)
	}
	return int(n), nil
}

// walkChain reads pages i, i+1, ... of the n-page chain of a vlen-byte
// value that starts at first, page i being pg, in runs (see the top of this
// file). If val is not nil it holds the value's bytes from offset off on
// (off <= i*per, len(val) == vlen-off), and page j's data lands at
// val[j*per-off:]; a data area's unused tail goes to scratch, so nothing
// outside val is written. visit, if not nil, sees each page of the chain
// in order once its header has been checked. Every page but the last must
// be full and the last must end the value exactly.
func (tx *Tx) walkChain(first, vlen uint32, n int, pg uint32, i int, val []byte, off int, visit func(pg uint32)) error {
	per := capacity(tx.ps)
	limit := tx.chainLimit()
	runs, _ := tx.r.(PageRunReader)
	// Data nobody wants (all of it without val, else the last page's
	// unused tail) lands here.
	discard := make([]byte, per)
	heads := make([]byte, headerSize*min(n-i, maxRun))
	bufs := make([][]byte, 0, 2*min(n-i, maxRun)+1)
	run := firstRun
	for i < n {
		if err := tx.chainPageOK(first, pg, i, n, limit); err != nil {
			return err
		}
		k := min(run, n-i, int(limit-pg)+1)
		if runs == nil {
			k = 1
		}
		bufs = bufs[:0]
		for j := range k {
			bufs = append(bufs, heads[j*headerSize:(j+1)*headerSize])
			if val == nil {
				bufs = append(bufs, discard)
				continue
			}
			lo := (i+j)*per - off
			hi := min(lo+per, len(val))
			bufs = append(bufs, val[lo:hi:hi])
			if hi-lo < per { // the last page: its unused tail
				bufs = append(bufs, discard[:per-(hi-lo)])
			}
		}
		var err error
		if runs != nil {
			err = runs.ReadPages(pg, bufs)
		} else {
			err = readPageInto(tx.r, pg, tx.ps, bufs)
		}
		if err != nil {
			return err
		}
		// Accept pages while they are the chain: each links to the next
		// page read, until the run or the value ends.
		var next uint32
		got := 0
		for j := range k {
			link, err := checkChainPage(first, pg+uint32(j), heads[j*headerSize:], i+j, n, vlen, per)
			if err != nil {
				return err
			}
			if visit != nil {
				visit(pg + uint32(j))
			}
			got++
			next = link
			if link != pg+uint32(j)+1 {
				break // the chain leaves the run (or ends)
			}
		}
		i += got
		if got == k {
			run = min(2*run, maxRun)
		} else {
			run = got
		}
		pg = next
	}
	return nil
}

// chainLimit is the last page a chain of this snapshot may use.
func (tx *Tx) chainLimit() uint32 { return min(tx.meta.pageCount, tx.r.PageCount()) }

// chainPageOK checks that page pg, reached as page i of the chain from
// first, may be read at all.
func (tx *Tx) chainPageOK(first, pg uint32, i, n int, limit uint32) error {
	if pg == 0 {
		return corrupt(first, "overflow chain ends after %d of %d pages", i, n)
	}
	if err := tx.checkPage(pg); err != nil {
		return err
	}
	if pg > limit {
		return corrupt(first, "overflow chain links to page %d, past the snapshot's %d", pg, limit)
	}
	return nil
}

// checkChainPage checks the header h of page pg, page i of the n-page chain
// of a vlen-byte value from first, and returns its link: every page but the
// last is full, the last ends the value and links nowhere.
func checkChainPage(first, pg uint32, h []byte, i, n int, vlen uint32, per int) (uint32, error) {
	used, link, err := decodeOverflowHeader(pg, h, per)
	if err != nil {
		return 0, err
	}
	last := i == n-1
	if (!last && used != per) || (last && used != int(vlen)-(n-1)*per) {
		return 0, corrupt(pg, "overflow page of %d bytes does not fit its %d-byte value", used, vlen)
	}
	if last && link != 0 {
		return 0, corrupt(first, "overflow chain longer than its %d-byte value", vlen)
	}
	return link, nil
}

// readPageInto reads page pg with ReadPage and scatters it over bufs, for
// pagers without run reads.
func readPageInto(r PageReader, pg uint32, ps int, bufs [][]byte) error {
	page := make([]byte, ps)
	if err := r.ReadPage(pg, page); err != nil {
		return err
	}
	for _, b := range bufs {
		page = page[copy(b, page):]
	}
	return nil
}

// decodeOverflowHeader checks an overflow page's 8-byte header and returns
// the bytes of data it uses and its link (see decodeOverflow).
func decodeOverflowHeader(pg uint32, h []byte, room int) (used int, next uint32, err error) {
	if h[0] != typeOverflow || h[1] != 0 {
		return 0, 0, corrupt(pg, "not an overflow page")
	}
	used = int(binary.BigEndian.Uint16(h[2:]))
	if used == 0 || used > room {
		return 0, 0, corrupt(pg, "overflow page uses %d bytes", used)
	}
	return used, binary.BigEndian.Uint32(h[4:]), nil
}
