package hashring_test

import (
	"fmt"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// benchKeys are segment-like keys, the shape an edge hashes most.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "/live/channel%d/seg_%08d.m4s", i%97, i)
	}
	return keys
}

func memberIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("edge-%03d.example.net:443", i)
	}
	return ids
}

func BenchmarkLocate(b *testing.B) {
	keys := benchKeys(1 << 12)
	for _, n := range []int{8, 64, 512} {
		ms := hashring.Uniform(memberIDs(n)...)
		r, err := hashring.New(ms, nil)
		if err != nil {
			b.Fatal(err)
		}
		g, err := hashring.NewMaglev(ms, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("algo=ring/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_ = r.Locate(keys[i&(len(keys)-1)])
			}
		})
		b.Run(fmt.Sprintf("algo=maglev/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				_ = g.Locate(keys[i&(len(keys)-1)])
			}
		})
		b.Run(fmt.Sprintf("algo=ring-appendN3/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]string, 0, 3)
			for i := 0; b.Loop(); i++ {
				dst = r.AppendN(dst[:0], keys[i&(len(keys)-1)], 3)
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for _, n := range []int{8, 64, 512, 1000} {
		ms := hashring.Uniform(memberIDs(n)...)
		b.Run(fmt.Sprintf("algo=ring/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := hashring.New(ms, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("algo=maglev/members=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := hashring.NewMaglev(ms, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
