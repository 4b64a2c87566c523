package hashring_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

func capOf(total int64, eps, w, sumW float64) int64 {
	return int64(math.Ceil((1 + eps) * float64(total) * w / sumW)) // same order as the library
}

// TestLocateBoundedNeverExceeds places requests one at a time, releasing
// some at random, and checks every placement against ⌈(1+ε)·avg⌉.
func TestLocateBoundedNeverExceeds(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 6))
	for _, tc := range []struct {
		members int
		eps     float64
		weights bool
	}{{8, 0.25, false}, {64, 0.1, false}, {64, 0.5, true}, {16, 0.01, true}} {
		name := "members=" + strconv.Itoa(tc.members) + "/eps=" + strconv.FormatFloat(tc.eps, 'g', -1, 64) + "/weighted=" + strconv.FormatBool(tc.weights)
		t.Run(name, func(t *testing.T) {
			ms := hashring.Uniform(randomIDs(rng, tc.members)...)
			sumW := 0.0
			for i := range ms {
				if tc.weights {
					ms[i].Weight = float64(1 + rng.IntN(5))
				}
				sumW += ms[i].Weight
			}
			r, err := hashring.New(ms, &hashring.Options{PointsPerWeight: 100})
			if err != nil {
				t.Fatal(err)
			}
			members := r.Members()
			loads := make([]int64, len(members))
			var placed []int
			var total int64
			moved := 0
			buf := make([]byte, 0, 64)
			for i := range 20000 {
				// Hot keys: a few keys take most requests, as on a live edge.
				buf = testKey(buf, s, int(rng.ExpFloat64()*20))
				id, idx, err := r.LocateBounded(buf, loads, tc.eps)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if members[idx].ID != id {
					t.Fatalf("index %d is %q, id %q", idx, members[idx].ID, id)
				}
				if id != r.Locate(buf) {
					moved++
				}
				total++
				loads[idx]++
				if c := capOf(total, tc.eps, members[idx].Weight, sumW); loads[idx] > c {
					t.Fatalf("request %d: member %q load %d exceeds cap %d (total %d)", i, id, loads[idx], c, total)
				}
				placed = append(placed, idx)
				if rng.IntN(3) == 0 { // release a random earlier request
					j := rng.IntN(len(placed))
					loads[placed[j]]--
					total--
					placed[j] = placed[len(placed)-1]
					placed = placed[:len(placed)-1]
				}
			}
			t.Logf("%.1f%% of requests went past their owner", 100*float64(moved)/20000)
		})
	}
}

func TestLocateBoundedUnloadedIsLocate(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 7))
	r, err := hashring.New(hashring.Uniform(randomIDs(rng, 20)...), &hashring.Options{PointsPerWeight: 64})
	if err != nil {
		t.Fatal(err)
	}
	b, err := hashring.NewBalancer(r, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	loads := make([]int64, r.Len())
	buf := make([]byte, 0, 64)
	for i := range 2000 {
		buf = testKey(buf, s, i)
		id, _, err := r.LocateBounded(buf, loads, 0.25)
		if err != nil || id != r.Locate(buf) {
			t.Fatalf("key %q: LocateBounded got %q (%v) want %q", buf, id, err, r.Locate(buf))
		}
		if ids, _, err := r.LocateBoundedString(string(buf), loads, 0.25); err != nil || ids != id {
			t.Fatalf("key %q: LocateBoundedString got %q (%v) want %q", buf, ids, err, id)
		}
		l, err := b.Acquire(buf)
		if err != nil || l.ID != r.Locate(buf) {
			t.Fatalf("key %q: Acquire got %q (%v) want %q", buf, l.ID, err, r.Locate(buf))
		}
		b.Release(l)
	}
	if got := b.InFlight(); got != 0 {
		t.Errorf("InFlight after releasing all: got %d want 0", got)
	}
}

// TestBalancerConcurrent hammers one key from many goroutines (the worst
// case for a hash: a viral segment) and checks no member ever went above
// its capacity for the final total. Only acquires run while counting, so
// the total only grows and every cap a goroutine saw is ≤ the final one.
func TestBalancerConcurrent(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 8))
	ids := randomIDs(rng, 10)
	r, err := hashring.New(hashring.Uniform(ids...), &hashring.Options{PointsPerWeight: 50})
	if err != nil {
		t.Fatal(err)
	}
	const eps, workers, per = 0.2, 8, 500
	b, err := hashring.NewBalancer(r, eps)
	if err != nil {
		t.Fatal(err)
	}
	leases := make([][]hashring.Lease, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				key := "/live/viral/seg_1.m4s"
				if i%4 == 0 {
					key = "/live/other/" + strconv.Itoa(i)
				}
				l, err := b.AcquireString(key)
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				leases[w] = append(leases[w], l)
			}
		})
	}
	wg.Wait()
	total := b.InFlight()
	if total != workers*per {
		t.Fatalf("InFlight got %d want %d", total, workers*per)
	}
	for _, id := range ids {
		if got, c := b.Load(id), b.Capacity(id, total); got > c {
			t.Errorf("member %q load %d exceeds cap %d", id, got, c)
		}
	}
	for _, ls := range leases {
		for _, l := range ls {
			b.Release(l)
		}
	}
	b.Release(hashring.Lease{}) // the zero Lease is a no-op
	for _, id := range ids {
		if got := b.Load(id); got != 0 {
			t.Errorf("member %q load after release got %d want 0", id, got)
		}
	}
	if b.Load("not-a-member") != 0 || b.Capacity("not-a-member", 10) != 0 {
		t.Error("non-member has load or capacity")
	}
}

// TestLocateBoundedHugeEpsilon: an ε so large that the capacity overflows
// int64 means "no bound", not "no room" (the float-to-int conversion used
// to wrap to MinInt64).
func TestLocateBoundedHugeEpsilon(t *testing.T) {
	r, err := hashring.New(hashring.Uniform("a", "b", "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	loads := []int64{5, 5, 5}
	for _, eps := range []float64{1e18, 1e300} {
		id, _, err := r.LocateBounded([]byte("seg-1"), loads, eps)
		if err != nil || id != r.Locate([]byte("seg-1")) {
			t.Errorf("epsilon %g: LocateBounded = %q, %v; want %q, nil", eps, id, err, r.Locate([]byte("seg-1")))
		}
		b, err := hashring.NewBalancer(r, eps)
		if err != nil {
			t.Fatal(err)
		}
		l, err := b.Acquire([]byte("seg-1"))
		if err != nil {
			t.Errorf("epsilon %g: Acquire on an empty balancer: %v", eps, err)
		} else {
			b.Release(l)
		}
	}
}
