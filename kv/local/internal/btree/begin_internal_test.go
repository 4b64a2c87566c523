package btree

import (
	"fmt"
	"testing"
)

// TestBeginWriteAt: a writer begun on the previous writer's Meta sees the
// same file as one that reads page 1, and a stale Meta (not the cache's
// latest commit) is not trusted.
func TestBeginWriteAt(t *testing.T) {
	f := newOvfFixture(t)
	var metas []*Meta
	for i := range 5 {
		w := f.p.write()
		var tx *Tx
		var err error
		if len(metas) == 0 {
			tx, err = Begin(w, w, f.cache, ovfPS)
		} else {
			tx, err = BeginWriteAt(w, f.cache, ovfPS, metas[len(metas)-1])
		}
		if err != nil {
			t.Fatal(err)
		}
		ref, err := Begin(w, w, f.cache, ovfPS)
		if err != nil {
			t.Fatal(err)
		}
		if tx.meta != ref.meta {
			t.Fatalf("commit %d: BeginWriteAt meta %+v, Begin (page 1) %+v", i, tx.meta, ref.meta)
		}
		// Grow the file (new pages change the meta page) and commit.
		if err := tx.Put(f.root, fmt.Appendf(nil, "k%d", i), make([]byte, 3*ovfPS)); err != nil {
			t.Fatal(err)
		}
		count, err := tx.Commit()
		if err != nil {
			t.Fatal(err)
		}
		w.commit(count)
		tx.Publish()
		metas = append(metas, tx.Meta())
	}
	w := f.p.write()
	stale, err := BeginWriteAt(w, f.cache, ovfPS, metas[1])
	if err != nil {
		t.Fatal(err)
	}
	if stale.meta.pageCount != w.PageCount() {
		t.Errorf("stale Meta trusted: page count %d, file has %d", stale.meta.pageCount, w.PageCount())
	}
}
