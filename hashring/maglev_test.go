package hashring_test

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

func TestMaglevBalance(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 9))
	keys := keyCount()
	for _, n := range []int{8, 64, 512} {
		t.Run("members="+strconv.Itoa(n), func(t *testing.T) {
			g, err := hashring.NewMaglev(hashring.Uniform(randomIDs(rng, n)...), nil)
			if err != nil {
				t.Fatal(err)
			}
			// Exact: each member holds ⌊M/n⌋ or ⌈M/n⌉ slots (±1 position
			// of rounding per slot boundary).
			m := float64(g.TableSize())
			for id, sh := range hashring.Shares(g) {
				slots := sh * m
				if slots < math.Floor(m/float64(n))-0.01 || slots > math.Ceil(m/float64(n))+0.01 {
					t.Errorf("member %q has %.3f slots, want %v or %v", id, slots, math.Floor(m/float64(n)), math.Ceil(m/float64(n)))
				}
			}
			zmax := math.Sqrt(2*math.Log(float64(n))) + 2.5
			got := maxOverMean(countKeys(g, keys, s), n, keys)
			bound := 1 + zmax*math.Sqrt(float64(n)/float64(keys))
			t.Logf("max/mean over %d keys: %.4f (bound %.4f)", keys, got, bound)
			if got > bound {
				t.Errorf("max/mean got %.4f want ≤ %.4f", got, bound)
			}
		})
	}
}

// TestMaglevMovement documents Maglev's trade: removing a member moves its
// keys plus a few more between survivors; adding one moves keys to it plus
// a few more. How many more depends on slots per member (M/n): measured
// about 0.01× the ideal extra at n=8, 0.3× at n=64 and 4.5× at n=512 with
// the default table (65537 slots), which the package doc reports. The bound
// here is loose on purpose; it catches a broken permutation (which moves
// most keys), not the trade itself.
func TestMaglevMovement(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 10))
	for _, n := range []int{8, 64, 512} {
		t.Run("members="+strconv.Itoa(n), func(t *testing.T) {
			ids := randomIDs(rng, n+1)
			a, err := hashring.NewMaglev(hashring.Uniform(ids[:n]...), nil)
			if err != nil {
				t.Fatal(err)
			}
			gone := ids[rng.IntN(n)]
			b, err := a.Remove(gone)
			if err != nil {
				t.Fatal(err)
			}
			c, err := a.Add(hashring.Member{ID: ids[n], Weight: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				name    string
				to      *hashring.Maglev
				changed string
				ideal   float64
			}{{"remove", b, gone, 1 / float64(n)}, {"add", c, ids[n], 1 / float64(n+1)}} {
				own, extra := 0.0, 0.0
				for _, mv := range hashring.Diff(a, tc.to) {
					if mv.From == tc.changed || mv.To == tc.changed {
						own += mv.Fraction()
					} else {
						extra += mv.Fraction()
					}
				}
				t.Logf("%s: moved %.5f (own %.5f + between survivors %.5f), ideal %.5f", tc.name, own+extra, own, extra, tc.ideal)
				if math.Abs(own/tc.ideal-1) > 0.01 {
					t.Errorf("%s: changed member's share got %.5f want %.5f ± 1%%", tc.name, own, tc.ideal)
				}
				if extra > 7*tc.ideal {
					t.Errorf("%s: moves between survivors got %.5f, want ≤ 7 × the ideal %.5f", tc.name, extra, tc.ideal)
				}
			}
		})
	}
}

func TestMaglevLocateN(t *testing.T) {
	g, err := hashring.NewMaglev([]hashring.Member{{"big", 1e6}, {"tiny", 1}, {"mid", 10}}, &hashring.Options{TableSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	// "tiny" wins no slot in a small table but is still listed.
	for i := range 50 {
		key := []byte("k" + strconv.Itoa(i))
		got := g.LocateN(key, 5)
		if len(got) != 3 || len(uniq(got)) != 3 || got[0] != g.Locate(key) {
			t.Fatalf("LocateN(%q) got %q, want 3 distinct ids starting with %q", key, got, g.Locate(key))
		}
	}
	if g.TableSize() < 300 {
		t.Errorf("TableSize got %d, want ≥ 100 × members", g.TableSize())
	}
}
