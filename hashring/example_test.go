package hashring_test

import (
	"fmt"
	"sync/atomic"

	"github.com/edgekit/edgekit/hashring"
)

func Example() {
	r, err := hashring.New(hashring.Uniform("edge-a", "edge-b", "edge-c"), nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.LocateString("/live/channel1/seg_00000001.m4s"))
	// Output: edge-c
}

// An edge tier keeps the ring in an atomic.Pointer, asks for three
// candidates per request and falls back down the list when one is down.
func Example_fallback() {
	var ring atomic.Pointer[hashring.Ring]
	r, _ := hashring.New(hashring.Uniform("edge-a", "edge-b", "edge-c", "edge-d"), nil)
	ring.Store(r)

	down := map[string]bool{"edge-b": true}
	key := "/vod/title-42/seg_00000007.m4s"
	var buf [3]string
	for _, id := range ring.Load().AppendNString(buf[:0], key, 3) {
		if down[id] {
			fmt.Println("skip", id)
			continue
		}
		fmt.Println("fetch from", id)
		break
	}
	// Output:
	// skip edge-b
	// fetch from edge-a
}

func ExampleRing_Remove() {
	a, _ := hashring.New(hashring.Uniform("edge-a", "edge-b", "edge-c", "edge-d"), nil)
	b, _ := a.Remove("edge-b")
	moved := 0.0
	for _, m := range hashring.Diff(a, b) {
		if m.From != "edge-b" {
			panic("a survivor lost keys")
		}
		moved += m.Fraction()
	}
	fmt.Printf("%.0f%% of keys moved, all from edge-b\n", moved*100)
	// Output: 25% of keys moved, all from edge-b
}

func ExampleDiff() {
	a, _ := hashring.New(hashring.Uniform("edge-a", "edge-b"), &hashring.Options{PointsPerWeight: 2})
	b, _ := a.Add(hashring.Member{ID: "edge-c", Weight: 1})
	for _, m := range hashring.Diff(a, b) {
		fmt.Printf("positions %10d-%10d: %s → %s (%.1f%%)\n", m.Lo, m.Hi, m.From, m.To, m.Fraction()*100)
	}
	// Output:
	// positions   83858801- 478770120: edge-b → edge-c (9.2%)
	// positions 2405976548-2480921390: edge-a → edge-c (1.7%)
}

func ExampleNewBalancer() {
	r, _ := hashring.New(hashring.Uniform("edge-a", "edge-b", "edge-c"), nil)
	b, _ := hashring.NewBalancer(r, 0.25) // nobody above 125% of the average
	counts := map[string]int{}
	var leases []hashring.Lease
	for range 12 { // one viral key, requests still in flight
		l, err := b.AcquireString("/live/viral/seg_00000001.m4s")
		if err != nil {
			panic(err)
		}
		counts[l.ID]++
		leases = append(leases, l)
	}
	fmt.Println(counts)
	for _, l := range leases {
		b.Release(l)
	}
	// Output: map[edge-a:5 edge-b:2 edge-c:5]
}

func ExampleNewMaglev() {
	g, _ := hashring.NewMaglev([]hashring.Member{{ID: "big", Weight: 3}, {ID: "small", Weight: 1}}, nil)
	shares := hashring.Shares(g)
	fmt.Printf("big %.3f small %.3f over %d slots\n", shares["big"], shares["small"], g.TableSize())
	// Output: big 0.750 small 0.250 over 65537 slots
}
