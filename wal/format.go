package wal

import (
	"encoding/binary"
	"math/bits"
)

// Frozen constants of SQLite's WAL format (fileformat2 §4, wal.c). Changing
// any of them breaks compatibility with SQLite and with existing files.
const (
	walHeaderSize   = 32         // bytes before frame 1
	frameHeaderSize = 24         // bytes before each page image
	magicLE         = 0x377f0682 // checksums over little-endian words
	magicBE         = 0x377f0683 // checksums over big-endian words
	formatVersion   = 3007000    // the only version SQLite accepts
	minPageSize     = 512
	maxPageSize     = 65536
)

// nativeBigEndian reports the checksum order SQLite would write on this
// machine; it writes WAL_MAGIC | SQLITE_BIGENDIAN.
var nativeBigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

// validPageSize reports whether n is a power of two in [512, 65536].
func validPageSize(n int) bool {
	return n >= minPageSize && n <= maxPageSize && bits.OnesCount(uint(n)) == 1
}

// cksum is the running pair (s0, s1) of SQLite's WAL checksum.
type cksum [2]uint32

// update feeds b (len a multiple of 8) into the checksum, reading words in
// big-endian order when be is set, else little-endian (walChecksumBytes).
func (c cksum) update(be bool, b []byte) cksum {
	s0, s1 := c[0], c[1]
	if be {
		for i := 0; i+8 <= len(b); i += 8 {
			s0 += binary.BigEndian.Uint32(b[i:]) + s1
			s1 += binary.BigEndian.Uint32(b[i+4:]) + s0
		}
	} else {
		for i := 0; i+8 <= len(b); i += 8 {
			s0 += binary.LittleEndian.Uint32(b[i:]) + s1
			s1 += binary.LittleEndian.Uint32(b[i+4:]) + s0
		}
	}
	return cksum{s0, s1}
}

// walHeader is the decoded 32-byte WAL header:
//
//	0  magic     4  version   8  page size   12 checkpoint seq
//	16 salt-1    20 salt-2    24 cksum-1     28 cksum-2
//
// all big-endian u32; the checksum covers bytes 0..23 from (0,0).
type walHeader struct {
	bigEndian bool // magic is magicBE
	pageSize  int
	ckptSeq   uint32
	salt      [2]uint32
	cksum     cksum // stored header checksum, the seed of frame 1's chain
}

// headerStatus says why parseHeader rejected a header.
type headerStatus int

const (
	headerOK         headerStatus = iota
	headerInvalid                 // ignore the WAL, as SQLite does silently
	headerBadVersion              // checksum fine but version unknown: refuse
)

// parseHeader decodes b[:32]. Like SQLite, a bad magic, page size or checksum
// makes the whole WAL empty; only an unknown version with a valid checksum is
// an error.
func parseHeader(b []byte) (walHeader, headerStatus) {
	var h walHeader
	if len(b) < walHeaderSize {
		return h, headerInvalid
	}
	magic := binary.BigEndian.Uint32(b[0:])
	if magic&^1 != magicLE {
		return h, headerInvalid
	}
	h.bigEndian = magic&1 == 1
	ps := binary.BigEndian.Uint32(b[8:])
	if ps > maxPageSize || !validPageSize(int(ps)) {
		return h, headerInvalid
	}
	h.pageSize = int(ps)
	h.ckptSeq = binary.BigEndian.Uint32(b[12:])
	h.salt = [2]uint32{binary.BigEndian.Uint32(b[16:]), binary.BigEndian.Uint32(b[20:])}
	h.cksum = cksum{binary.BigEndian.Uint32(b[24:]), binary.BigEndian.Uint32(b[28:])}
	if (cksum{}).update(h.bigEndian, b[:24]) != h.cksum {
		return h, headerInvalid
	}
	if binary.BigEndian.Uint32(b[4:]) != formatVersion {
		return h, headerBadVersion
	}
	return h, headerOK
}

// encodeHeader writes h into b[:32] and returns h with its checksum set.
func encodeHeader(b []byte, h walHeader) walHeader {
	magic := uint32(magicLE)
	if h.bigEndian {
		magic = magicBE
	}
	binary.BigEndian.PutUint32(b[0:], magic)
	binary.BigEndian.PutUint32(b[4:], formatVersion)
	binary.BigEndian.PutUint32(b[8:], uint32(h.pageSize))
	binary.BigEndian.PutUint32(b[12:], h.ckptSeq)
	binary.BigEndian.PutUint32(b[16:], h.salt[0])
	binary.BigEndian.PutUint32(b[20:], h.salt[1])
	h.cksum = (cksum{}).update(h.bigEndian, b[:24])
	binary.BigEndian.PutUint32(b[24:], h.cksum[0])
	binary.BigEndian.PutUint32(b[28:], h.cksum[1])
	return h
}

// frameOffset is the byte offset of frame i (1-based) in the WAL file.
func frameOffset(i uint32, pageSize int) int64 {
	return walHeaderSize + int64(i-1)*int64(pageSize+frameHeaderSize)
}

// encodeFrame writes the 24-byte frame header for page pgno into hdr, given
// the page image page and the running checksum prev, and returns the new
// running checksum:
//
//	0 pgno  4 db size after commit (0 if not a commit frame)
//	8 salt-1  12 salt-2  16 cksum-1  20 cksum-2
func encodeFrame(hdr []byte, h *walHeader, prev cksum, pgno, commit uint32, page []byte) cksum {
	binary.BigEndian.PutUint32(hdr[0:], pgno)
	binary.BigEndian.PutUint32(hdr[4:], commit)
	binary.BigEndian.PutUint32(hdr[8:], h.salt[0])
	binary.BigEndian.PutUint32(hdr[12:], h.salt[1])
	c := prev.update(h.bigEndian, hdr[:8]).update(h.bigEndian, page)
	binary.BigEndian.PutUint32(hdr[16:], c[0])
	binary.BigEndian.PutUint32(hdr[20:], c[1])
	return c
}

// decodeFrame validates one frame (header followed by its page image) against
// the WAL header h and the running checksum prev (walDecodeFrame). It returns
// the page number, the commit size (0 for a non-commit frame) and the new
// running checksum; ok is false if the salts, the page number or the checksum
// are wrong, which ends the valid part of the WAL.
func decodeFrame(frame []byte, h *walHeader, prev cksum) (pgno, commit uint32, c cksum, ok bool) {
	if len(frame) != frameHeaderSize+h.pageSize {
		return 0, 0, prev, false
	}
	if binary.BigEndian.Uint32(frame[8:]) != h.salt[0] || binary.BigEndian.Uint32(frame[12:]) != h.salt[1] {
		return 0, 0, prev, false
	}
	pgno = binary.BigEndian.Uint32(frame[0:])
	if pgno == 0 {
		return 0, 0, prev, false
	}
	c = prev.update(h.bigEndian, frame[:8]).update(h.bigEndian, frame[frameHeaderSize:])
	if c[0] != binary.BigEndian.Uint32(frame[16:]) || c[1] != binary.BigEndian.Uint32(frame[20:]) {
		return 0, 0, prev, false
	}
	return pgno, binary.BigEndian.Uint32(frame[4:]), c, true
}
