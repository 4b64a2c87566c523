package hashring_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// sigma is the expected relative spread of one member's key count: ring
// variance 1/points plus key-sampling variance members/keys (0 for exact).
func sigma(points float64, members, keys int) float64 {
	s := 1 / points
	if keys > 0 {
		s += float64(members) / float64(keys)
	}
	return math.Sqrt(s)
}

func countKeys(l hashring.Locator, keys int, s uint64) map[string]int {
	counts := make(map[string]int, l.Len())
	buf := make([]byte, 0, 64)
	for i := range keys {
		buf = testKey(buf, s, i)
		counts[l.Locate(buf)]++
	}
	return counts
}

func maxOverMean(counts map[string]int, members int, total int) float64 {
	mx := 0
	for _, c := range counts {
		mx = max(mx, c)
	}
	return float64(mx) / (float64(total) / float64(members))
}

func TestBalance(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 1))
	keys := keyCount()
	for _, n := range []int{8, 64, 512} {
		t.Run("members="+strconv.Itoa(n), func(t *testing.T) {
			r, err := hashring.New(hashring.Uniform(randomIDs(rng, n)...), nil)
			if err != nil {
				t.Fatal(err)
			}
			// Bound: the max of n normal deviations stays under
			// sqrt(2 ln n)+2.5 sigmas with overwhelming probability.
			zmax := math.Sqrt(2*math.Log(float64(n))) + 2.5
			sampled := maxOverMean(countKeys(r, keys, s), n, keys)
			bound := 1 + zmax*sigma(hashring.DefaultPointsPerWeight, n, keys)
			t.Logf("%d members, %d keys: max/mean %.4f (bound %.4f)", n, keys, sampled, bound)
			if sampled > bound {
				t.Errorf("sampled max/mean got %.4f want ≤ %.4f", sampled, bound)
			}
			exact := 0.0
			for _, sh := range hashring.Shares(r) {
				exact = max(exact, sh*float64(n))
			}
			bound = 1 + zmax*sigma(hashring.DefaultPointsPerWeight, n, 0)
			t.Logf("exact max/mean %.4f (bound %.4f)", exact, bound)
			if exact > bound {
				t.Errorf("exact max/mean got %.4f want ≤ %.4f", exact, bound)
			}
		})
	}
}

// movement sums Diff(a, b) and checks that every move goes From or To the
// changed member, never between survivors.
func movement(t *testing.T, a, b hashring.Locator, changed string) float64 {
	t.Helper()
	total := 0.0
	for _, m := range hashring.Diff(a, b) {
		if m.From != changed && m.To != changed {
			t.Fatalf("move %+v is between surviving members (changed %q)", m, changed)
		}
		total += m.Fraction()
	}
	return total
}

