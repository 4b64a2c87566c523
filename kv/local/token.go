package local

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/edgekit/edgekit/kv"
)

// Cursors (Result.Cursor, IDs' next) are opaque to callers:
//
//	+---------+------+----------------------+----------+
//	| version | kind | last key (or last id) | MAC (8)  |
//	+---------+------+----------------------+----------+
//	  1 byte   1 byte   variable                8 bytes
//
// The MAC is HMAC-SHA256, truncated to 8 bytes, keyed by the 16-byte secret
// in the meta page, over kind, the binding (namespace, id and the query's
// shape: Keys, Start, End, Reverse — not Limit or MaxBytes, which may change
// between pages) and the key. A cursor therefore survives a restart, works
// only for the query that produced it, and a forged or corrupted one is
// ErrBadCursor rather than a wrong page. Frozen: version 1.
const (
	tokenVersion = 1
	tokenRead    = 1
	tokenIDs     = 2
	tokenMACLen  = 8
)

type tokenKey [16]byte

func (k tokenKey) mac(kind byte, binding, last []byte) []byte {
	h := hmac.New(sha256.New, k[:])
	var n [9]byte
	n[0] = kind
	binary.BigEndian.PutUint64(n[1:], uint64(len(binding)))
	h.Write(n[:])
	h.Write(binding)
	h.Write(last)
	return h.Sum(nil)[:tokenMACLen]
}

func (k tokenKey) seal(kind byte, binding, last []byte) []byte {
	out := make([]byte, 0, 2+len(last)+tokenMACLen)
	out = append(out, tokenVersion, kind)
	out = append(out, last...)
	return append(out, k.mac(kind, binding, last)...)
}

// open verifies a cursor and returns the key it resumes after.
func (k tokenKey) open(tok []byte, kind byte, binding []byte) ([]byte, error) {
	if len(tok) < 2+tokenMACLen || tok[0] != tokenVersion || tok[1] != kind {
		return nil, fmt.Errorf("%w: malformed cursor", kv.ErrBadCursor)
	}
	last := tok[2 : len(tok)-tokenMACLen]
	if !hmac.Equal(tok[len(tok)-tokenMACLen:], k.mac(kind, binding, last)) {
		return nil, fmt.Errorf("%w: cursor does not belong to this query", kv.ErrBadCursor)
	}
	return last, nil
}

// readBinding encodes what a Read cursor is tied to.
func readBinding(ns, id string, q *kv.Query) []byte {
	b := make([]byte, 0, 64)
	b = appendField(b, []byte(ns))
	b = appendField(b, []byte(id))
	flags := byte(0)
	if q.Reverse {
		flags |= 1
	}
	if q.Keys != nil {
		flags |= 2
		b = append(b, flags)
		h := sha256.New()
		for _, k := range q.Keys {
			var n [4]byte
			binary.BigEndian.PutUint32(n[:], uint32(len(k)))
			h.Write(n[:])
			h.Write(k)
		}
		return h.Sum(b)
	}
	if q.Start != nil {
		flags |= 4
	}
	if q.End != nil {
		flags |= 8
	}
	b = append(b, flags)
	b = appendField(b, q.Start)
	return appendField(b, q.End)
}

func appendField(b, f []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}
