package kvtest

import (
	"bytes"
	"sort"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// memCell is the winning write for one key: a put or a key tombstone. An
// expired put stays in place (hidden) so that it keeps shadowing older
// writes, as an expired Cassandra cell does.
type memCell struct {
	value, meta []byte
	ts          int64
	expires     time.Time // zero: never
	tomb        bool
}

// rangeTomb hides every cell in [start, end) written at or before ts.
type rangeTomb struct {
	start, end []byte // nil: unbounded
	ts         int64
}

// memRecord is one record id: its cells, its range tombstones and its
// record tombstone. keys holds the cell keys in bytes.Compare order so reads
// walk them without sorting.
type memRecord struct {
	cells   map[string]*memCell
	keys    []string
	ranges  []rangeTomb
	deleted int64 // record tombstone timestamp; 0: none
}

func newMemRecord() *memRecord { return &memRecord{cells: make(map[string]*memCell)} }

// wins reports whether write n beats the current cell c under the Store's
// last-writer-wins rule: higher timestamp wins; at equal timestamps a
// tombstone beats a put, and between puts the larger value (then the
// larger metadata) wins, so the outcome never depends on arrival order.
func wins(n, c *memCell) bool {
	if n.ts != c.ts {
		return n.ts > c.ts
	}
	if n.tomb || c.tomb {
		return n.tomb && !c.tomb
	}
	if d := bytes.Compare(n.value, c.value); d != 0 {
		return d > 0
	}
	return bytes.Compare(n.meta, c.meta) > 0
}

// write merges n into the cell at key.
func (r *memRecord) write(key string, n *memCell) {
	c, ok := r.cells[key]
	if !ok {
		i := sort.SearchStrings(r.keys, key)
		r.keys = append(r.keys, "")
		copy(r.keys[i+1:], r.keys[i:])
		r.keys[i] = key
		r.cells[key] = n
		return
	}
	if wins(n, c) {
		r.cells[key] = n
	}
}

// shadowed reports whether the record or a range tombstone hides a write at
// ts to key.
func (r *memRecord) shadowed(key string, ts int64) bool {
	if ts <= r.deleted {
		return true
	}
	for _, rt := range r.ranges {
		if ts <= rt.ts && inRange([]byte(key), rt.start, rt.end) {
			return true
		}
	}
	return false
}

// live returns the visible cell at key, or nil.
func (r *memRecord) live(key string, now time.Time) *memCell {
	c := r.cells[key]
	if c == nil || c.tomb || (!c.expires.IsZero() && !now.Before(c.expires)) || r.shadowed(key, c.ts) {
		return nil
	}
	return c
}

// hasLive reports whether any item of the record is visible.
func (r *memRecord) hasLive(now time.Time) bool {
	for _, k := range r.keys {
		if r.live(k, now) != nil {
			return true
		}
	}
	return false
}

// deleteRange records a range tombstone and drops the cells it shadows for
// good, so the fake's memory tracks live data.
func (r *memRecord) deleteRange(start, end []byte, ts int64) {
	r.ranges = append(r.ranges, rangeTomb{start: start, end: end, ts: ts})
	r.gc(func(k string, c *memCell) bool { return c.ts <= ts && inRange([]byte(k), start, end) })
}

// deleteRecord records a record tombstone; older range tombstones and cells
// become redundant.
func (r *memRecord) deleteRecord(ts int64) {
	if ts <= r.deleted {
		return
	}
	r.deleted = ts
	kept := r.ranges[:0]
	for _, rt := range r.ranges {
		if rt.ts > ts {
			kept = append(kept, rt)
		}
	}
	r.ranges = kept
	r.gc(func(_ string, c *memCell) bool { return c.ts <= ts })
}

// gc removes the cells for which drop returns true.
func (r *memRecord) gc(drop func(string, *memCell) bool) {
	kept := r.keys[:0]
	for _, k := range r.keys {
		if drop(k, r.cells[k]) {
			delete(r.cells, k)
			continue
		}
		kept = append(kept, k)
	}
	r.keys = kept
}

func inRange(k, start, end []byte) bool {
	return (start == nil || bytes.Compare(k, start) >= 0) && (end == nil || bytes.Compare(k, end) < 0)
}

// apply merges one validated mutation at time now.
func (r *memRecord) apply(m *kv.Mutation, now time.Time) {
	switch m.Op {
	case kv.OpPut:
		c := &memCell{value: clone(m.Value), meta: clone(m.Metadata), ts: m.Timestamp}
		if m.TTL > 0 {
			c.expires = now.Add(m.TTL)
		}
		if !r.shadowed(string(m.Key), m.Timestamp) {
			r.write(string(m.Key), c)
		}
	case kv.OpDelete:
		if !r.shadowed(string(m.Key), m.Timestamp) {
			r.write(string(m.Key), &memCell{ts: m.Timestamp, tomb: true})
		}
	case kv.OpDeleteRange:
		r.deleteRange(clone(m.Key), clone(m.End), m.Timestamp)
	case kv.OpDeleteRecord:
		r.deleteRecord(m.Timestamp)
	}
}

// clone copies b, keeping nil as nil and empty as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
