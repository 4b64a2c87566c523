package btree

import (
	"fmt"
	"maps"
)

// memPager is a pager over a map: committed pages are immutable slices, a
// snapshot is a copy of the map, a writer buffers its pages until commit.
type memPager struct {
	ps    int
	pages map[uint32][]byte
	count uint32
	seq   uint64
}

type memSnap struct {
	ps       int
	pages    map[uint32][]byte
	count    uint32
	runReads int // ReadPages calls
	runPages int // pages they read
}

func (s *memSnap) PageCount() uint32 { return s.count }

func (s *memSnap) ReadPage(pg uint32, buf []byte) error {
	p, ok := s.pages[pg]
	if !ok || pg > s.count {
		return fmt.Errorf("mem: page %d not written", pg)
	}
	copy(buf, p)
	return nil
}

type memWriter struct {
	memSnap
	p *memPager
}

func (w *memWriter) WritePage(pg uint32, data []byte) error {
	w.pages[pg] = append([]byte(nil), data...)
	if pg > w.count {
		w.count = pg
	}
	return nil
}

func (p *memPager) read() *memSnap {
	return &memSnap{ps: p.ps, pages: maps.Clone(p.pages), count: p.count}
}

func (p *memPager) write() *memWriter {
	return &memWriter{memSnap: *p.read(), p: p}
}

func (w *memWriter) commit(count uint32) {
	w.p.pages = w.pages
	w.p.count = count
	w.p.seq++
}

// ReadPages makes memSnap (and memWriter) a PageRunReader, so the tests
// drive overflow chains through run reads; runReads counts its calls. As
// in wal, a page within the size that was never written reads as zeros: a
// guessed run may cover pages a writer has allocated but not written yet.
func (s *memSnap) ReadPages(first uint32, bufs [][]byte) error {
	s.runReads++
	page := make([]byte, s.ps)
	pg := first
	left := 0 // bytes of page still to hand out
	for _, b := range bufs {
		for len(b) > 0 {
			if left == 0 {
				if _, ok := s.pages[pg]; !ok && pg >= 1 && pg <= s.count {
					clear(page)
				} else if err := s.ReadPage(pg, page); err != nil {
					return err
				}
				pg++
				left = s.ps
				s.runPages++
			}
			n := copy(b, page[s.ps-left:])
			b, left = b[n:], left-n
		}
	}
	if left != 0 {
		return fmt.Errorf("mem: ReadPages buffers end inside page %d", pg-1)
	}
	return nil
}

// pageOnly hides ReadPages, for the page-at-a-time path.
type pageOnly struct{ PageReader }
