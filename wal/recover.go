package wal

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// sqliteMagic starts every SQLite database file; its header stores the page
// size as a big-endian u16 at offset 16 (1 means 65536).
const sqliteMagic = "SQLite format 3\x00"

// recoverChunk is how many bytes of frames recovery reads at a time.
const recoverChunk = 1 << 20

// recover rebuilds the wal-index from the WAL file (walIndexRecover): it
// keeps the frames up to the last valid commit frame and forgets the rest,
// which the next commit overwrites. Called once from Open.
func (s *Store) recover(optPageSize int) error {
	walSize, err := s.wal.Size()
	if err != nil {
		return err
	}
	dbSize, err := s.db.Size()
	if err != nil {
		return err
	}
	var hdr walHeader
	status := headerInvalid
	if walSize >= walHeaderSize {
		var b [walHeaderSize]byte
		if _, err := s.wal.ReadAt(b[:], 0); err != nil {
			return err
		}
		hdr, status = parseHeader(b[:])
	}
	if status == headerBadVersion {
		return fmt.Errorf("%w: %s-wal", ErrVersion, s.path)
	}
	ps := optPageSize
	if status == headerOK {
		if ps != 0 && ps != hdr.pageSize {
			return fmt.Errorf("%w: WAL has %d-byte pages, Options.PageSize is %d", ErrPageSize, hdr.pageSize, ps)
		}
		ps = hdr.pageSize
	}
	if ps == 0 {
		ps = s.sqlitePageSize()
	}
	s.pageSize = ps
	if (dbSize+int64(ps)-1)/int64(ps) > math.MaxUint32 {
		return fmt.Errorf("edgekit/wal: %s: db file too large for 32-bit page numbers", s.path)
	}
	// Like SQLite's pager, a partial last page counts as a page.
	dbPages := uint32((dbSize + int64(ps) - 1) / int64(ps))

	s.gen = newIndex()
	s.w = writerState{nPage: dbPages}
	if status == headerOK {
		if err := s.scanFrames(&hdr, walSize); err != nil {
			return err
		}
	}
	if s.w.mxFrame == 0 {
		// Nothing committed in this WAL: the next commit starts a fresh
		// generation, so no leftover frame can ever chain onto it.
		if status == headerOK {
			s.w.hdr = s.nextHeader(hdr)
		} else {
			s.w.hdr = walHeader{bigEndian: s.bigEnd, pageSize: ps, salt: [2]uint32{s.rng.Uint32(), s.rng.Uint32()}}
		}
		s.w.hdrWritten = false
	}
	s.written, s.published = s.w.mxFrame, s.w.mxFrame
	s.writtenPages, s.pubPages = s.w.nPage, s.w.nPage
	s.fileFrame, s.filePages = s.w.mxFrame, s.w.nPage
	s.onFile.Store(s.w.mxFrame)
	s.log.Debug("edgekit/wal: recovered", "path", s.path, "pageSize", ps, "frames", s.w.mxFrame, "pages", s.w.nPage)
	return nil
}

// scanFrames validates frames in order and indexes those up to the last
// commit frame before the first invalid one.
func (s *Store) scanFrames(hdr *walHeader, walSize int64) error {
	fsz := int64(hdr.pageSize + frameHeaderSize)
	nFrames := (walSize - walHeaderSize) / fsz // a trailing partial frame is never read
	if nFrames > math.MaxUint32 {
		nFrames = math.MaxUint32
	}
	perChunk := max(1, min(nFrames, recoverChunk/fsz))
	buf := make([]byte, perChunk*fsz)
	type ent struct{ pgno, commit uint32 }
	var valid []ent
	c := hdr.cksum
	var mx uint32
	var mxCksum cksum = c
	var mxPages uint32
scan:
	for f := int64(0); f < nFrames; f += perChunk {
		n := min(perChunk, nFrames-f)
		b := buf[:n*fsz]
		got, err := s.wal.ReadAt(b, walHeaderSize+f*fsz)
		if err != nil && err != io.EOF {
			return err
		}
		// A short read (the file shrank under us) leaves the previous
		// chunk's bytes in the tail of buf: decode only what was read.
		n = min(n, int64(got)/fsz)
		b = b[:n*fsz]
		for i := int64(0); i < n; i++ {
			pgno, commit, nc, ok := decodeFrame(b[i*fsz:(i+1)*fsz], hdr, c)
			if !ok {
				break scan
			}
			c = nc
			valid = append(valid, ent{pgno, commit})
			if commit != 0 {
				mx, mxCksum, mxPages = uint32(len(valid)), c, commit
			}
		}
	}
	for _, e := range valid[:mx] {
		s.gen.append(e.pgno, e.commit)
	}
	s.w.hdr, s.w.hdrWritten = *hdr, true
	s.w.cksum = mxCksum
	if mx > 0 {
		s.w.mxFrame, s.w.nPage = mx, mxPages
	}
	return nil
}

// sqlitePageSize returns the page size named by a SQLite header at the start
// of the db file, or DefaultPageSize.
func (s *Store) sqlitePageSize() int {
	var b [18]byte
	if n, _ := s.db.ReadAt(b[:], 0); n < len(b) || string(b[:16]) != sqliteMagic {
		return DefaultPageSize
	}
	ps := int(binary.BigEndian.Uint16(b[16:]))
	if ps == 1 {
		ps = maxPageSize
	}
	if !validPageSize(ps) {
		return DefaultPageSize
	}
	return ps
}
