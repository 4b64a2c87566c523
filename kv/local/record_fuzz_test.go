package local

import (
	"bytes"
	"testing"
)

// FuzzDecodeCell feeds arbitrary bytes to the decoders of what a namespace
// tree stores (item cells, range tombstones, keys, cursors). None may
// panic; what decodes must survive a re-encoding unchanged.
func FuzzDecodeCell(f *testing.F) {
	f.Add(encodeCell(&cellData{ts: 7, meta: []byte("m"), value: []byte("value")}), []byte("\x01abc\x00\x00\x00\x00\x00\x00\x00\x09"))
	f.Add(encodeCell(&cellData{flags: cellTombstone, ts: 1, expiry: 99}), []byte{0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0xff}, []byte{})
	f.Fuzz(func(t *testing.T, b, suffix []byte) {
		if c, err := decodeCell(b); err == nil {
			// Re-encoding is canonical (minimal varint, expiry flag from
			// the field), so compare what decodes, not the bytes.
			c2, err := decodeCell(encodeCell(&c))
			if err != nil || c2.ts != c.ts || c2.expiry != c.expiry || c2.tombstone() != c.tombstone() ||
				!bytes.Equal(c2.meta, c.meta) || !bytes.Equal(c2.value, c.value) {
				t.Fatalf("round trip of %x changed the cell (%v)", b, err)
			}
		}
		if r, err := decodeRangeTomb(suffix, b); err == nil {
			if got := encodeRangeEnd(r.end); !bytes.Equal(got, b) {
				t.Fatalf("range end round trip: %x -> %x", b, got)
			}
		}
		_, _, _, _ = splitKey(b)
		var k tokenKey
		_, _ = k.open(b, tokenRead, suffix)
	})
}
