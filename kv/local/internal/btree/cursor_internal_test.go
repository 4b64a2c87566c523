package btree

import (
	"bytes"
	"testing"
)

// checkSeeks seeks one cursor to every key of keys (and to a key just past
// each, which is absent) in the given order, and compares each position
// with a fresh cursor's: a cursor that reuses its previous path must land
// exactly where a fresh descent does.
func checkSeeks(t *testing.T, tx *Tx, root uint32, keys [][]byte) {
	t.Helper()
	reused := tx.Cursor(root)
	for _, k := range keys {
		for _, target := range [][]byte{k, append(bytes.Clone(k), 0)} {
			reused.Seek(target)
			fresh := tx.Cursor(root)
			fresh.Seek(target)
			if reused.Err() != nil || fresh.Err() != nil {
				t.Fatalf("seek %q: errors %v (reused), %v (fresh)", target, reused.Err(), fresh.Err())
			}
			if reused.Valid() != fresh.Valid() {
				t.Fatalf("seek %q: reused cursor valid %v, fresh %v", target, reused.Valid(), fresh.Valid())
			}
			if fresh.Valid() && !bytes.Equal(reused.Key(), fresh.Key()) {
				t.Fatalf("seek %q: reused cursor on %q, fresh on %q", target, reused.Key(), fresh.Key())
			}
			// Walking on from a reused position must follow the fresh one.
			for range 3 {
				reused.Next()
				fresh.Next()
				if reused.Valid() != fresh.Valid() || fresh.Valid() && !bytes.Equal(reused.Key(), fresh.Key()) {
					t.Fatalf("seek %q then Next: reused and fresh cursors diverge", target)
				}
			}
		}
	}
}
