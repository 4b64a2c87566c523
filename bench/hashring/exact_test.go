package hashring_test

import (
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// TestExact prints edgekit's balance and movement measured exactly with
// hashring.Shares and hashring.Diff (no key sampling, so no sampling
// noise): the worst member's share against the mean, and for many single
// removals and additions the moved fraction against the ideal and the
// part of it that moved between survivors.
func TestExact(t *testing.T) {
	// 64 trials in long mode (the recorded figures), fewer for CI.
	trials := 16
	if os.Getenv("EDGEKIT_HASHRING_KEYS") != "" {
		trials = 64
	} else if testing.Short() {
		trials = 4
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nexact, %d removals and %d additions per row\n\n", trials, trials)
	fmt.Fprintln(&out, "| members | algorithm | max/mean share | remove: mean moved/ideal | remove: worst moved/ideal | remove: within 10% of ideal | remove: between survivors (mean) | add: mean moved/ideal | add: worst | add: between survivors (mean) |")
	fmt.Fprintln(&out, "|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range []int{8, 64, 512} {
		ids := memberIDs(n + trials)
		for _, alg := range []string{"ring", "maglev"} {
			var a hashring.Locator
			var remove func(id string) hashring.Locator
			var add func(id string) hashring.Locator
			if alg == "ring" {
				r, err := hashring.New(hashring.Uniform(ids[:n]...), nil)
				if err != nil {
					t.Fatal(err)
				}
				a = r
				remove = func(id string) hashring.Locator { b, _ := r.Remove(id); return b }
				add = func(id string) hashring.Locator { b, _ := r.Add(hashring.Member{ID: id, Weight: 1}); return b }
			} else {
				g, err := hashring.NewMaglev(hashring.Uniform(ids[:n]...), nil)
				if err != nil {
					t.Fatal(err)
				}
				a = g
				remove = func(id string) hashring.Locator { b, _ := g.Remove(id); return b }
				add = func(id string) hashring.Locator { b, _ := g.Add(hashring.Member{ID: id, Weight: 1}); return b }
			}
			worstShare := 0.0
			for _, s := range hashring.Shares(a) {
				worstShare = max(worstShare, s*float64(n))
			}
			type agg struct{ mean, worst, within, surv float64 }
			run := func(change func(i int) (hashring.Locator, string), ideal float64) agg {
				g := agg{worst: 1}
				k := min(trials, n)
				for i := range k {
					b, id := change(i)
					moved, surv := 0.0, 0.0
					for _, m := range hashring.Diff(a, b) {
						moved += m.Fraction()
						if m.From != id && m.To != id {
							surv += m.Fraction()
						}
					}
					ratio := moved / ideal
					g.mean += ratio / float64(k)
					if math.Abs(ratio-1) > math.Abs(g.worst-1) {
						g.worst = ratio
					}
					if math.Abs(ratio-1) <= 0.10 {
						g.within += 1 / float64(k)
					}
					g.surv += surv / float64(k)
				}
				return g
			}
			rm := run(func(i int) (hashring.Locator, string) {
				id := ids[(i*n)/min(trials, n)]
				return remove(id), id
			}, 1/float64(n))
			ad := run(func(i int) (hashring.Locator, string) {
				id := ids[n+i]
				return add(id), id
			}, 1/float64(n+1))
			fmt.Fprintf(&out, "| %d | %s | %.4f | %.3f | %.3f | %.0f%% | %.4f%% | %.3f | %.3f | %.4f%% |\n",
				n, alg, worstShare, rm.mean, rm.worst, 100*rm.within, 100*rm.surv, ad.mean, ad.worst, 100*ad.surv)
		}
	}
	t.Log(out.String())
}
