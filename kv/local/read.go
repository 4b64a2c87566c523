package local

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// Read returns the live items of record id that match q, from one snapshot:
// concurrent commits are either wholly visible to it or not at all.
func (s *Store) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if err := kv.CheckNamespace(ns); err != nil {
		return kv.Result{}, err
	}
	if err := kv.CheckID(id); err != nil {
		return kv.Result{}, err
	}
	if err := kv.CheckQuery(q); err != nil {
		return kv.Result{}, err
	}
	if err := s.enter(); err != nil {
		return kv.Result{}, err
	}
	defer s.exit()
	if err := ctx.Err(); err != nil {
		return kv.Result{}, err
	}
	var (
		res      kv.Result
		after    []byte
		hasAfter bool
	)
	limit := q.Limit
	if limit == 0 {
		limit = s.opts.ReadLimit
	}
	err := s.view(func(tx *btree.Tx) error {
		tok := tokenKey(tx.Secret())
		if q.Cursor != nil {
			var err error
			if after, err = tok.open(q.Cursor, tokenRead, readBinding(ns, id, &q)); err != nil {
				return err
			}
			hasAfter = true
		}
		r, err := s.newReader(tx, ns, id)
		if err != nil {
			return err
		}
		budget := q.MaxBytes
		full := func() bool {
			return len(res.Items) >= limit || (q.MaxBytes > 0 && budget <= 0)
		}
		add := func(it kv.Item) {
			res.Items = append(res.Items, it)
			budget -= len(it.Key) + len(it.Value) + len(it.Metadata)
		}
		more := false
		if q.Keys != nil {
			more, err = r.keys(q.Keys, q.Reverse, after, hasAfter, full, add)
		} else {
			more, err = r.scan(q.Start, q.End, q.Reverse, after, hasAfter, full, add)
		}
		if err != nil {
			return err
		}
		if more {
			last := res.Items[len(res.Items)-1].Key
			res.Cursor = tok.seal(tokenRead, readBinding(ns, id, &q), last)
		}
		return nil
	})
	if err != nil {
		return kv.Result{}, err
	}
	return res, nil
}

// newReader returns a reader of record id of ns in tx, with the record's
// tombstones loaded and its cursor left at the record's first item.
// It returns the reader by value, so that a read's reader can stay on the
// stack.
func (s *Store) newReader(tx *btree.Tx, ns, id string) (reader, error) {
	root, err := nsRoot(tx, ns)
	if err != nil {
		return reader{}, err
	}
	r := reader{tx: tx, root: root, id: id, now: s.now().UnixNano(), cur: tx.Cursor(root)}
	if r.tombs, err = loadTombsAt(r.cur, id); err != nil {
		return reader{}, err
	}
	return r, nil
}

// reader reads the live items of one record in one transaction.
type reader struct {
	tx    *btree.Tx
	root  uint32
	id    string
	now   int64
	tombs tombs
	// cur is the one cursor every seek of the read uses: the tombstones
	// and items of a record are adjacent, so after loading the tombstones
	// a seek to an item mostly re-walks pages the cursor already holds.
	cur *btree.Cursor
}

// cursor returns the reader's cursor, creating it on first use.
func (r *reader) cursor() *btree.Cursor {
	if r.cur == nil {
		r.cur = r.tx.Cursor(r.root)
	}
	return r.cur
}

// visible reports whether cell c under item key is live: not an item
// tombstone, not expired, not hidden by a record or range tombstone.
func (r *reader) visible(key []byte, c *cellData) bool {
	return !c.tombstone() && (c.expiry == 0 || c.expiry > r.now) && !r.tombs.covers(key, c.ts)
}

// live decodes the cell under an item key and returns it as an Item if it
// is visible: not an item tombstone, not expired, not hidden by a record
// or range tombstone.
// owned says val is the caller's private copy (an overflow value), so the
// item may alias it instead of copying a large value again.
func (r *reader) live(key, val []byte, owned bool) (kv.Item, bool, error) {
	c, err := decodeCell(val)
	if err != nil {
		return kv.Item{}, false, err
	}
	if !r.visible(key, &c) {
		return kv.Item{}, false, nil
	}
	it := kv.Item{Value: c.value, Timestamp: c.ts}
	if owned {
		it.Key = append(make([]byte, 0, len(key)), key...)
	} else {
		// Never hand out an alias of a cached page. Key and value share
		// one allocation (half the allocations of a scan); the key's
		// capacity ends at its length, so appending to it cannot
		// overwrite the value.
		buf := make([]byte, len(key)+len(c.value))
		n := copy(buf, key)
		copy(buf[n:], c.value)
		it.Key, it.Value = buf[:n:n], buf[n:]
	}
	if it.Value == nil {
		it.Value = []byte{}
	}
	if len(c.meta) > 0 {
		it.Metadata = bytes.Clone(c.meta)
	}
	return it, true, nil
}

