package btree

import "testing"

// TestCacheKeepsBranches churns a small cache with leaves that are never
// read again while one branch is read every 12th fill (about one and a half turns of the hand): the branch must stay
// (it gets more CLOCK chances than a leaf) and the cache must stay within
// its budget.
func TestCacheKeepsBranches(t *testing.T) {
	const ps = 4096
	c := NewCache(8*ps, 1)
	branch := &node{typ: typeBranch, child0: 3, size: headerSize}
	c.fill(2, 1, branch, ps)
	for pg := uint32(10); pg < 200; pg++ {
		c.fill(pg, 1, &node{typ: typeLeaf, size: headerSize}, ps)
		if pg%12 == 0 && c.get(2, 1) == nil {
			t.Fatalf("after filling leaf %d: branch page evicted", pg)
		}
		if st := c.Stats(); st.Bytes > st.Limit {
			t.Fatalf("after filling leaf %d: cache holds %d bytes, limit %d", pg, st.Bytes, st.Limit)
		}
	}
	// A leaf read just as often is not protected the same way: plain CLOCK.
	leaf := &node{typ: typeLeaf, size: headerSize}
	c.fill(3, 1, leaf, ps)
	evicted := false
	for pg := uint32(200); pg < 400; pg++ {
		c.fill(pg, 1, &node{typ: typeLeaf, size: headerSize}, ps)
		if pg%12 == 0 && c.get(3, 1) == nil {
			evicted = true
			break
		}
	}
	if !evicted {
		t.Fatalf("a leaf read every 12th fill was never evicted: got kept, want evicted under CLOCK")
	}
}
