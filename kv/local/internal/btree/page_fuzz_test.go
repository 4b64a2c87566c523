package btree

import (
	"bytes"
	"testing"
)

// FuzzDecodePage feeds arbitrary bytes to every page decoder. None may
// panic; a node that decodes must re-encode to bytes that decode to the
// same node (the decoder accepts only what the encoder can produce, up to
// trailing zeroes).
func FuzzDecodePage(f *testing.F) {
	const ps = 4096
	seedNode := func(n *node) []byte {
		n.recount()
		buf := make([]byte, ps)
		n.encode(buf)
		return buf
	}
	f.Add(seedNode(&node{typ: typeLeaf}))
	f.Add(seedNode(&node{typ: typeLeaf, cells: []cell{
		{key: []byte("a"), val: []byte("1"), vlen: 1},
		{key: []byte("b"), vlen: 9000, ovf: 7},
	}}))
	f.Add(seedNode(&node{typ: typeBranch, child0: 3, cells: []cell{{key: []byte("m"), child: 4}}}))
	buf := make([]byte, ps)
	(&trunk{next: 9, pages: []uint32{5, 6}}).encode(buf)
	f.Add(bytes.Clone(buf))
	m := meta{pageSize: ps, pageCount: 10, catalog: 2, txid: 3}
	m.encode(buf)
	f.Add(bytes.Clone(buf))
	encodeOverflow(buf, []byte("hel"), []byte("lo"), 0)
	f.Add(bytes.Clone(buf))
	f.Add([]byte{typeLeaf, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 5})

	f.Fuzz(func(t *testing.T, b []byte) {
		if n, err := decodeNode(2, b); err == nil {
			out := make([]byte, max(len(b), n.size))
			n.encode(out)
			n2, err := decodeNode(2, out)
			if err != nil {
				t.Fatalf("re-encoded node does not decode: %v", err)
			}
			if len(n2.cells) != len(n.cells) || n2.size != n.size || n2.child0 != n.child0 {
				t.Fatalf("round trip changed the node: %d cells size %d, want %d cells size %d", len(n2.cells), n2.size, len(n.cells), n.size)
			}
			for i := range n.cells {
				a, c := n.cells[i], n2.cells[i]
				if !bytes.Equal(a.key, c.key) || !bytes.Equal(a.val, c.val) || a.ovf != c.ovf || a.child != c.child || a.vlen != c.vlen {
					t.Fatalf("cell %d changed in round trip", i)
				}
			}
		}
		// A packed decode accepts exactly the same pages and reads the
		// same separators and children in place.
		full, ferr := decodeNode(2, b)
		packed, perr := decodePage(2, b, true)
		if (ferr == nil) != (perr == nil) {
			t.Fatalf("packed decode error %v, full decode error %v", perr, ferr)
		}
		if ferr == nil {
			if packed.count() != full.count() || packed.size != full.size {
				t.Fatalf("packed decode: %d cells size %d, want %d cells size %d", packed.count(), packed.size, full.count(), full.size)
			}
			u := packed.unpacked()
			for i := 0; i < full.count(); i++ {
				if !bytes.Equal(packed.keyAt(i), full.keyAt(i)) || !full.leaf() && packed.child(i+1) != full.child(i+1) {
					t.Fatalf("packed cell %d: got key %q, want %q", i, packed.keyAt(i), full.keyAt(i))
				}
				if !bytes.Equal(u.cells[i].key, full.cells[i].key) || u.cells[i].child != full.cells[i].child {
					t.Fatalf("unpacked cell %d differs from the full decode", i)
				}
			}
		}
		_, _ = decodeTrunk(3, b)
		_, _, _ = decodeOverflow(4, b)
		if len(b) >= MinPageSize && ValidPageSize(len(b)) {
			_, _ = decodeMeta(b)
		}
	})
}

func TestMetaRoundTrip(t *testing.T) {
	m := meta{pageSize: 8192, pageCount: 77, freeHead: 5, freeCount: 3, catalog: 2, txid: 1 << 40}
	m.secret[3] = 9
	buf := make([]byte, 8192)
	m.encode(buf)
	got, err := decodeMeta(buf)
	if err != nil || got != m {
		t.Fatalf("got %+v, %v; want %+v", got, err, m)
	}
	buf[30] ^= 1
	if _, err := decodeMeta(buf); err == nil {
		t.Fatal("flipped bit in meta page: got nil error, want checksum mismatch")
	}
}
