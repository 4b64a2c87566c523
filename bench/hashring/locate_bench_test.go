package hashring_test

import (
	"fmt"
	"testing"
)

// keySet holds the same keys as bytes and as strings.
type keySet struct {
	b [][]byte
	s []string
}

// newKeys makes 4096 keys (a power of two, so the loop can mask): segment
// paths of 28–31 bytes, or short stream ids of 10–13 bytes.
func newKeys(short bool) keySet {
	var ks keySet
	for i := range 4096 {
		s := fmt.Sprintf("/live/channel%d/seg_%08d.m4s", i%97, i)
		if short {
			s = fmt.Sprintf("stream-%d", 100000+i*7919%900000)
		}
		ks.s = append(ks.s, s)
		ks.b = append(ks.b, []byte(s))
	}
	return ks
}

func benchContenders() []contender {
	return []contender{
		edgekitRing(0),
		edgekitMaglev(),
		buraksezer(271),
		buraksezer(7919),
		stathatConsistent(20),
		groupcache(50),
	}
}

// BenchmarkLocate: one lookup per op, keys cycling through a 4096-key set.
func BenchmarkLocate(b *testing.B) {
	for _, keys := range []struct {
		name string
		ks   keySet
	}{{"segment", newKeys(false)}, {"short", newKeys(true)}} {
		for _, n := range []int{8, 64, 512} {
			ids := memberIDs(n)
			for _, c := range benchContenders() {
				l, err := tryBuild(c, ids)
				if err != nil {
					b.Logf("members=%d: %v", n, err)
					continue
				}
				b.Run(fmt.Sprintf("keys=%s/members=%d/lib=%s", keys.name, n, c.name), func(b *testing.B) {
					b.ReportAllocs()
					var sink string
					for i := 0; b.Loop(); i++ {
						j := i & 4095
						sink = l.locate(keys.ks.b[j], keys.ks.s[j])
					}
					_ = sink
				})
			}
		}
	}
}

// BenchmarkBuild: building a ring of 1,000 members from scratch.
func BenchmarkBuild(b *testing.B) {
	ids := memberIDs(1000)
	for _, c := range benchContenders() {
		b.Run("members=1000/lib="+c.name, func(b *testing.B) {
			b.ReportAllocs()
			if _, err := tryBuild(c, ids); err != nil {
				b.Skip(err)
			}
			for b.Loop() {
				_ = c.build(ids)
			}
		})
	}
}
