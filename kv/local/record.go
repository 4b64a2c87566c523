package local

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// Keys of a namespace tree. Every entry of a record sorts under the record's
// prefix (u16 id length, id), then by a kind byte, so a record's record
// tombstone, its range tombstones and its items sit next to each other and
// one seek finds them all. Frozen: these bytes are on disk.
const (
	kindRecordTomb = 0x00 // suffix: none
	kindRangeTomb  = 0x01 // suffix: start flag, start, u64 timestamp
	kindItem       = 0x02 // suffix: the item key
	kindPastEnd    = 0x03 // sorts after every entry of an id (never stored)
)

// Item cell flags. Frozen. On a tombstone cell (an item tombstone or the
// record tombstone) the i64 that cellExpires announces is the local
// deletion time instead: the store's clock, in unix nanoseconds, when the
// tombstone was written or the item it replaced expired. Tombstone grace
// is measured from it. Cells written before tombstones were purged have
// no deletion time; see deletionTime.
const (
	cellTombstone = 1 << 0 // a deleted item: no value, hides older writes
	cellExpires   = 1 << 1 // an i64 expiry (unix nanoseconds) follows the timestamp
)

var errBadCell = fmt.Errorf("%w: item cell or key does not decode", btree.ErrCorrupt)

// recordPrefix returns u16 len(id) | id.
func recordPrefix(dst []byte, id string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(id)))
	return append(dst, id...)
}

func itemKey(id string, key []byte) []byte {
	k := recordPrefix(make([]byte, 0, 3+len(id)+len(key)), id)
	k = append(k, kindItem)
	return append(k, key...)
}

func kindKey(id string, kind byte) []byte {
	return append(recordPrefix(make([]byte, 0, 3+len(id)), id), kind)
}

// rangeTombKey: a nil start (unbounded) is flag 0; otherwise flag 1 and the
// start bytes. The timestamp at the end keeps two deletes of the same start
// apart; the value holds the end.
func rangeTombKey(id string, start []byte, ts int64) []byte {
	k := kindKey(id, kindRangeTomb)
	if start == nil {
		k = append(k, 0)
	} else {
		k = append(k, 1)
		k = append(k, start...)
	}
	return binary.BigEndian.AppendUint64(k, uint64(ts))
}

// splitKey parses a namespace-tree key into id, kind and suffix.
func splitKey(k []byte) (id []byte, kind byte, suffix []byte, ok bool) {
	if len(k) < 3 {
		return nil, 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(k))
	if len(k) < 3+n {
		return nil, 0, nil, false
	}
	return k[2 : 2+n], k[2+n], k[3+n:], true
}

// cellData is a decoded item cell (a value or an item tombstone).
type cellData struct {
	flags  byte
	ts     int64
	expiry int64 // unix nanoseconds; 0 = never
	meta   []byte
	value  []byte
}

func (c *cellData) tombstone() bool { return c.flags&cellTombstone != 0 }

// deletionTime is when a tombstone cell (or an expired item, whose expiry
// is its deletion time, as in Cassandra) started its grace period, in unix
// nanoseconds: the local deletion time in the expiry field, or for a cell
// without one the write timestamp read as microseconds since the epoch.
func (c *cellData) deletionTime() int64 {
	if c.expiry != 0 {
		return c.expiry
	}
	return microsToNanos(c.ts)
}

// microsToNanos converts a write timestamp (microseconds since the epoch,
// as kv.Mutation specifies) to unix nanoseconds, saturating instead of
// wrapping for timestamps past the year 2262.
func microsToNanos(ts int64) int64 {
	const limit = math.MaxInt64 / 1000
	switch {
	case ts > limit:
		return math.MaxInt64
	case ts < -limit:
		return math.MinInt64
	}
	return ts * 1000
}

// encodeCell: u8 flags | i64 timestamp | [i64 expiry] | uvarint len(meta) |
// meta | value (the rest).
func encodeCell(c *cellData) []byte {
	return append(appendCellHead(make([]byte, 0, cellHeadLen(c)+len(c.value)), c), c.value...)
}

// appendCellHead appends c's fields before the value (all of encodeCell
// but the value), so a large value can be stored after it from where it
// lies (btree.Tx.UpdateParts) instead of being copied behind it.
func appendCellHead(b []byte, c *cellData) []byte {
	flags := c.flags &^ cellExpires // the flag follows the field
	if c.expiry != 0 {
		flags |= cellExpires
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, uint64(c.ts))
	if c.expiry != 0 {
		b = binary.BigEndian.AppendUint64(b, uint64(c.expiry))
	}
	b = binary.AppendUvarint(b, uint64(len(c.meta)))
	return append(b, c.meta...)
}

