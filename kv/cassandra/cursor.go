package cassandra

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/edgekit/edgekit/kv"
)

// Cursor format (frozen: cursors may be stored by clients between calls and
// across upgrades). All integers are big-endian; uvarint is
// encoding/binary's unsigned varint.
//
//	Read cursor                            IDs cursor
//	+------+------+-------+                +------+------+-----------+
//	| 0x01 | 0x01 | flags |                | 0x01 | 0x02 | token (8) |
//	+------+------+-------+                +------+------+-----------+
//	| [uvarint n | last key (n)]  flags&1  | uvarint n | last id (n) |
//	| [uvarint m | page state (m)] flags&2 +-------------------------+
//	+--------------------------------+     | mac (16)                |
//	| mac (16)                       |     +-------------------------+
//	+--------------------------------+
//
// version (0x01) and kind (0x01 Read, 0x02 IDs) come first. A Read cursor
// holds where the next call resumes: the driver's paging state of the
// statement that produced the last page, and — when a call stopped in the
// middle of a driver page (Limit or MaxBytes reached) — the last key it
// returned, which becomes an exclusive bound of the resumed statement
// (any paging state then belongs to that bounded statement). An IDs cursor
// holds the Murmur3 token and id of the last id returned.
//
// mac is the first 16 bytes of HMAC-SHA256 under the Store's cursor key,
// over the cursor bytes before it and over the identity of the query the
// cursor belongs to (namespace, record id, key list or range, direction),
// so a cursor replayed against another query, or altered in any bit, is
// refused with kv.ErrBadCursor before anything reaches Cassandra.
const (
	cursorVersion = 0x01
	kindRead      = 0x01
	kindIDs       = 0x02

	flagLast  = 0x01
	flagState = 0x02

	macLen = 16
)

// readPos is where a Read resumes.
type readPos struct {
	hasLast bool
	last    []byte // last key returned, exclusive bound of the resumed scan
	state   []byte // driver paging state; nil: start the statement anew
}

// sealRead encodes p as a cursor bound to query identity qid.
func (s *Store) sealRead(qid []byte, p readPos) []byte {
	b := []byte{cursorVersion, kindRead, 0}
	if p.hasLast {
		b[2] |= flagLast
		b = binary.AppendUvarint(b, uint64(len(p.last)))
		b = append(b, p.last...)
	}
	if len(p.state) > 0 {
		b[2] |= flagState
		b = binary.AppendUvarint(b, uint64(len(p.state)))
		b = append(b, p.state...)
	}
	return append(b, s.mac(qid, b)...)
}

// openRead checks and decodes a Read cursor for query identity qid.
func (s *Store) openRead(qid, c []byte) (readPos, error) {
	body, err := s.verify(qid, c, kindRead)
	if err != nil {
		return readPos{}, err
	}
	var p readPos
	flags := body[2]
	r := body[3:]
	if flags&^(flagLast|flagState) != 0 {
		return readPos{}, badCursor("unknown flags")
	}
	if flags&flagLast != 0 {
		p.hasLast = true
		if p.last, r, err = field(r); err != nil {
			return readPos{}, err
		}
	}
	if flags&flagState != 0 {
		if p.state, r, err = field(r); err != nil {
			return readPos{}, err
		}
	}
	if len(r) != 0 {
		return readPos{}, badCursor("trailing bytes")
	}
	return p, nil
}

// idsPos is where an IDs listing resumes.
type idsPos struct {
	token  int64
	lastID string
}

func (s *Store) sealIDs(qid []byte, p idsPos) []byte {
	b := []byte{cursorVersion, kindIDs}
	b = binary.BigEndian.AppendUint64(b, uint64(p.token))
	b = binary.AppendUvarint(b, uint64(len(p.lastID)))
	b = append(b, p.lastID...)
	return append(b, s.mac(qid, b)...)
}

func (s *Store) openIDs(qid, c []byte) (idsPos, error) {
	body, err := s.verify(qid, c, kindIDs)
	if err != nil {
		return idsPos{}, err
	}
	if len(body) < 10 {
		return idsPos{}, badCursor("short")
	}
	p := idsPos{token: int64(binary.BigEndian.Uint64(body[2:10]))}
	id, rest, err := field(body[10:])
	if err != nil {
		return idsPos{}, err
	}
	if len(rest) != 0 {
		return idsPos{}, badCursor("trailing bytes")
	}
	p.lastID = string(id)
	return p, nil
}

// verify checks version, kind and mac of cursor c and returns the bytes
// before the mac. A failed check says nothing about which part failed
// beyond a word, so the error is no oracle for forging.
func (s *Store) verify(qid, c []byte, kind byte) ([]byte, error) {
	if len(c) < 3+macLen {
		return nil, badCursor("short")
	}
	body, sum := c[:len(c)-macLen], c[len(c)-macLen:]
	if !hmac.Equal(sum, s.mac(qid, body)) {
		return nil, badCursor("not issued for this query")
	}
	// Checked after the mac, which covers them: a cursor that passes the
	// mac was made by this code, so these fail only across versions.
	if body[0] != cursorVersion || body[1] != kind {
		return nil, badCursor("wrong version or kind")
	}
	return body, nil
}

// mac returns the truncated HMAC of query identity qid followed by body.
func (s *Store) mac(qid, body []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	writeField(h, qid)
	h.Write(body)
	return h.Sum(nil)[:macLen]
}

// field splits a uvarint-length-prefixed field off b.
func field(b []byte) (f, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, badCursor("bad length")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

// writeField writes b to h with a uvarint length prefix, so that
// concatenated fields cannot be re-split into different ones.
func writeField(h hash.Hash, b []byte) {
	h.Write(binary.AppendUvarint(nil, uint64(len(b))))
	h.Write(b)
}

func badCursor(why string) error {
	return fmt.Errorf("edgekit/kv/cassandra: %w: %s", kv.ErrBadCursor, why)
}
