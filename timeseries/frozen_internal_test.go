package timeseries

import (
	"encoding/hex"
	"strings"
	"testing"
)

// TestFrozenEncoding pins the byte layouts the package doc declares
// (expected values computed independently: MaxInt64-µs, FNV-1a-64 and
// CRC-32C by a separate script)
// frozen: data written by one version must stay readable by the next, so
// any change here is a format break, not a refactor.
func TestFrozenEncoding(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		{"partition id", partition{series: "live/ch1", tb: 498732, eb: 3, n: 4}.id(), "1/498732/3.4/live/ch1"},
		{"sub-bucket id", partition{series: "s", tb: 7, eb: 0, n: 1, j: 5, m: 8}.id(), "1/7/0.1.5.8/s"},
		{"item key", hex.EncodeToString(append(eventPrefix(nil, 1763900000000000, "ev"), "bytes"...)),
			"7ff9bbbe0714a7ff" + "02" + hex.EncodeToString([]byte("ev")) + hex.EncodeToString([]byte("bytes"))},
		{"event bucket", string(rune('0' + eventBucket("seg-42", 4))), string(rune('0' + int(uint32(hashID("seg-42"))%4)))},
		{"fnv of id", hex.EncodeToString(hashBytes(hashID("seg-42"))), "1ae4c9cf107de2d7"},
		{"split record", hex.EncodeToString((&splitRec{state: stateCopying, m: 8, bytes: 1, preN: 2, preSum: 3, postN: 4, postSum: 5, cursor: []byte{0xaa}}).encode()),
			"02" + "0008" + "0000000000000001" + "0000000000000002" + "0000000000000003" + "0000000000000004" + "0000000000000005" + "0001" + "aa"},
		{"split record with retry", hex.EncodeToString((&splitRec{state: stateCopying, m: 2, failed: 3, retryAt: 0x0102030405060708}).encode()),
			"02" + "0002" + strings.Repeat("0000000000000000", 5) + "0000" + "0003" + "0102030405060708"},
		{"slice layout item", sliceMetaID + " " + layoutPrefix + "7", "m/slice layout.7"},
		{"page token", hex.EncodeToString(token{pos: position{us: 5, id: []byte("x"), after: true}, tb: 9, bytes: []uint32{7}}.encode(0x0102030405060708)),
			"01" + "0102030405060708" + "01" + "0000000000000005" + "01" + "78" + "0000000000000009" + "01" + "00000007" + "2c1acdcb"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, tc.got, tc.want)
		}
	}
}

func hashBytes(x uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(x >> (56 - 8*i))
	}
	return b
}