// TestMovementGolden checks the goal (within 10% of the ideal
// 1/(n+1) on add and 1/n on remove) on a fixed member list, so it can only
// fail if the algorithm changes.
func TestMovementGolden(t *testing.T) {
	for _, n := range []int{8, 64, 512} {
		ids := make([]string, n+1)
		for i := range ids {
			ids[i] = "cache-" + strconv.Itoa(i) + ".edge.example"
		}
		a, err := hashring.New(hashring.Uniform(ids[:n]...), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.Add(hashring.Member{ID: ids[n], Weight: 1})
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.Remove(ids[n/2])
		if err != nil {
			t.Fatal(err)
		}
		t.Run("add/members="+strconv.Itoa(n), func(t *testing.T) {
			got, ideal := movement(t, a, b, ids[n]), 1/float64(n+1)
			t.Logf("moved %.5f ideal %.5f ratio %.3f", got, ideal, got/ideal)
			if math.Abs(got/ideal-1) > 0.10 {
				t.Errorf("moved got %.5f want within 10%% of %.5f", got, ideal)
			}
		})
		t.Run("remove/members="+strconv.Itoa(n), func(t *testing.T) {
			got, ideal := movement(t, a, c, ids[n/2]), 1/float64(n)
			t.Logf("moved %.5f ideal %.5f ratio %.3f", got, ideal, got/ideal)
			if math.Abs(got/ideal-1) > 0.10 {
				t.Errorf("moved got %.5f want within 10%% of %.5f", got, ideal)
			}
		})
	}
}

// TestMovementRandom adds and removes random members and checks, by keys
// and exactly by Diff, that only the changed member's keys move and that
// the amount is the ideal within the ring's statistical tolerance.
func TestMovementRandom(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 2))
	keys := keyCount() / 10
	for _, n := range []int{8, 64, 512} {
		t.Run("members="+strconv.Itoa(n), func(t *testing.T) {
			ids := randomIDs(rng, n+1)
			a, err := hashring.New(hashring.Uniform(ids[:n]...), nil)
			if err != nil {
				t.Fatal(err)
			}
			added, err := a.Add(hashring.Member{ID: ids[n], Weight: 1})
			if err != nil {
				t.Fatal(err)
			}
			gone := ids[rng.IntN(n)]
			removed, err := a.Remove(gone)
			if err != nil {
				t.Fatal(err)
			}
			tol := 5 * sigma(hashring.DefaultPointsPerWeight, 1, 0)
			for _, tc := range []struct {
				name    string
				b       *hashring.Ring
				changed string
				ideal   float64
			}{
				{"add", added, ids[n], 1 / float64(n+1)},
				{"remove", removed, gone, 1 / float64(n)},
			} {
				exact := movement(t, a, tc.b, tc.changed)
				if math.Abs(exact/tc.ideal-1) > tol {
					t.Errorf("%s: exact moved got %.5f want %.5f ± %.0f%%", tc.name, exact, tc.ideal, tol*100)
				}
				moved, buf := 0, make([]byte, 0, 64)
				for i := range keys {
					buf = testKey(buf, s, i)
					was, now := a.Locate(buf), tc.b.Locate(buf)
					if was != now {
						moved++
						if was != tc.changed && now != tc.changed {
							t.Fatalf("%s: key %q moved %s → %s between survivors", tc.name, buf, was, now)
						}
					}
				}
				// Sampled movement must agree with the exact measure.
				got := float64(moved) / float64(keys)
				if d := math.Abs(got - exact); d > 6*math.Sqrt(exact/float64(keys)) {
					t.Errorf("%s: sampled moved %.5f differs from exact %.5f", tc.name, got, exact)
				}
				t.Logf("%s: moved exact %.5f sampled %.5f ideal %.5f", tc.name, exact, got, tc.ideal)
			}
		})
	}
}

func TestLocateNStable(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 3))
	ids := randomIDs(rng, 40)
	a, err := hashring.New(hashring.Uniform(ids...), &hashring.Options{PointsPerWeight: 64})
	if err != nil {
		t.Fatal(err)
	}
	gone := ids[rng.IntN(len(ids))]
	b, err := a.Remove(gone)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 64)
	for i := range 5000 {
		buf = testKey(buf, s, i)
		n := 1 + rng.IntN(len(ids)+2)
		got := a.LocateN(buf, n)
		if want := min(n, len(ids)); len(got) != want {
			t.Fatalf("LocateN(%q, %d): got %d ids want %d", buf, n, len(got), want)
		}
		if got[0] != a.Locate(buf) {
			t.Fatalf("LocateN(%q)[0] = %q, Locate = %q", buf, got[0], a.Locate(buf))
		}
		if len(got) != len(uniq(got)) {
			t.Fatalf("LocateN(%q, %d) has repeats: %q", buf, n, got)
		}
		if again := a.LocateNString(string(buf), n); !slices.Equal(again, got) {
			t.Fatalf("LocateNString differs: %q vs %q", again, got)
		}
		// Stability: after removing one member, each list is the old list
		// (one longer) without that member, in the same order.
		want := slices.DeleteFunc(a.LocateN(buf, n+1), func(id string) bool { return id == gone })
		want = want[:min(n, len(want), b.Len())]
		if after := b.LocateN(buf, n); !slices.Equal(after, want) {
			t.Fatalf("key %q n=%d after removing %q: got %q want %q", buf, n, gone, after, want)
		}
	}
}

func uniq(ids []string) []string {
	c := slices.Clone(ids)
	slices.Sort(c)
	return slices.Compact(c)
}

