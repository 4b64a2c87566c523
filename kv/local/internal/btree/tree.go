package btree

import (
	"bytes"
	"fmt"
	"sort"
)

// A tree is identified by its root page, which never moves: a root split
// moves the root's content into new children, and a root left with one child
// takes that child's content back. So the catalog records a root once.

// pathElem is one step of a descent: the page and, for branches, which
// child was followed.
type pathElem struct {
	pg  uint32
	idx int
}

// search returns the index of the first cell whose key is >= key, and
// whether it is equal.
func (n *node) search(key []byte) (int, bool) {
	i := sort.Search(len(n.cells), func(i int) bool { return bytes.Compare(n.cells[i].key, key) >= 0 })
	return i, i < len(n.cells) && bytes.Equal(n.cells[i].key, key)
}

// childIndex returns which child of branch n may hold key: the number of
// separators <= key.
func (n *node) childIndex(key []byte) int {
	return sort.Search(n.count(), func(i int) bool { return bytes.Compare(n.keyAt(i), key) > 0 })
}

// descend walks from root to the leaf that may hold key.
func (tx *Tx) descend(root uint32, key []byte) ([]pathElem, *node, error) {
	path := make([]pathElem, 0, 8)
	pg := root
	for depth := 0; ; depth++ {
		if depth > 64 {
			return nil, nil, corrupt(root, "tree deeper than 64 levels (cycle?)")
		}
		n, err := tx.node(pg)
		if err != nil {
			return nil, nil, err
		}
		if n.leaf() {
			path = append(path, pathElem{pg: pg})
			return path, n, nil
		}
		i := n.childIndex(key)
		path = append(path, pathElem{pg: pg, idx: i})
		pg = n.child(i)
	}
}

// Get returns the value stored under key. The slice must not be modified.
func (tx *Tx) Get(root uint32, key []byte) ([]byte, bool, error) {
	v, _, ok, err := tx.Lookup(root, key)
	return v, ok, err
}

// Lookup is Get that also reports whether the value is a fresh copy the
// caller owns (a value from an overflow chain) rather than an alias of a
// shared page.
func (tx *Tx) Lookup(root uint32, key []byte) (v []byte, owned, ok bool, err error) {
	_, n, err := tx.descend(root, key)
	if err != nil {
		return nil, false, false, err
	}
	i, found := n.search(key)
	if !found {
		return nil, false, false, nil
	}
	c := &n.cells[i]
	v, err = tx.value(c)
	return v, c.ovf != 0, err == nil, err
}

func (tx *Tx) value(c *cell) ([]byte, error) {
	if c.ovf == 0 {
		return c.val, nil
	}
	return tx.readOverflow(c.ovf, c.vlen)
}

// MaxValueLen is the longest value a tree stores.
const MaxValueLen = 1<<32 - 1

// Put stores key → val, replacing any previous value.
func (tx *Tx) Put(root uint32, key, val []byte) error {
	return tx.Update(root, key, func([]byte, bool) ([]byte, bool, error) { return val, true, nil })
}

// Update looks key up and calls decide with its current value (nil, false
// when absent); if decide returns write = true, key is set to the value it
// returns. One descent serves both the read and the write. The old value
// must not be retained or modified.
func (tx *Tx) Update(root uint32, key []byte, decide func(old []byte, exists bool) (val []byte, write bool, err error)) error {
	return tx.UpdateParts(root, key, func(old []byte, exists bool) ([]byte, []byte, bool, error) {
		val, write, err := decide(old, exists)
		return val, nil, write, err
	})
}

