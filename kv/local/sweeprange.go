package local

import (
	"bytes"
	"math"

	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// One step of a sweep: what sweepRange does to the entries it passes, and
// how a record's own tombstones are purged safely although a record may
// span many sweep commits.
//
// Items are judged one by one: an item hidden by a record or range
// tombstone is deleted; an item tombstone, or an expired item, whose grace
// has passed is deleted; an expired item within its grace becomes an item
// tombstone that keeps its expiry as deletion time.
//
// A record or range tombstone may only go once no item it hides is left,
// else that item would come back to life. The walk deletes hidden items as
// it passes them, and Apply drops every write a tombstone hides while the
// tombstone exists, so once a walk has passed all of a record's entries
// with a tombstone present and unchanged in every commit since the walk
// entered the record at its first entry, nothing the tombstone hides is
// left: it is then deleted, in the commit that sees the record's end (or
// the next one, re-checked there). A tombstone that appeared or changed
// mid-walk waits for the next walk.

// sweepTime is one sweep commit's view of the clock.
type sweepTime struct {
	now     int64 // unix ns: items that expire at or before now are dead
	horizon int64 // tombstones whose deletion time is at or before it are purged
}

// sweepTime returns the sweep clock: now, and now minus the grace, or no
// horizon at all when tombstones are kept forever.
func (s *Store) sweepTime() sweepTime {
	now := s.now().UnixNano()
	st := sweepTime{now: now, horizon: math.MinInt64}
	if g := int64(s.opts.TombstoneGrace); g >= 0 && now > math.MinInt64+g {
		st.horizon = now - g
	}
	return st
}

// purgeable reports whether a tombstone that started its grace at del may go.
func (st sweepTime) purgeable(del int64) bool { return del <= st.horizon }

// recordWalk carries a walk across sweep commits: the record it is in and
// the tombstones it has seen unchanged in that record. Callers copy it
// into each commit's function and keep the copy only when the commit
// succeeds (a group commit may run the function twice, and a failed
// commit deleted nothing); after a failure they start over with a zero
// recordWalk. A recordWalk is never modified in place: its slices are
// replaced, not written, so a shallow copy is a snapshot.
type recordWalk struct {
	id    []byte // record the walk is in; nil: none
	whole bool   // the walk entered id at its first entry
	tombs tombs  // id's record and range tombstones, unchanged since then
	// cont: the walk has passed every entry of the tree before the
	// position it is resumed from (set after a step that returned one).
	cont bool
	// drops is Store.drops when the walk began; see sweepStep.
	drops uint64
}

// enter notes that the walk reached record id, whose tombstones are now t.
// entered says it reached id at its first entry, having passed every
// entry before; it matters only when id is new to the walk.
func (w *recordWalk) enter(id []byte, t tombs, entered bool) {
	if bytes.Equal(w.id, id) {
		w.tombs = intersectTombs(w.tombs, t)
		return
	}
	w.id, w.whole, w.tombs = id, entered, cloneTombs(t)
}

// sweepChange is one change a sweep step makes once its walk is over (the
// cursor must not see the tree change under it).
type sweepChange struct {
	key  []byte
	cell *cellData // nil: delete the entry
}

// sweepRange examines up to sweepBatch entries of the namespace tree from
// key `from` (up to `stop`, nil for the end) and makes the changes the
// file comment describes. It returns where to continue (nil when the
// range is done) and how many tombstones (including expired items) it
// purged.
func sweepRange(tx *btree.Tx, root uint32, from, stop []byte, st sweepTime, w *recordWalk) ([]byte, int, error) {
	var (
		changes []sweepChange
		curID   []byte // record whose tombstones t holds
		t       tombs
		next    []byte
		purged  int
	)
	c := tx.Cursor(root)
	n := 0
	for c.Seek(from); c.Valid(); c.Next() {
		k := c.Key()
		if stop != nil && bytes.Compare(k, stop) >= 0 {
			break
		}
		if n == sweepBatch {
			next = bytes.Clone(k)
			break
		}
		n++
		id, kind, suffix, ok := splitKey(k)
		if !ok {
			return nil, 0, errBadCell
		}
		if !bytes.Equal(id, curID) {
			if w.id != nil && !bytes.Equal(w.id, id) {
				// The walk has passed all of w.id.
				ch, err := finishRecord(tx, root, w, st)
				if err != nil {
					return nil, 0, err
				}
				changes, purged = append(changes, ch...), purged+len(ch)
			}
			// The first record of this step was entered at its start if
			// the walk had passed everything before `from`, or `from`
			// lies at or before the record's first possible key; later
			// ones were reached by walking into them.
			entered := curID != nil || w.cont || bytes.Compare(from, kindKey(string(id), kindRecordTomb)) <= 0
			curID = bytes.Clone(id)
			var err error
			if t, err = loadTombs(tx, root, string(curID)); err != nil {
				return nil, 0, err
			}
			w.enter(curID, t, entered)
		}
		if kind != kindItem {
			continue
		}
		v, err := c.Value()
		if err != nil {
			return nil, 0, err
		}
		cell, err := decodeCell(v)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case t.covers(suffix, cell.ts):
			changes = append(changes, sweepChange{key: bytes.Clone(k)})
		case cell.tombstone() || cell.expiry != 0 && cell.expiry <= st.now:
			if st.purgeable(cell.deletionTime()) {
				changes = append(changes, sweepChange{key: bytes.Clone(k)})
				purged++
			} else if !cell.tombstone() {
				// Expired: keep hiding older late writes until the grace
				// (counted from the expiry) has passed.
				changes = append(changes, sweepChange{key: bytes.Clone(k), cell: &cellData{flags: cellTombstone, ts: cell.ts, expiry: cell.expiry}})
			}
		}
	}
	if err := c.Err(); err != nil {
		return nil, 0, err
	}
	if next == nil {
		// The range is done, and with it the record the walk is in.
		ch, err := finishRecord(tx, root, w, st)
		if err != nil {
			return nil, 0, err
		}
		changes, purged = append(changes, ch...), purged+len(ch)
		*w = recordWalk{drops: w.drops}
	} else {
		w.cont = true
	}
	for _, ch := range changes {
		var err error
		if ch.cell == nil {
			_, err = tx.Delete(root, ch.key)
		} else {
			err = tx.Put(root, ch.key, encodeCell(ch.cell))
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return next, purged, nil
}

// finishRecord returns the deletes of w.id's record and range tombstones
// that the walk saw unchanged since it entered the record at its start and
// whose grace has passed. It re-reads the tombstones in tx, since the walk
// may have left the record in an earlier commit.
func finishRecord(tx *btree.Tx, root uint32, w *recordWalk, st sweepTime) ([]sweepChange, error) {
	if w.id == nil || !w.whole || (w.tombs.record == 0 && len(w.tombs.ranges) == 0) {
		return nil, nil
	}
	id := string(w.id)
	now, err := loadTombs(tx, root, id)
	if err != nil {
		return nil, err
	}
	t := intersectTombs(w.tombs, now)
	var out []sweepChange
	if t.record != 0 && st.purgeable(t.recordDel) {
		out = append(out, sweepChange{key: kindKey(id, kindRecordTomb)})
	}
	for i := range t.ranges {
		if r := &t.ranges[i]; st.purgeable(r.deletionTime()) {
			out = append(out, sweepChange{key: rangeTombKey(id, r.start, r.ts)})
		}
	}
	return out, nil
}

// intersectTombs returns the tombstones of a that b holds unchanged (same
// timestamp and deletion time; same bounds for a range). The result
// shares no slice with a that a caller could later modify: it is new.
func intersectTombs(a, b tombs) tombs {
	var out tombs
	if a.record != 0 && a.record == b.record && a.recordDel == b.recordDel {
		out.record, out.recordDel = a.record, a.recordDel
	}
	for _, r := range a.ranges {
		for _, q := range b.ranges {
			if sameRange(r, q) {
				out.ranges = append(out.ranges, r)
				break
			}
		}
	}
	return out
}

func sameRange(a, b rangeTomb) bool {
	same := func(x, y []byte) bool { return (x == nil) == (y == nil) && bytes.Equal(x, y) }
	return a.ts == b.ts && same(a.start, b.start) && same(a.end, b.end)
}

// cloneTombs copies t off the pages it was decoded from, so a walk may
// keep it across commits.
func cloneTombs(t tombs) tombs {
	out := tombs{record: t.record, recordDel: t.recordDel}
	for _, r := range t.ranges {
		// bytes.Clone keeps nil (unbounded) apart from empty (the empty key).
		out.ranges = append(out.ranges, rangeTomb{start: bytes.Clone(r.start), end: bytes.Clone(r.end), ts: r.ts})
	}
	return out
}
