package local

import (
	"bytes"
	"context"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// Apply applies muts to record id of namespace ns as one atomic commit.
// Mutations resolve by last-writer-wins per cell; a write hidden by a newer
// cell, record tombstone or range tombstone is dropped on arrival.
func (s *Store) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	if err := kv.CheckNamespace(ns); err != nil {
		return err
	}
	if err := kv.CheckID(id); err != nil {
		return err
	}
	if err := kv.CheckMutations(muts); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	if len(muts) == 0 {
		return ctx.Err()
	}
	now := s.now().UnixNano()
	size := 0
	for i := range muts {
		size += len(muts[i].Key) + len(muts[i].End) + len(muts[i].Value) + len(muts[i].Metadata)
	}
	sweep := false
	err := s.updateSized(ctx, size, func(tx *btree.Tx) error {
		root, err := nsRoot(tx, ns)
		if err != nil {
			return err // before any change: only this request fails
		}
		sweep, err = applyTx(tx, root, id, muts, now)
		return err
	})
	if err == nil {
		s.applies.Add(1)
		if sweep {
			s.sweep.record(ns, id)
		}
	}
	return err
}

// applyTx applies muts inside tx and reports whether a record or range
// tombstone was written (its hidden items are then reclaimed by the
// sweeper, off the commit path).
func applyTx(tx *btree.Tx, root uint32, id string, muts []kv.Mutation, now int64) (bool, error) {
	t, err := loadTombs(tx, root, id)
	if err != nil {
		return false, err
	}
	wroteTomb := false
	for i := range muts {
		m := &muts[i]
		switch m.Op {
		case kv.OpPut, kv.OpDelete:
			if t.covers(m.Key, m.Timestamp) {
				continue // an older write under a newer tombstone
			}
			c := &cellData{ts: m.Timestamp}
			if m.Op == kv.OpDelete {
				// The tombstone's grace runs from now, its local
				// deletion time, whatever its timestamp says.
				c.flags, c.expiry = cellTombstone, now
			} else {
				c.value, c.meta = m.Value, m.Metadata
				if m.TTL > 0 {
					c.expiry = now + int64(m.TTL)
				}
			}
			if err := putCell(tx, root, itemKey(id, m.Key), c); err != nil {
				return false, err
			}
		case kv.OpDeleteRange:
			w, err := putRangeTomb(tx, root, id, &t, rangeTomb{start: m.Key, end: m.End, ts: m.Timestamp})
			if err != nil {
				return false, err
			}
			wroteTomb = wroteTomb || w
		case kv.OpDeleteRecord:
			if m.Timestamp <= t.record {
				continue
			}
			if err := putRecordTomb(tx, root, id, &t, m.Timestamp, now); err != nil {
				return false, err
			}
			wroteTomb = true
		}
	}
	return wroteTomb, nil
}

// putCell writes c at key unless the cell there wins. The value goes to
// the tree as it lies behind the cell's encoded fields, never copied into
// one buffer with them: a 1 MiB chunk is copied only into its pages.
func putCell(tx *btree.Tx, root uint32, key []byte, c *cellData) error {
	return tx.UpdateParts(root, key, func(old []byte, exists bool) ([]byte, []byte, bool, error) {
		if exists {
			oc, err := decodeCell(old)
			if err != nil {
				return nil, nil, false, err
			}
			if !wins(c, &oc) {
				return nil, nil, false, nil
			}
		}
		return appendCellHead(make([]byte, 0, cellHeadLen(c)), c), c.value, true, nil
	})
}

// loadTombs reads a record's record tombstone and range tombstones.
func loadTombs(tx *btree.Tx, root uint32, id string) (tombs, error) {
	return loadTombsAt(tx.Cursor(root), id)
}

// loadTombsAt is loadTombs on a caller's cursor over the namespace tree. It
// leaves the cursor at the record's first item, so a reader's next Seek into
// the record reuses the path instead of descending a second time.
func loadTombsAt(cur *btree.Cursor, id string) (tombs, error) {
	var t tombs
	start := kindKey(id, kindRecordTomb)
	end := kindKey(id, kindItem)
	for cur.Seek(start); cur.Valid() && bytes.Compare(cur.Key(), end) < 0; cur.Next() {
		_, kind, suffix, ok := splitKey(cur.Key())
		if !ok {
			return t, errBadCell
		}
		v, err := cur.Value()
		if err != nil {
			return t, err
		}
		switch kind {
		case kindRecordTomb:
			c, err := decodeCell(v)
			if err != nil {
				return t, err
			}
			t.record, t.recordDel = c.ts, c.deletionTime()
		case kindRangeTomb:
			r, err := decodeRangeTomb(suffix, v)
			if err != nil {
				return t, err
			}
			t.ranges = append(t.ranges, r)
		}
	}
	return t, cur.Err()
}

// putRecordTomb writes the record tombstone at ts (> the current one), with
// now as its local deletion time, and drops range tombstones it makes
// redundant.
func putRecordTomb(tx *btree.Tx, root uint32, id string, t *tombs, ts, now int64) error {
	if err := tx.Put(root, kindKey(id, kindRecordTomb), encodeCell(&cellData{flags: cellTombstone, ts: ts, expiry: now})); err != nil {
		return err
	}
	t.record, t.recordDel = ts, now
	kept := t.ranges[:0]
	for _, r := range t.ranges {
		if r.ts <= ts {
			if _, err := tx.Delete(root, rangeTombKey(id, r.start, r.ts)); err != nil {
				return err
			}
			continue
		}
		kept = append(kept, r)
	}
	t.ranges = kept
	return nil
}

// putRangeTomb records a range tombstone unless an existing tombstone
// already hides everything it would, and drops the ones it makes redundant.
// It reports whether it wrote anything.
func putRangeTomb(tx *btree.Tx, root uint32, id string, t *tombs, nr rangeTomb) (bool, error) {
	if nr.ts <= t.record || emptyRange(nr.start, nr.end) {
		return false, nil
	}
	for _, r := range t.ranges {
		if r.ts >= nr.ts && contains(r, nr) {
			return false, nil
		}
	}
	kept := t.ranges[:0]
	for _, r := range t.ranges {
		if r.ts <= nr.ts && contains(nr, r) {
			if _, err := tx.Delete(root, rangeTombKey(id, r.start, r.ts)); err != nil {
				return false, err
			}
			continue
		}
		if r.ts == nr.ts && bytes.Equal(r.start, nr.start) && (r.start == nil) == (nr.start == nil) {
			// Same key in the tree: merge into one wider range.
			if nr.end != nil && (r.end == nil || bytes.Compare(r.end, nr.end) > 0) {
				nr.end = r.end
			}
			continue
		}
		kept = append(kept, r)
	}
	t.ranges = append(kept, nr)
	return true, tx.Put(root, rangeTombKey(id, nr.start, nr.ts), encodeRangeEnd(nr.end))
}

// emptyRange reports whether [start, end) holds no key.
func emptyRange(start, end []byte) bool {
	return end != nil && bytes.Compare(end, start) <= 0
}

// contains reports whether range a covers all of range b.
func contains(a, b rangeTomb) bool {
	startOK := a.start == nil || (b.start != nil && bytes.Compare(a.start, b.start) <= 0)
	endOK := a.end == nil || (b.end != nil && bytes.Compare(b.end, a.end) <= 0)
	return startOK && endOK
}