// cellHeadLen bounds the length of c's fields before the value.
func cellHeadLen(c *cellData) int { return 1 + 8 + 8 + binary.MaxVarintLen32 + len(c.meta) }

// decodeCell parses an item cell; the result aliases b.
func decodeCell(b []byte) (cellData, error) {
	c, n, err := decodeCellHead(b)
	if err != nil {
		return c, errBadCell // a whole cell that ends early is bad too
	}
	c.value = b[n:]
	return c, nil
}

// errShortCell: the bytes end inside the cell's fields before its value.
// Only a prefix of a cell may be short; a whole cell that is is bad.
var errShortCell = fmt.Errorf("%w: item cell ends inside its header", btree.ErrCorrupt)

// decodeCellHead parses the fields before the value (flags, timestamp,
// expiry, metadata) from b, a whole cell or a prefix of one, and returns
// their length n: the value is what follows. The result aliases b.
func decodeCellHead(b []byte) (c cellData, n int, err error) {
	if len(b) < 9 {
		return c, 0, errShortCell
	}
	c.flags = b[0]
	if c.flags&^(cellTombstone|cellExpires) != 0 {
		return c, 0, errBadCell
	}
	c.ts = int64(binary.BigEndian.Uint64(b[1:]))
	n = 9
	if c.flags&cellExpires != 0 {
		if len(b) < n+8 {
			return c, 0, errShortCell
		}
		c.expiry = int64(binary.BigEndian.Uint64(b[n:]))
		n += 8
	}
	ml, k := binary.Uvarint(b[n:])
	switch {
	case k < 0:
		return c, 0, errBadCell // longer than 64 bits
	case k == 0 || ml > uint64(len(b)-n-k):
		return c, 0, errShortCell
	}
	n += k
	c.meta = b[n : n+int(ml) : n+int(ml)]
	return c, n + int(ml), nil
}

// wins reports whether write a beats write b under last-writer-wins: the
// higher timestamp; on a tie a tombstone, then the larger value, then the
// larger metadata, then the later expiry (never expiring counts as latest).
// Every replica and every retry resolves the same way.
func wins(a, b *cellData) bool {
	if a.ts != b.ts {
		return a.ts > b.ts
	}
	if a.tombstone() != b.tombstone() {
		return a.tombstone()
	}
	if c := bytes.Compare(a.value, b.value); c != 0 {
		return c > 0
	}
	if c := bytes.Compare(a.meta, b.meta); c != 0 {
		return c > 0
	}
	return expiryRank(a.expiry) > expiryRank(b.expiry)
}

func expiryRank(e int64) uint64 {
	if e == 0 {
		return ^uint64(0)
	}
	return uint64(e)
}

// tombs are the record-level and range tombstones of one record, loaded
// before its items are read or written.
type tombs struct {
	record    int64 // timestamp of the record tombstone; 0 = none
	recordDel int64 // the record tombstone's deletionTime
	ranges    []rangeTomb
}

// rangeTomb is a decoded range tombstone. The frozen layout has no field
// for a local deletion time, so a range tombstone's grace runs from its
// write timestamp (deletionTime).
type rangeTomb struct {
	start, end []byte // nil = unbounded
	ts         int64
}

func (r *rangeTomb) deletionTime() int64 { return microsToNanos(r.ts) }

// covers reports whether a write of key at ts is hidden by a tombstone.
func (t *tombs) covers(key []byte, ts int64) bool {
	if ts <= t.record {
		return true
	}
	for i := range t.ranges {
		r := &t.ranges[i]
		if ts <= r.ts && (r.start == nil || bytes.Compare(key, r.start) >= 0) &&
			(r.end == nil || bytes.Compare(key, r.end) < 0) {
			return true
		}
	}
	return false
}

// range tombstone value: u8 end flag (0 = unbounded) | end bytes.
func encodeRangeEnd(end []byte) []byte {
	if end == nil {
		return []byte{0}
	}
	return append([]byte{1}, end...)
}

func decodeRangeTomb(suffix, val []byte) (rangeTomb, error) {
	var r rangeTomb
	if len(suffix) < 9 || len(val) < 1 || suffix[0] > 1 || val[0] > 1 {
		return r, errBadCell
	}
	r.ts = int64(binary.BigEndian.Uint64(suffix[len(suffix)-8:]))
	if suffix[0] == 1 {
		r.start = suffix[1 : len(suffix)-8 : len(suffix)-8]
	} else if len(suffix) != 9 {
		return r, errBadCell
	}
	if val[0] == 1 {
		r.end = val[1:]
	} else if len(val) != 1 {
		return r, errBadCell
	}
	return r, nil
}
