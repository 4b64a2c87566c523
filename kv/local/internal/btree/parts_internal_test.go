package btree

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestUpdateParts: a value given as head and body reads back as their
// concatenation wherever the split falls (empty head or body, a head that
// ends inside, at, or past a page's data) and whether it is stored inline
// or in an overflow chain; its chain passes the invariant check.
func TestUpdateParts(t *testing.T) {
	r := rand.New(rand.NewPCG(seed(t), 6))
	per := capacity(ovfPS)
	f := newOvfFixture(t)
	cases := []struct{ head, body int }{
		{0, 50}, {10, 0}, {10, 40}, // inline
		{0, 5 * per}, {10, 5 * per}, {per - 1, 3 * per}, {per, 2 * per},
		{per + 1, per}, {3*per + 7, 0}, {2 * per, per - 3}, {18, 1 << 20},
	}
	want := map[string][]byte{}
	f.commit(func(tx *Tx) {
		for _, c := range cases {
			key := fmt.Sprintf("h%d/b%d", c.head, c.body)
			head, body := randBytes(r, c.head), randBytes(r, c.body)
			want[key] = append(bytes.Clone(head), body...)
			err := tx.UpdateParts(f.root, []byte(key), func([]byte, bool) ([]byte, []byte, bool, error) {
				return head, body, true, nil
			})
			if err != nil {
				t.Fatalf("%s: %v", key, err)
			}
		}
	})
	rtx, _ := f.reader(nil)
	for key, v := range want {
		got, err := rtx.value(mustCell(t, rtx, f.root, key))
		if err != nil || !bytes.Equal(got, v) {
			t.Errorf("%s: got %d bytes (%v), want %d (first difference at %d)", key, len(got), err, len(v), firstDiff(got, v))
		}
	}
	if _, err := rtx.Check([]uint32{f.root}); err != nil {
		t.Fatalf("invariants: %v", err)
	}
}