// UpdateParts is Update for a value given in two parts, head then body,
// stored as their concatenation. A caller that frames a large value with
// a header of its own passes both as they are: the value goes into its
// overflow pages from where it lies, without first being copied whole
// into one buffer.
func (tx *Tx) UpdateParts(root uint32, key []byte, decide func(old []byte, exists bool) (head, body []byte, write bool, err error)) error {
	if tx.w == nil {
		return ErrReadOnly
	}
	if len(key) > MaxKeyLen(tx.ps) {
		return fmt.Errorf("edgekit/kv/local: key of %d bytes exceeds %d", len(key), MaxKeyLen(tx.ps))
	}
	path, n, err := tx.descend(root, key)
	if err != nil {
		return err
	}
	i, found := n.search(key)
	var old []byte
	if found {
		if old, err = tx.value(&n.cells[i]); err != nil {
			return err
		}
	}
	head, body, write, err := decide(old, found)
	if err != nil || !write {
		return err
	}
	vlen := int64(len(head)) + int64(len(body))
	if vlen > MaxValueLen {
		return fmt.Errorf("edgekit/kv/local: value of %d bytes exceeds %d", vlen, int64(MaxValueLen))
	}
	leaf, err := tx.writable(path[len(path)-1].pg)
	if err != nil {
		return err
	}
	c := cell{vlen: uint32(vlen)}
	if leafCellFixed+len(key)+int(vlen) <= maxInlineCell(tx.ps) {
		// Key and value share one allocation; the key's capacity ends at
		// its length, so appending to it cannot run into the value.
		kv := make([]byte, len(key)+int(vlen))
		k := copy(kv, key)
		copy(kv[k+copy(kv[k:], head):], body)
		c.key, c.val = kv[:k:k], kv[k:]
	} else {
		c.key = append(make([]byte, 0, len(key)), key...)
		if c.ovf, err = tx.writeOverflow(head, body); err != nil {
			return err
		}
	}
	if found {
		old := &leaf.cells[i]
		if old.ovf != 0 {
			if err := tx.freeOverflow(old.ovf, old.vlen); err != nil {
				return err
			}
		}
		leaf.size += cellSize(typeLeaf, &c) - cellSize(typeLeaf, old)
		leaf.cells[i] = c
	} else {
		leaf.cells = append(leaf.cells, cell{})
		copy(leaf.cells[i+1:], leaf.cells[i:])
		leaf.cells[i] = c
		leaf.size += cellSize(typeLeaf, &c)
	}
	return tx.fixup(path)
}

// Delete removes key and reports whether it was present.
func (tx *Tx) Delete(root uint32, key []byte) (bool, error) {
	if tx.w == nil {
		return false, ErrReadOnly
	}
	path, n, err := tx.descend(root, key)
	if err != nil {
		return false, err
	}
	if _, ok := n.search(key); !ok {
		return false, nil
	}
	leaf, err := tx.writable(path[len(path)-1].pg)
	if err != nil {
		return false, err
	}
	i, _ := leaf.search(key)
	old := leaf.cells[i]
	if old.ovf != 0 {
		if err := tx.freeOverflow(old.ovf, old.vlen); err != nil {
			return false, err
		}
	}
	leaf.size -= cellSize(typeLeaf, &old)
	leaf.cells = append(leaf.cells[:i], leaf.cells[i+1:]...)
	return true, tx.fixup(path)
}

// minFill is the size under which a non-root node is merged with or
// refilled from a sibling.
func (tx *Tx) minFill() int { return capacity(tx.ps) / 4 }

// fixup restores the size invariants bottom-up along path after the leaf at
// its end changed: a node over a page is split into its parent, a non-root
// node under minFill merges with or borrows from a sibling, and a root left
// with a single child absorbs it. It stops at the first level that needs
// nothing, since the levels above did not change.
func (tx *Tx) fixup(path []pathElem) error {
	for lvl := len(path) - 1; lvl >= 0; lvl-- {
		pg := path[lvl].pg
		n := tx.dirty[pg]
		if n == nil {
			return nil
		}
		if lvl == 0 {
			return tx.fixRoot(pg, n)
		}
		parentPg := path[lvl-1].pg
		ci := path[lvl-1].idx
		switch {
		case n.size > tx.ps:
			parts, seps := tx.split(n)
			parent, err := tx.writable(parentPg)
			if err != nil {
				return err
			}
			tx.dirty[pg] = parts[0]
			for j := 1; j < len(parts); j++ {
				npg, err := tx.alloc()
				if err != nil {
					return err
				}
				tx.dirty[npg] = parts[j]
				parent.insertSep(ci+j-1, seps[j-1], npg)
			}
		case n.size < tx.minFill():
			if err := tx.rebalance(parentPg, ci); err != nil {
				return err
			}
		default:
			return nil
		}
	}
	return nil
}

