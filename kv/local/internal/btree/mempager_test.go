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
	ps    int
	pages map[uint32][]byte
	count uint32
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
