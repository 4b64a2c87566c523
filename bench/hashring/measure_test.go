package hashring_test

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// measureKeys is the number of keys TestCompare hashes: $EDGEKIT_HASHRING_KEYS
// (1000000 for the recorded figures), else 50k (10k with -short) so
// `go test ./...` in CI stays quick.
func measureKeys(t *testing.T) int {
	if v := os.Getenv("EDGEKIT_HASHRING_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("EDGEKIT_HASHRING_KEYS=%q: want a positive integer", v)
		}
		return n
	}
	if testing.Short() {
		return 10_000
	}
	return 50_000
}

// result is one row of the comparison table.
type result struct {
	lib              string
	members          int
	bytes            uint64
	maxMean          float64
	rmMoved, rmSurv  float64 // mean fraction moved on removing one member; of it, between survivors
	rmWorst          float64 // worst |moved/ideal - 1| over the removals
	addMoved, addSrv float64 // fraction moved on adding one member; of it, between survivors
}

// removals is how many different members each contender loses in turn;
// the mean over them is what the table reports.
const removals = 4

func measure(c contender, n int, keys [][]byte, skeys []string) (result, error) {
	ids := memberIDs(n + 1)
	base := ids[:n]
	if _, err := tryBuild(c, base); err != nil {
		return result{}, err
	}
	bytes, v := heapBytes(func() any { return c.build(base) })
	a := v.(locator)
	res := result{lib: c.name, members: n, bytes: bytes}

	owners := make([]string, len(keys))
	counts := make(map[string]int, n)
	for i := range keys {
		owners[i] = a.locate(keys[i], skeys[i])
		counts[owners[i]]++
	}
	mx := 0
	for _, c := range counts {
		mx = max(mx, c)
	}
	res.maxMean = float64(mx) / (float64(len(keys)) / float64(n))

	// moved returns the fraction of keys whose owner changed and the
	// fraction that moved between members other than changed.
	moved := func(b locator, changed string) (float64, float64) {
		m, surv := 0, 0
		for i := range keys {
			if o := b.locate(keys[i], skeys[i]); o != owners[i] {
				m++
				if o != changed && owners[i] != changed {
					surv++
				}
			}
		}
		return float64(m) / float64(len(keys)), float64(surv) / float64(len(keys))
	}
	for k := range removals {
		gone := base[(k*n)/removals+n/(2*removals)]
		rest := slices.DeleteFunc(slices.Clone(base), func(id string) bool { return id == gone })
		b, err := tryBuild(c, rest)
		if err != nil {
			return result{}, err
		}
		m, s := moved(b, gone)
		res.rmMoved += m / removals
		res.rmSurv += s / removals
		res.rmWorst = max(res.rmWorst, math.Abs(m*float64(n)-1))
	}
	b, err := tryBuild(c, ids)
	if err != nil {
		return result{}, err
	}
	res.addMoved, res.addSrv = moved(b, ids[n])
	return res, nil
}

// ppwForBytes returns the largest points-per-weight whose ring of n
// equal members fits in budget bytes: 8 bytes a point, plus 4 bytes a
// point of bucket index, plus about 48 bytes a member.
func ppwForBytes(n int, budget uint64) int {
	ppw := 1
	for p := 2; p <= 1<<16; p++ {
		if 12*uint64(n*p)+48*uint64(n) > budget {
			break
		}
		ppw = p
	}
	return ppw
}

// TestCompare prints, for 8, 64 and 512 members, every library's memory,
// balance (max/mean keys per member) and movement on removing or adding one
// member, with edgekit's ring also shown at each peer's memory.
func TestCompare(t *testing.T) {
	nkeys := measureKeys(t)
	keys := make([][]byte, nkeys)
	skeys := make([]string, nkeys)
	for i := range keys {
		skeys[i] = fmt.Sprintf("/vod/title-%d/seg_%08d.m4s", i%5003, i)
		keys[i] = []byte(skeys[i])
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\n%d keys; moves averaged over %d removals; ideal move = 1/n on remove, 1/(n+1) on add\n\n", nkeys, removals)
	fmt.Fprintln(&out, "| members | library | memory KiB | max/mean | remove: moved (ideal) | remove: between survivors | remove: worst deviation from ideal | add: moved (ideal) | add: between survivors |")
	fmt.Fprintln(&out, "|---|---|---|---|---|---|---|---|---|")
	row := func(r result) {
		fmt.Fprintf(&out, "| %d | %s | %.0f | %.3f | %.3f%% (%.3f%%) | %.3f%% | %.1f%% | %.3f%% (%.3f%%) | %.3f%% |\n",
			r.members, r.lib, float64(r.bytes)/1024, r.maxMean,
			100*r.rmMoved, 100/float64(r.members), 100*r.rmSurv, 100*r.rmWorst,
			100*r.addMoved, 100/float64(r.members+1), 100*r.addSrv)
	}
	must := func(r result, err error) result {
		if err != nil {
			t.Fatal(err) // edgekit never panics; only peers are tried
		}
		return r
	}
	for _, n := range []int{8, 64, 512} {
		own := must(measure(edgekitRing(0), n, keys, skeys))
		row(own)
		row(must(measure(edgekitMaglev(), n, keys, skeys)))
		for _, peer := range []contender{buraksezer(7919), buraksezer(271), stathatConsistent(20), groupcache(50), groupcache(160)} {
			p, err := measure(peer, n, keys, skeys)
			if err != nil {
				fmt.Fprintf(&out, "| %d | %s | — | %v | | | | | |\n", n, peer.name, err)
				continue
			}
			row(p)
			// edgekit's ring given at most the same memory as this peer:
			// the formula's estimate, lowered until the measured heap
			// (which includes allocator size-class rounding) fits.
			ppw := ppwForBytes(n, p.bytes)
			for ppw > 1 {
				if b, _ := heapBytes(func() any { return edgekitRing(ppw).build(memberIDs(n)) }); b <= p.bytes {
					break
				}
				ppw -= max(1, ppw/100)
			}
			e := must(measure(edgekitRing(ppw), n, keys, skeys))
			e.lib += " @ " + p.lib + " memory"
			row(e)
		}
	}
	t.Log(out.String())
}