// scan walks [start, end) of the record in key order (or reverse), resuming
// after the cursor key, feeding live items to add until full. It reports
// whether another live item follows the last one added.
func (r *reader) scan(start, end []byte, reverse bool, after []byte, hasAfter bool,
	full func() bool, add func(kv.Item)) (bool, error) {
	prefix := kindKey(r.id, kindItem)
	lo := append(bytes.Clone(prefix), start...)
	hi := kindKey(r.id, kindPastEnd)
	if end != nil {
		hi = append(bytes.Clone(prefix), end...)
	}
	c := r.cursor()
	switch {
	case !reverse && hasAfter:
		// The smallest key after `after` is after+0x00.
		c.Seek(append(append(bytes.Clone(prefix), after...), 0))
	case !reverse:
		c.Seek(lo)
	case hasAfter:
		c.SeekLT(append(bytes.Clone(prefix), after...))
	default:
		c.SeekLT(hi)
	}
	for c.Valid() {
		k := c.Key()
		if !reverse && bytes.Compare(k, hi) >= 0 || reverse && bytes.Compare(k, lo) < 0 {
			break
		}
		v, err := c.Value()
		if err != nil {
			return false, err
		}
		if more, err := r.offer(k[len(prefix):], v, c.Owned(), full, add); more || err != nil {
			return more, err
		}
		if reverse {
			c.Prev()
		} else {
			c.Next()
		}
	}
	return false, c.Err()
}

// keys reads the listed keys in key order (or reverse), skipping
// duplicates and keys up to the cursor.
func (r *reader) keys(list [][]byte, reverse bool, after []byte, hasAfter bool,
	full func() bool, add func(kv.Item)) (bool, error) {
	sorted := slices.Clone(list)
	slices.SortFunc(sorted, bytes.Compare)
	sorted = slices.CompactFunc(sorted, bytes.Equal)
	if reverse {
		slices.Reverse(sorted)
	}
	for _, k := range sorted {
		if hasAfter && (!reverse && bytes.Compare(k, after) <= 0 || reverse && bytes.Compare(k, after) >= 0) {
			continue
		}
		ik := itemKey(r.id, k)
		c := r.cursor()
		c.Seek(ik)
		if err := c.Err(); err != nil {
			return false, err
		}
		if !c.Valid() || !bytes.Equal(c.Key(), ik) {
			continue
		}
		v, err := c.Value()
		if err != nil {
			return false, err
		}
		if more, err := r.offer(k, v, c.Owned(), full, add); more || err != nil {
			return more, err
		}
	}
	return false, nil
}

// offer adds the item under key if it is live and the page has room. It
// reports more = true when a live item did not fit: the page is done and
// a cursor is due.
func (r *reader) offer(key, val []byte, owned bool, full func() bool, add func(kv.Item)) (more bool, err error) {
	it, ok, err := r.live(key, val, owned)
	if err != nil || !ok {
		return false, err
	}
	if full() {
		return true, nil
	}
	add(it)
	return false, nil
}

// IDs lists the ids of ns that have at least one live item, in the order
// of their length-prefixed encoding (shorter ids first, then bytewise).
func (s *Store) IDs(ctx context.Context, ns string, cursor []byte, limit int) ([]string, []byte, error) {
	if err := kv.CheckNamespace(ns); err != nil {
		return nil, nil, err
	}
	if limit < 0 {
		return nil, nil, fmt.Errorf("%w: negative limit %d", kv.ErrInvalid, limit)
	}
	if err := s.enter(); err != nil {
		return nil, nil, err
	}
	defer s.exit()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if limit == 0 {
		limit = s.opts.ReadLimit
	}
	var ids []string
	var next []byte
	err := s.view(func(tx *btree.Tx) error {
		tok := tokenKey(tx.Secret())
		var from []byte
		if cursor != nil {
			last, err := tok.open(cursor, tokenIDs, []byte(ns))
			if err != nil {
				return err
			}
			from = kindKey(string(last), kindPastEnd)
		}
		root, err := nsRoot(tx, ns)
		if err != nil {
			return err
		}
		now := s.now().UnixNano()
		c := tx.Cursor(root)
		for c.Seek(from); c.Valid(); {
			raw, _, _, ok := splitKey(c.Key())
			if !ok {
				return errBadCell
			}
			id := string(raw)
			live, err := hasLive(tx, root, id, now)
			if err != nil {
				return err
			}
			if live {
				if len(ids) == limit {
					next = tok.seal(tokenIDs, []byte(ns), []byte(ids[len(ids)-1]))
					return nil
				}
				ids = append(ids, id)
			}
			c.Seek(kindKey(id, kindPastEnd))
		}
		return c.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	return ids, next, nil
}

// hasLive reports whether record id has at least one visible item.
func hasLive(tx *btree.Tx, root uint32, id string, now int64) (bool, error) {
	t, err := loadTombs(tx, root, id)
	if err != nil {
		return false, err
	}
	r := reader{tx: tx, root: root, id: id, now: now, tombs: t}
	found := false
	_, err = r.scan(nil, nil, false, nil, false, func() bool { return found }, func(kv.Item) { found = true })
	return found, err
}
