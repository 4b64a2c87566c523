package timeseries

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math"
)

// position is where a read resumes: at every event with time <= us
// (after == false), or at the events after (us, id) in newest-first order.
type position struct {
	us    int64
	id    []byte
	after bool
}

// startKey is the first item key to read in a bucket at or below p.
func (p position) startKey() []byte {
	if !p.after {
		return timeKey(p.us)
	}
	return prefixEnd(eventPrefix(nil, p.us, string(p.id)))
}

// token is the decoded page token: the resume position, plus the bytes
// already read from each leaf partition of the time bucket being read, so
// wide-partition detection sees a whole paginated scan, not one page.
type token struct {
	pos   position
	tb    int64
	bytes []uint32
}

const (
	tokenVersion = 1
	tokenMaxLeaf = 255
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bindHash ties a token to one query: namespace, series, range and kind.
func bindHash(ns, series string, from, to int64, kind byte) uint64 {
	h := fnv.New64a()
	var b [17]byte
	h.Write([]byte(ns))
	h.Write([]byte{0})
	h.Write([]byte(series))
	binary.BigEndian.PutUint64(b[0:], uint64(from))
	binary.BigEndian.PutUint64(b[8:], uint64(to))
	b[16] = kind
	h.Write(b[:])
	return h.Sum64()
}

// encode writes the token (format in the package doc):
//
//	ver u8 | bind u64 | after u8 | time i64 | idlen u8 | id | tb i64 | n u8 | n × bytes u32 | crc32c u32
func (t token) encode(bind uint64) []byte {
	b := make([]byte, 0, 40+len(t.pos.id)+4*len(t.bytes))
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, bind)
	after := byte(0)
	if t.pos.after {
		after = 1
	}
	b = append(b, after)
	b = binary.BigEndian.AppendUint64(b, uint64(t.pos.us))
	b = append(b, byte(len(t.pos.id)))
	b = append(b, t.pos.id...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.tb))
	n := min(len(t.bytes), tokenMaxLeaf)
	b = append(b, byte(n))
	for _, x := range t.bytes[:n] {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeToken parses and validates a token for the query bound by bind.
// It never panics on any input.
func decodeToken(b []byte, bind uint64) (token, error) {
	var t token
	bad := func(why string) (token, error) { return token{}, fmt.Errorf("%w: %s", ErrBadToken, why) }
	if len(b) < 1+8+1+8+1+8+1+4 {
		return bad("too short")
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return bad("checksum mismatch")
	}
	if body[0] != tokenVersion {
		return bad("unknown version")
	}
	if binary.BigEndian.Uint64(body[1:]) != bind {
		return bad("token belongs to another query")
	}
	if body[9] > 1 {
		return bad("bad flag")
	}
	t.pos.after = body[9] == 1
	t.pos.us = int64(binary.BigEndian.Uint64(body[10:]))
	idn := int(body[18])
	rest := body[19:]
	if len(rest) < idn+9 || idn > MaxEventIDLen || (t.pos.after != (idn > 0)) {
		return bad("bad event id")
	}
	if t.pos.us < 1 || t.pos.us == math.MaxInt64 {
		return bad("bad time")
	}
	if idn > 0 {
		t.pos.id = append([]byte(nil), rest[:idn]...)
	}
	rest = rest[idn:]
	t.tb = int64(binary.BigEndian.Uint64(rest))
	n := int(rest[8])
	rest = rest[9:]
	if len(rest) != 4*n {
		return bad("bad length")
	}
	if n > 0 {
		t.bytes = make([]uint32, n)
		for i := range t.bytes {
			t.bytes[i] = binary.BigEndian.Uint32(rest[4*i:])
		}
	}
	return t, nil
}
