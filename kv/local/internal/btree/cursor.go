package btree

// Cursor walks one tree in key order. It holds the nodes on its path, so it
// must not be used after the tree is changed by the same transaction (the
// store collects what it needs first, then writes). Not safe for concurrent
// use.
type Cursor struct {
	tx    *Tx
	root  uint32
	stack []cursorFrame
	err   error
}

type cursorFrame struct {
	pg  uint32
	n   *node
	idx int
}

// Cursor returns an unpositioned cursor over the tree rooted at root.
func (tx *Tx) Cursor(root uint32) *Cursor {
	// Room for a path of 4 levels (100,000 small items) up front: growing
	// the stack one level at a time cost three allocations per descent.
	return &Cursor{tx: tx, root: root, stack: make([]cursorFrame, 0, 4)}
}

// Err returns the first error the cursor met; Valid is false after one.
func (c *Cursor) Err() error { return c.err }

// Valid reports whether the cursor is on an entry.
func (c *Cursor) Valid() bool {
	if c.err != nil || len(c.stack) == 0 {
		return false
	}
	f := c.stack[len(c.stack)-1]
	return f.idx >= 0 && f.idx < f.n.count()
}

func (c *Cursor) cur() *cell {
	f := c.stack[len(c.stack)-1]
	return &f.n.cells[f.idx]
}

// Key returns the current key; it must not be modified and stays valid for
// the life of the transaction.
func (c *Cursor) Key() []byte { return c.cur().key }

// Value returns the current value, reading its overflow chain if it has one.
// An inline value aliases the page and must not be modified; see Owned.
func (c *Cursor) Value() ([]byte, error) { return c.tx.value(c.cur()) }

// ReadValue reads the current value into the buffer place chooses (see
// Placer), reading an overflow chain's pages straight into it. It writes
// nothing but that buffer; after an error the buffer's contents are
// undefined.
func (c *Cursor) ReadValue(place Placer) error { return c.tx.readValue(c.cur(), place) }

// Owned reports whether Value returns a fresh copy the caller may keep and
// modify (true for values in overflow chains).
func (c *Cursor) Owned() bool { return c.cur().ovf != 0 }

// ValueLen returns the current value's length without reading it.
func (c *Cursor) ValueLen() int { return int(c.cur().vlen) }

func (c *Cursor) push(pg uint32) (*node, bool) {
	if len(c.stack) > 64 {
		c.err = corrupt(pg, "tree deeper than 64 levels (cycle?)")
		return nil, false
	}
	n, err := c.tx.node(pg)
	if err != nil {
		c.err = err
		return nil, false
	}
	c.stack = append(c.stack, cursorFrame{pg: pg, n: n})
	return n, true
}

// Seek moves to the first key >= key. In a read transaction it reuses the
// nodes of the cursor's previous path where the new path runs through the
// same pages (a read transaction's pages never change), so a second seek
// into the same record costs binary searches only: no cache lookups and,
// with a small cache, no page reads. A writer's pages may have changed
// since the last seek, so a writer's cursor always descends afresh.
func (c *Cursor) Seek(key []byte) {
	old := c.stack // frames of the previous path, overwritten level by level
	if c.tx.w != nil {
		old = nil
	}
	c.stack = c.stack[:0]
	pg := c.root
	for depth := 0; ; depth++ {
		var n *node
		if depth < len(old) && old[depth].pg == pg {
			// Same backing array: frame depth is read before it is rewritten.
			n = old[depth].n
			c.stack = append(c.stack, cursorFrame{pg: pg, n: n})
		} else {
			old = nil // below a changed page nothing of the old path applies
			var ok bool
			if n, ok = c.push(pg); !ok {
				return
			}
		}
		if n.leaf() {
			i, _ := n.search(key)
			c.stack[len(c.stack)-1].idx = i
			if i == n.count() {
				c.Next()
			}
			return
		}
		i := n.childIndex(key)
		c.stack[len(c.stack)-1].idx = i
		pg = n.child(i)
	}
}

// First moves to the smallest key.
func (c *Cursor) First() { c.stack = c.stack[:0]; c.edge(c.root, false) }

// Last moves to the largest key.
func (c *Cursor) Last() { c.stack = c.stack[:0]; c.edge(c.root, true) }

// edge descends from pg to its first (or last) entry, skipping empty leaves.
func (c *Cursor) edge(pg uint32, last bool) {
	for {
		n, ok := c.push(pg)
		if !ok {
			return
		}
		f := &c.stack[len(c.stack)-1]
		if n.leaf() {
			if last {
				f.idx = n.count() - 1
			}
			if n.count() == 0 {
				if last {
					c.Prev()
				} else {
					c.Next()
				}
			}
			return
		}
		if last {
			f.idx = n.count()
		}
		pg = n.child(f.idx)
	}
}

// SeekLT moves to the largest key < key (nil key: the largest key).
func (c *Cursor) SeekLT(key []byte) {
	if key == nil {
		c.Last()
		return
	}
	c.Seek(key)
	if c.err != nil {
		return
	}
	if c.Valid() {
		c.Prev()
	} else {
		c.Last()
	}
}

// Next moves to the following key.
func (c *Cursor) Next() {
	if c.err != nil || len(c.stack) == 0 {
		return
	}
	leaf := &c.stack[len(c.stack)-1]
	if leaf.idx+1 < leaf.n.count() {
		leaf.idx++
		return
	}
	// Climb to the nearest branch with a child to the right, then take the
	// leftmost path below it.
	for len(c.stack) > 1 {
		c.stack = c.stack[:len(c.stack)-1]
		f := &c.stack[len(c.stack)-1]
		if f.idx < f.n.count() {
			f.idx++
			c.edge(f.n.child(f.idx), false)
			return
		}
	}
	c.stack = c.stack[:0] // past the end: not valid
}

// Prev moves to the preceding key.
func (c *Cursor) Prev() {
	if c.err != nil || len(c.stack) == 0 {
		return
	}
	leaf := &c.stack[len(c.stack)-1]
	if leaf.idx > 0 && leaf.idx <= leaf.n.count() {
		leaf.idx--
		return
	}
	for len(c.stack) > 1 {
		c.stack = c.stack[:len(c.stack)-1]
		f := &c.stack[len(c.stack)-1]
		if f.idx > 0 {
			f.idx--
			c.edge(f.n.child(f.idx), true)
			return
		}
	}
	c.stack = c.stack[:0]
}
