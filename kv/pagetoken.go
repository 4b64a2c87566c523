package kv

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"
)

// Page token format (frozen; drawn in doc.go):
//
//	version 1 | issued µs 8 | avg item bytes 4 | key len 2 | last key | MAC 16
//
// The MAC is HMAC-SHA-256 under Options.PageKey over a domain string, the
// namespace, the record id, the query's selection (keys, range, direction)
// and the token body, truncated to 16 bytes. A token is therefore good only
// for the query that produced it, on Clients sharing the key, until
// PageTokenTTL after it was issued.
const (
	pageVersion = 0x01
	pageFixed   = 1 + 8 + 4 + 2 // bytes before the last key
	pageMACLen  = 16
)

// pagePos is what a page token carries.
type pagePos struct {
	issued int64  // µs
	avg    uint32 // observed average item size, for the next page's limit
	last   []byte // last key returned; the next page starts past it
}

func (c *Client) pageMAC(ns, id string, q *Query, body []byte) []byte {
	m := hmac.New(sha256.New, c.opts.PageKey)
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		m.Write(n[:])
		m.Write(b)
	}
	flags := []byte{0}
	if q.Reverse {
		flags[0] |= 1
	}
	if q.Keys != nil {
		flags[0] |= 2
	}
	if q.Start != nil {
		flags[0] |= 4
	}
	if q.End != nil {
		flags[0] |= 8
	}
	field([]byte("edgekit/kv page token v1"))
	field([]byte(ns))
	field([]byte(id))
	field(flags)
	field(q.Start)
	field(q.End)
	binary.BigEndian.PutUint64(n[:], uint64(len(q.Keys)))
	m.Write(n[:])
	for _, k := range q.Keys {
		field(k)
	}
	field(body)
	return m.Sum(nil)[:pageMACLen]
}

func (c *Client) encodePageToken(ns, id string, q *Query, p pagePos) []byte {
	b := make([]byte, 0, pageFixed+len(p.last)+pageMACLen)
	b = append(b, pageVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(p.issued))
	b = binary.BigEndian.AppendUint32(b, p.avg)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.last)))
	b = append(b, p.last...)
	return append(b, c.pageMAC(ns, id, q, b)...)
}

// decodePageToken authenticates tok against the query and returns its
// position. Every failure is ErrBadCursor; it never panics.
func (c *Client) decodePageToken(ns, id string, q *Query, tok []byte) (pagePos, error) {
	var p pagePos
	if len(tok) < pageFixed+pageMACLen || tok[0] != pageVersion {
		return p, fmt.Errorf("%w: malformed page token", ErrBadCursor)
	}
	n := int(binary.BigEndian.Uint16(tok[13:]))
	if len(tok) != pageFixed+n+pageMACLen || n > MaxKeyLen {
		return p, fmt.Errorf("%w: malformed page token", ErrBadCursor)
	}
	body, mac := tok[:pageFixed+n], tok[pageFixed+n:]
	if !hmac.Equal(mac, c.pageMAC(ns, id, q, body)) {
		return p, fmt.Errorf("%w: page token is forged or belongs to another query", ErrBadCursor)
	}
	p.issued = int64(binary.BigEndian.Uint64(tok[1:]))
	p.avg = binary.BigEndian.Uint32(tok[9:])
	p.last = append([]byte{}, body[pageFixed:]...)
	age := c.now().Sub(time.UnixMicro(p.issued))
	if age > c.opts.PageTokenTTL || -age > c.opts.MaxTokenSkew {
		return p, fmt.Errorf("%w: page token is stale (issued %v ago, limit %v)", ErrBadCursor, age, c.opts.PageTokenTTL)
	}
	return p, nil
}