func TestWeights(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 4))
	ids := randomIDs(rng, 64)
	ms := make([]hashring.Member, len(ids))
	total := 0.0
	for i, id := range ids {
		ms[i] = hashring.Member{ID: id, Weight: float64(1 + i%4)} // 1, 2, 3, 4
		total += ms[i].Weight
	}
	r, err := hashring.New(ms, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := hashring.NewMaglev(ms, nil)
	if err != nil {
		t.Fatal(err)
	}
	shares, maglevShares := hashring.Shares(r), hashring.Shares(g)
	worst, worstMaglev := 0.0, 0.0
	for _, m := range ms {
		ideal := m.Weight / total
		// The documented tolerance: 5/√points relative error on a Ring.
		tol := 5 * sigma(m.Weight*hashring.DefaultPointsPerWeight, 1, 0)
		dev := math.Abs(shares[m.ID]/ideal - 1)
		worst = max(worst, dev)
		if dev > tol {
			t.Errorf("ring: member %q weight %v share got %.5f want %.5f ± %.1f%%", m.ID, m.Weight, shares[m.ID], ideal, tol*100)
		}
		// Maglev: within a few slots of the weighted share.
		devMaglev := math.Abs(maglevShares[m.ID]/ideal - 1)
		worstMaglev = max(worstMaglev, devMaglev)
		if slots := math.Abs(maglevShares[m.ID]-ideal) * float64(g.TableSize()); slots > 2 {
			t.Errorf("maglev: member %q weight %v off by %.1f slots", m.ID, m.Weight, slots)
		}
	}
	t.Logf("worst relative share error: ring %.2f%%, maglev %.3f%%", worst*100, worstMaglev*100)
}

func TestPermutationInvariance(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 5))
	ms := hashring.Uniform(randomIDs(rng, 30)...)
	a, err := hashring.New(ms, &hashring.Options{PointsPerWeight: 32})
	if err != nil {
		t.Fatal(err)
	}
	rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	b, err := hashring.New(ms, &hashring.Options{PointsPerWeight: 32})
	if err != nil {
		t.Fatal(err)
	}
	if d := hashring.Diff(a, b); len(d) != 0 {
		t.Errorf("member order changed ownership: %d moves, first %+v", len(d), d[0])
	}
}

// TestAddRemoveEqualNew checks that the linear-time Add and Remove build
// exactly the ring New builds from the resulting member list.
func TestAddRemoveEqualNew(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 13))
	opts := &hashring.Options{PointsPerWeight: 1 + rng.IntN(300)}
	ids := randomIDs(rng, 40)
	ms := make([]hashring.Member, len(ids))
	for i, id := range ids {
		ms[i] = hashring.Member{ID: id, Weight: 0.25 + 3*rng.Float64()}
	}
	r, err := hashring.New(ms[:20], opts)
	if err != nil {
		t.Fatal(err)
	}
	cur := slices.Clone(ms[:20])
	for step := range 60 {
		var op string
		if rng.IntN(2) == 0 && len(cur) < len(ms) {
			m := ms[len(cur)]
			op = "add " + m.ID
			if r, err = r.Add(m); err != nil {
				t.Fatal(err)
			}
			cur = append(cur, m)
		} else if len(cur) > 0 {
			i := rng.IntN(len(cur))
			op = "remove " + cur[i].ID
			if r, err = r.Remove(cur[i].ID); err != nil {
				t.Fatal(err)
			}
			// Keep cur a prefix of ms (the next add takes ms[len(cur)]):
			// move the removed member to the end of the pool.
			gone := cur[i]
			cur = slices.Delete(cur, i, i+1)
			ms = append(slices.Delete(ms, i, i+1), gone)
		}
		want, err := hashring.New(cur, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.Points() != want.Points() || r.Len() != want.Len() {
			t.Fatalf("step %d (%s): %d points/%d members, New gives %d/%d", step, op, r.Points(), r.Len(), want.Points(), want.Len())
		}
		if d := hashring.Diff(r, want); len(d) != 0 {
			t.Fatalf("step %d (%s): differs from New: %+v", step, op, d[0])
		}
	}
}
