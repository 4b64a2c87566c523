package cassandra

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"

	"github.com/edgekit/edgekit/kv"
)

// Read returns the live items of record id that match q, one call's worth.
//
// Paging uses the driver's paging state: a call runs the statement with a
// page size of (what is left of) Limit, continues with the paging state
// while the byte budget is not met, and returns the paging state of the
// next page inside the cursor. When Limit or MaxBytes stops a call in the
// middle of a driver page, the cursor holds the last key instead and the
// next call resumes after it with a bounded statement. Either way an item
// that exists for the whole scan is returned exactly once.
//
// With MaxBytes set, the rows asked of Cassandra per round trip follow a
// running estimate of the namespace's item size (Netflix's adaptive
// pagination), so small budgets do not fetch pages that are then dropped.
func (s *Store) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if err := s.enter(); err != nil {
		return kv.Result{}, err
	}
	defer s.mu.RUnlock()
	if err := kv.CheckNamespace(ns); err != nil {
		return kv.Result{}, err
	}
	if err := kv.CheckID(id); err != nil {
		return kv.Result{}, err
	}
	if err := kv.CheckQuery(q); err != nil {
		return kv.Result{}, err
	}
	var keys [][]byte
	if q.Keys != nil {
		keys = scanOrder(q.Keys, q.Reverse)
	}
	// The query identity is built only when a cursor is read or issued.
	var qid []byte
	identity := func() []byte {
		if qid == nil {
			qid = readIdentity(ns, id, q, keys)
		}
		return qid
	}
	var pos readPos
	if q.Cursor != nil {
		var err error
		if pos, err = s.openRead(identity(), q.Cursor); err != nil {
			return kv.Result{}, err
		}
	}
	t := s.table(ns)
	stmt, args := t.readStatement(id, q, keys, pos)
	if stmt == "" {
		return kv.Result{}, nil // nothing left to select
	}
	limit := q.Limit
	if limit == 0 {
		limit = s.set.pageSize
	}

	var res kv.Result
	total := 0 // key+value+metadata bytes returned so far
	state := pos.state
	for {
		// Rows per round trip: what is left of the limit, at most
		// maxFetch (larger pages only hold more memory on both sides).
		fetch := min(limit-len(res.Items), maxFetch)
		if q.MaxBytes > 0 {
			avg := max(1, t.avgItem.Load())
			want := (int64(q.MaxBytes-total) + avg - 1) / avg
			fetch = int(min(int64(fetch), max(1, want)))
		}
		iter := s.query(t, stmt, args...).PageSize(fetch).PageState(state).IterContext(ctx)
		next := slices.Clone(iter.PageState()) // paging state after this page
		rows, full := 0, false
		var it kv.Item
		for iter.Scan(&it.Key, &it.Value, &it.Metadata, &it.Timestamp) {
			rows++
			if len(it.Metadata) == 0 {
				it.Metadata = nil
			}
			res.Items = append(res.Items, it)
			it = kv.Item{}
			total += itemSize(&res.Items[len(res.Items)-1])
			if len(res.Items) >= limit || (q.MaxBytes > 0 && total >= q.MaxBytes) {
				full = true
				break
			}
		}
		pageRows := iter.NumRows()
		if err := iter.Close(); err != nil {
			return kv.Result{}, mapErr("read", ns, err)
		}
		if full && rows < pageRows {
			// Stopped inside a driver page: resume after the last key,
			// with a fresh statement bounded by it.
			last := res.Items[len(res.Items)-1].Key
			res.Cursor = s.sealRead(identity(), readPos{hasLast: true, last: last})
			break
		}
		if len(next) == 0 {
			break // the statement is exhausted
		}
		if full {
			// Stopped at a page boundary: the driver's paging state (of
			// the statement this cursor's bound built) resumes it.
			res.Cursor = s.sealRead(identity(), readPos{hasLast: pos.hasLast, last: pos.last, state: next})
			break
		}
		state = next
	}
	if n := len(res.Items); n > 0 {
		// Exponential moving average, weight 1/4 for this call.
		obs := int64(total / n)
		t.avgItem.Store((3*t.avgItem.Load() + obs + 3) / 4)
	}
	return res, nil
}

// maxFetch caps the rows of one driver page; a Read with a larger Limit
// takes several round trips. maxIDs caps an IDs call (CQL LIMIT is 32-bit).
const (
	maxFetch = 10000
	maxIDs   = 1 << 20
)

func itemSize(it *kv.Item) int { return len(it.Key) + len(it.Value) + len(it.Metadata) }

// readStatement builds the statement that resumes q at pos, or "" when
// nothing can match. keys is q.Keys in scan order (nil for a range query).
func (t *table) readStatement(id string, q kv.Query, keys [][]byte, pos readPos) (string, []any) {
	rev := 0
	if q.Reverse {
		rev = 1
	}
	if q.Keys != nil {
		if pos.hasLast {
			// Keep only the keys beyond the last one returned.
			i, found := slices.BinarySearchFunc(keys, pos.last, func(k, last []byte) int {
				if q.Reverse {
					return bytes.Compare(last, k)
				}
				return bytes.Compare(k, last)
			})
			if found {
				i++
			}
			keys = keys[i:]
		}
		switch len(keys) {
		case 0:
			return "", nil
		case 1:
			// A point read: key = ? is cheaper to plan than IN.
			return t.selectKey, []any{id, keys[0]}
		}
		return t.selectKeys[rev], []any{id, keys}
	}

	// The range [lo, hi) in key order, with lo exclusive after a cursor's
	// last key when scanning up, and hi = the last key when scanning down.
	lower, lo := lowerNone, q.Start
	if len(lo) > 0 {
		lower = lowerIncl // an empty Start is the smallest key: no bound
	}
	hi := q.End
	if pos.hasLast {
		if q.Reverse {
			hi = pos.last
		} else {
			lower, lo = lowerExcl, pos.last
		}
	}
	if hi != nil && (len(hi) == 0 || (lower != lowerNone && bytes.Compare(lo, hi) >= 0)) {
		return "", nil
	}
	args := []any{id}
	if lower != lowerNone {
		args = append(args, lo)
	}
	upper := 0
	if hi != nil {
		upper = 1
		args = append(args, hi)
	}
	return t.selectRange[lower][upper][rev], args
}

// scanOrder returns the distinct keys of ks sorted in scan order, with nil
// keys as the empty key (a nil blob would bind as null).
func scanOrder(ks [][]byte, reverse bool) [][]byte {
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = keyArg(k)
	}
	slices.SortFunc(out, bytes.Compare)
	out = slices.CompactFunc(out, bytes.Equal)
	if reverse {
		slices.Reverse(out)
	}
	return out
}

// readIdentity encodes what a Read cursor is bound to: namespace, record
// id, direction, and the key list (as a set) or range. Limit and MaxBytes
// are not part of it; they may change from page to page.
func readIdentity(ns, id string, q kv.Query, keys [][]byte) []byte {
	b := []byte("read")
	b = appendField(b, []byte(ns))
	b = appendField(b, []byte(id))
	if q.Reverse {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	if q.Keys != nil {
		b = append(b, 'K')
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = appendField(b, k)
		}
		return b
	}
	b = append(b, 'R')
	b = appendField(b, q.Start) // nil and empty select the same range
	if q.End == nil {
		return append(b, 0)
	}
	return appendField(append(b, 1), q.End)
}

func appendField(b, f []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(f)))
	return append(b, f...)
}
