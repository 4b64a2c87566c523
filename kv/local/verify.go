package local

import (
	"context"
	"fmt"

	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// VerifyStats describes the file as Verify found it.
type VerifyStats struct {
	Pages         uint32 // file size in pages
	TreePages     int    // leaf and branch pages over all trees
	OverflowPages int    // pages holding large values
	FreePages     int    // pages on the free list
	Entries       int    // entries over all trees (items and tombstones)
	Namespaces    int
}

// Verify checks the structure of the whole file on the newest snapshot:
// every tree's keys sorted and within their parents' bounds, leaves at one
// depth, no empty pages, and every page owned exactly once — by a tree, an
// overflow chain or the free list — with the free list's count matching
// the meta page. It reads every page, so it takes time proportional to the
// file; writers are not blocked.
func (s *Store) Verify(ctx context.Context) (VerifyStats, error) {
	var vs VerifyStats
	if err := s.enter(); err != nil {
		return vs, err
	}
	defer s.exit()
	err := s.view(func(tx *btree.Tx) error {
		var roots []uint32
		c := tx.Cursor(tx.Catalog())
		for c.First(); c.Valid(); c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			root, ok, err := lookupNS(tx, string(c.Key()))
			if err != nil || !ok {
				return fmt.Errorf("edgekit/kv/local: namespace %q: %v", c.Key(), err)
			}
			roots = append(roots, root)
		}
		if c.Err() != nil {
			return c.Err()
		}
		st, err := tx.Check(roots)
		vs = VerifyStats{Pages: st.Pages, TreePages: st.Tree, OverflowPages: st.Overflow, FreePages: st.Free, Entries: st.Keys, Namespaces: len(roots)}
		return err
	})
	return vs, err
}
