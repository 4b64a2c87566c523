package btree

import (
	"bytes"
	"fmt"
)

// CheckStats summarises a consistency check.
type CheckStats struct {
	Pages     uint32 // file size in pages
	Tree      int    // leaf and branch pages
	Overflow  int    // overflow pages
	Free      int    // pages on the free list, trunks included
	Keys      int    // entries over all trees
	MinFill   int    // smallest byte fill of a non-root node (-1: none)
	Depth     []int  // depth of each tree checked
	LowFilled int    // non-root leaves below a quarter page (the tree keeps this 0)
	// LowBranches counts non-root branches below a quarter page. Branch
	// splits move a whole key up, so with keys near MaxKeyLen a branch can
	// end up smaller; it still holds at least one key.
	LowBranches int
}

// Check verifies the invariants of the whole file as this transaction sees
// it, given the root of every tree in it (the catalog is included
// automatically): keys strictly ascending within and across pages and
// inside their parent's separator bounds; every leaf at the same depth;
// every page within a page's size; non-root leaves and branches non-empty;
// every page from 2 to the file's end owned exactly once, by a tree, an
// overflow chain or the free list, with the free list's count matching the
// meta page. It is the oracle of the randomized tests and of `Verify`.
func (tx *Tx) Check(roots []uint32) (CheckStats, error) {
	st := CheckStats{Pages: tx.meta.pageCount, MinFill: -1}
	owner := make([]string, tx.meta.pageCount+1)
	own := func(pg uint32, what string) error {
		if pg < 2 || pg > tx.meta.pageCount {
			return fmt.Errorf("%s references page %d outside [2, %d]", what, pg, tx.meta.pageCount)
		}
		if owner[pg] != "" {
			return fmt.Errorf("page %d owned twice: by %s and by %s", pg, owner[pg], what)
		}
		owner[pg] = what
		return nil
	}
	all := []uint32{tx.meta.catalog}
	for _, r := range roots {
		if r != tx.meta.catalog {
			all = append(all, r)
		}
	}
	for _, root := range all {
		depth := -1
		if err := tx.checkNode(root, root, nil, nil, 0, &depth, own, &st); err != nil {
			return st, err
		}
		st.Depth = append(st.Depth, depth+1)
	}
	// The free list: trunks and the pages they list.
	free := 0
	for pg, hops := tx.meta.freeHead, 0; pg != 0; hops++ {
		if hops > int(tx.meta.pageCount) {
			return st, fmt.Errorf("free list loops")
		}
		if err := own(pg, "free-list trunk"); err != nil {
			return st, err
		}
		t, err := tx.trunk(pg)
		if err != nil {
			return st, err
		}
		free++
		for _, p := range t.pages {
			if err := own(p, fmt.Sprintf("free list (trunk %d)", pg)); err != nil {
				return st, err
			}
			free++
		}
		pg = t.next
	}
	st.Free = free
	if uint32(free) != tx.meta.freeCount {
		return st, fmt.Errorf("free list holds %d pages, meta says %d", free, tx.meta.freeCount)
	}
	for pg := uint32(2); pg <= tx.meta.pageCount; pg++ {
		if owner[pg] == "" {
			return st, fmt.Errorf("page %d leaked: not in any tree, overflow chain or the free list", pg)
		}
	}
	return st, nil
}

func (tx *Tx) checkNode(pg, root uint32, lo, hi []byte, depth int, leafDepth *int,
	own func(uint32, string) error, st *CheckStats) error {
	if depth > 64 {
		return fmt.Errorf("tree %d deeper than 64 levels", root)
	}
	if err := own(pg, fmt.Sprintf("tree %d", root)); err != nil {
		return err
	}
	n, err := tx.node(pg)
	if err != nil {
		return err
	}
	n = n.unpacked()
	st.Tree++
	if n.size > tx.ps {
		return fmt.Errorf("page %d holds %d bytes, page size %d", pg, n.size, tx.ps)
	}
	size := headerSize
	for i := range n.cells {
		size += cellSize(n.typ, &n.cells[i])
	}
	if size != n.size {
		return fmt.Errorf("page %d: size %d, cells add up to %d", pg, n.size, size)
	}
	if len(n.cells) == 0 && (pg != root || !n.leaf()) {
		return fmt.Errorf("page %d: empty node (only a root leaf may be empty)", pg)
	}
	if pg != root {
		if st.MinFill < 0 || n.size < st.MinFill {
			st.MinFill = n.size
		}
		if n.size < tx.minFill() {
			if n.leaf() {
				st.LowFilled++
			} else {
				st.LowBranches++
			}
		}
	}
	for i := range n.cells {
		k := n.cells[i].key
		if i > 0 && bytes.Compare(n.cells[i-1].key, k) >= 0 {
			return fmt.Errorf("page %d: keys %d and %d out of order", pg, i-1, i)
		}
		if lo != nil && bytes.Compare(k, lo) < 0 {
			return fmt.Errorf("page %d: key %q below its lower bound %q", pg, k, lo)
		}
		if hi != nil && bytes.Compare(k, hi) >= 0 {
			return fmt.Errorf("page %d: key %q not below its upper bound %q", pg, k, hi)
		}
	}
	if n.leaf() {
		if *leafDepth == -1 {
			*leafDepth = depth
		} else if *leafDepth != depth {
			return fmt.Errorf("tree %d: leaf %d at depth %d, others at %d", root, pg, depth, *leafDepth)
		}
		st.Keys += len(n.cells)
		for i := range n.cells {
			c := &n.cells[i]
			if c.ovf == 0 {
				if int(c.vlen) != len(c.val) {
					return fmt.Errorf("page %d cell %d: vlen %d, value %d bytes", pg, i, c.vlen, len(c.val))
				}
				continue
			}
			if leafCellFixed+len(c.key)+int(c.vlen) <= maxInlineCell(tx.ps) {
				return fmt.Errorf("page %d cell %d: %d-byte value in overflow, should be inline", pg, i, c.vlen)
			}
			pages, err := tx.overflowPages(c.ovf, c.vlen)
			if err != nil {
				return err
			}
			for _, op := range pages {
				if err := own(op, fmt.Sprintf("overflow of page %d cell %d", pg, i)); err != nil {
					return err
				}
				st.Overflow++
			}
			if _, err := tx.readOverflow(c.ovf, c.vlen); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i <= len(n.cells); i++ {
		clo, chi := lo, hi
		if i > 0 {
			clo = n.cells[i-1].key
		}
		if i < len(n.cells) {
			chi = n.cells[i].key
		}
		if err := tx.checkNode(n.child(i), root, clo, chi, depth+1, leafDepth, own, st); err != nil {
			return err
		}
	}
	return nil
}