// insertSep inserts separator key with child pg at separator index i (the
// child lands at child index i+1).
func (n *node) insertSep(i int, key []byte, pg uint32) {
	n.cells = append(n.cells, cell{})
	copy(n.cells[i+1:], n.cells[i:])
	n.cells[i] = cell{key: key, child: pg}
	n.size += branchCellSize + len(key)
}

// fixRoot splits an oversized root into new children, or pulls the single
// child of an empty branch root up into the root page.
func (tx *Tx) fixRoot(pg uint32, n *node) error {
	if n.size > tx.ps {
		parts, seps := tx.split(n)
		root := &node{typ: typeBranch, size: headerSize}
		for j, p := range parts {
			npg, err := tx.alloc()
			if err != nil {
				return err
			}
			tx.dirty[npg] = p
			if j == 0 {
				root.child0 = npg
			} else {
				root.insertSep(j-1, seps[j-1], npg)
			}
		}
		tx.dirty[pg] = root
		return nil
	}
	for !n.leaf() && len(n.cells) == 0 {
		child := n.child0
		c, err := tx.node(child)
		if err != nil {
			return err
		}
		n = c.clone()
		tx.dirty[pg] = n
		if err := tx.free(child); err != nil {
			return err
		}
	}
	return nil
}

// split cuts an oversized node into pieces that each fit a page, and
// returns the pieces with the separators between them. Leaves cut at the
// byte midpoint (every cell is at most half a page, so both halves fit and
// each holds at least a quarter page); the separator is the shortest key
// that divides them. Branches push their middle key up.
func (tx *Tx) split(n *node) ([]*node, [][]byte) {
	if n.size <= tx.ps {
		return []*node{n}, nil
	}
	var left, right *node
	var sep []byte
	if n.leaf() {
		s := bestCut(n, 0)
		left = &node{typ: typeLeaf, cells: append([]cell(nil), n.cells[:s]...)}
		right = &node{typ: typeLeaf, cells: append([]cell(nil), n.cells[s:]...)}
		sep = separator(n.cells[s-1].key, n.cells[s].key)
	} else {
		s := bestCut(n, 1)
		left = &node{typ: typeBranch, child0: n.child0, cells: append([]cell(nil), n.cells[:s]...)}
		right = &node{typ: typeBranch, child0: n.cells[s].child, cells: append([]cell(nil), n.cells[s+1:]...)}
		sep = n.cells[s].key
	}
	left.recount()
	right.recount()
	lp, ls := tx.split(left)
	rp, rs := tx.split(right)
	seps := append(append(ls, sep), rs...)
	return append(lp, rp...), seps
}

// bestCut picks the cut index that minimises the larger side. For leaves
// (skip 0) the cut is between cells s-1 and s, s in [1, n-1]; for branches
// (skip 1) cell s moves up, s in [1, n-2] so that each side keeps a key.
func bestCut(n *node, skip int) int {
	total := n.size - headerSize
	best, bestMax := 1, int(^uint(0)>>1)
	acc := 0
	for s := 0; s < len(n.cells); s++ {
		cs := cellSize(n.typ, &n.cells[s])
		if s >= 1 && s <= len(n.cells)-1-skip {
			rightSize := total - acc - skip*cs
			if m := max(acc, rightSize); m < bestMax {
				best, bestMax = s, m
			}
		}
		acc += cs
	}
	return best
}

