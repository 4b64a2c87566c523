package timeseries

import (
	"fmt"
	"testing"
)

// TestMergeItems: copies of one event read from two layouts fold into one
// item list, sorted, one item per key, the larger value winning.
func TestMergeItems(t *testing.T) {
	it := func(kv ...string) []Item {
		var out []Item
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, Item{Key: kv[i], Value: []byte(kv[i+1])})
		}
		return out
	}
	for _, tc := range []struct {
		name       string
		a, b, want []Item
	}{
		{"identical", it("a", "1", "b", "2"), it("a", "1", "b", "2"), it("a", "1", "b", "2")},
		{"disjoint", it("a", "1", "c", "3"), it("b", "2"), it("a", "1", "b", "2", "c", "3")},
		{"one empty", nil, it("x", "9"), it("x", "9")},
		{"larger value wins", it("k", "aa"), it("k", "ab"), it("k", "ab")},
		{"larger value wins, other side", it("k", "b"), it("k", "a"), it("k", "b")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeItems(tc.a, tc.b)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