// separator returns the shortest key k with a < k <= b (a prefix of b), so
// branches hold short keys and fan out wider.
func separator(a, b []byte) []byte {
	for i := 0; i < len(b); i++ {
		if i >= len(a) || a[i] != b[i] {
			return bytes.Clone(b[:i+1])
		}
	}
	return bytes.Clone(b)
}

// rebalance fixes the under-filled child ci of parentPg by merging it with
// a neighbour when both fit one page, or else sharing their cells evenly.
func (tx *Tx) rebalance(parentPg uint32, ci int) error {
	parent, err := tx.writable(parentPg)
	if err != nil {
		return err
	}
	li := ci // the pair is children li and li+1; separator li between them
	if ci == len(parent.cells) {
		li = ci - 1
	}
	if li < 0 {
		return nil // a lone child: its parent is an empty root, fixed above
	}
	lpg, rpg := parent.child(li), parent.child(li+1)
	left, err := tx.writable(lpg)
	if err != nil {
		return err
	}
	right, err := tx.writable(rpg)
	if err != nil {
		return err
	}
	sep := parent.cells[li].key
	merged := &node{typ: left.typ, child0: left.child0}
	merged.cells = append(make([]cell, 0, len(left.cells)+len(right.cells)+1), left.cells...)
	if !left.leaf() {
		merged.cells = append(merged.cells, cell{key: sep, child: right.child0})
	}
	merged.cells = append(merged.cells, right.cells...)
	merged.recount()
	if merged.size <= tx.ps {
		tx.dirty[lpg] = merged
		if err := tx.free(rpg); err != nil {
			return err
		}
		parent.size -= branchCellSize + len(sep)
		parent.cells = append(parent.cells[:li], parent.cells[li+1:]...)
		return nil
	}
	// Too big for one page: cut the combined cells at their midpoint.
	var l, r *node
	var nsep []byte
	if merged.leaf() {
		s := bestCut(merged, 0)
		l = &node{typ: typeLeaf, cells: merged.cells[:s:s]}
		r = &node{typ: typeLeaf, cells: append([]cell(nil), merged.cells[s:]...)}
		nsep = separator(merged.cells[s-1].key, merged.cells[s].key)
	} else {
		s := bestCut(merged, 1)
		l = &node{typ: typeBranch, child0: merged.child0, cells: merged.cells[:s:s]}
		r = &node{typ: typeBranch, child0: merged.cells[s].child, cells: append([]cell(nil), merged.cells[s+1:]...)}
		nsep = merged.cells[s].key
	}
	l.recount()
	r.recount()
	tx.dirty[lpg], tx.dirty[rpg] = l, r
	parent.size += len(nsep) - len(sep)
	parent.cells[li].key = nsep
	return nil
}

// Create allocates an empty tree and returns its root page.
func (tx *Tx) Create() (uint32, error) {
	if tx.w == nil {
		return 0, ErrReadOnly
	}
	pg, err := tx.alloc()
	if err != nil {
		return 0, err
	}
	tx.dirty[pg] = &node{typ: typeLeaf, size: headerSize}
	return pg, nil
}

// Drop frees every page of the tree rooted at root, root included.
func (tx *Tx) Drop(root uint32) error {
	if tx.w == nil {
		return ErrReadOnly
	}
	return tx.dropPage(root, 0)
}

func (tx *Tx) dropPage(pg uint32, depth int) error {
	if depth > 64 {
		return corrupt(pg, "tree deeper than 64 levels (cycle?)")
	}
	n, err := tx.node(pg)
	if err != nil {
		return err
	}
	if n.leaf() {
		for i := range n.cells {
			if c := &n.cells[i]; c.ovf != 0 {
				if err := tx.freeOverflow(c.ovf, c.vlen); err != nil {
					return err
				}
			}
		}
	} else {
		for i := 0; i <= n.count(); i++ {
			if err := tx.dropPage(n.child(i), depth+1); err != nil {
				return err
			}
		}
	}
	return tx.free(pg)
}
