package segment_test

import (
	"errors"
	"math/rand"
	"os"
	"strconv"
	"testing"

	"github.com/edgekit/edgekit/segment"
)

func TestSelect(t *testing.T) {
	good := func(n uint64) *segment.Info { return &segment.Info{Number: n, Fragments: 1} }
	bad := func(n uint64, k segment.DefectKind) *segment.Info {
		return &segment.Info{Number: n, Defects: []segment.Defect{{Kind: k, Detail: "x"}}}
	}
	order := []string{"us-east", "us-west"}
	for _, tc := range []struct {
		name     string
		cands    []segment.Candidate
		want     string
		rejected []segment.DefectKind
		noneOK   bool
	}{
		{"first-in-order-wins", []segment.Candidate{{Pipeline: "us-west", Info: good(7)}, {Pipeline: "us-east", Info: good(7)}}, "us-east", nil, false},
		{"defective-first-skipped", []segment.Candidate{{Pipeline: "us-east", Info: bad(7, segment.DefectGap)}, {Pipeline: "us-west", Info: good(7)}}, "us-west", []segment.DefectKind{segment.DefectGap}, false},
		{"wrong-number", []segment.Candidate{{Pipeline: "us-east", Info: good(8)}, {Pipeline: "us-west", Info: good(7)}}, "us-west", []segment.DefectKind{segment.DefectNumber}, false},
		{"missing", []segment.Candidate{{Pipeline: "us-east", Info: nil}, {Pipeline: "us-west", Info: good(7)}}, "us-west", []segment.DefectKind{segment.DefectMissing}, false},
		{"unknown-pipelines-after-known-by-name", []segment.Candidate{{Pipeline: "zz", Info: good(7)}, {Pipeline: "aa", Info: good(7)}, {Pipeline: "us-west", Info: bad(7, segment.DefectTruncated)}}, "aa", []segment.DefectKind{segment.DefectTruncated}, false},
		{"later-defects-reported-too", []segment.Candidate{{Pipeline: "us-east", Info: good(7)}, {Pipeline: "us-west", Info: bad(7, segment.DefectNoKeyframe)}}, "us-east", []segment.DefectKind{segment.DefectNoKeyframe}, false},
		{"none-valid", []segment.Candidate{{Pipeline: "us-east", Info: bad(7, segment.DefectOverlap)}, {Pipeline: "us-west", Info: nil}}, "", []segment.DefectKind{segment.DefectOverlap, segment.DefectMissing}, true},
		{"no-candidates", nil, "", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := segment.Select(7, order, tc.cands)
			if tc.noneOK {
				var se *segment.SelectError
				if !errors.Is(err, segment.ErrNoCandidate) || !errors.As(err, &se) || len(se.Rejected) != len(tc.rejected) {
					t.Fatalf("got %+v, %v; want ErrNoCandidate with %d rejections", sel, err, len(tc.rejected))
				}
			} else if err != nil || sel.Pipeline != tc.want || tc.cands[sel.Index].Pipeline != tc.want {
				t.Fatalf("got %+v, %v; want %s", sel, err, tc.want)
			}
			if len(sel.Rejected) != len(tc.rejected) {
				t.Fatalf("rejected: got %+v, want kinds %v", sel.Rejected, tc.rejected)
			}
			for i, k := range tc.rejected {
				if got := sel.Rejected[i].Defects[len(sel.Rejected[i].Defects)-1].Kind; got != k {
					t.Fatalf("rejection %d: got %v, want %v", i, got, k)
				}
			}
		})
	}
}

// TestSelectDeterministic: the choice does not depend on the order the
// candidates arrive in.
func TestSelectDeterministic(t *testing.T) {
	seed := rand.Int63()
	if v, err := strconv.ParseInt(os.Getenv("SEGMENT_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("seed %d (replay with SEGMENT_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	order := []string{"p2", "p0", "p1"}
	for trial := 0; trial < 200; trial++ {
		var cands []segment.Candidate
		for _, p := range []string{"p0", "p1", "p2", "p3"} {
			info := &segment.Info{Number: 3}
			if rng.Intn(2) == 0 {
				info.Defects = []segment.Defect{{Kind: segment.DefectGap}}
			}
			cands = append(cands, segment.Candidate{Pipeline: p, Info: info})
		}
		want, wantErr := segment.Select(3, order, cands)
		rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		got, gotErr := segment.Select(3, order, cands)
		if got.Pipeline != want.Pipeline || (gotErr == nil) != (wantErr == nil) || len(got.Rejected) != len(want.Rejected) {
			t.Fatalf("trial %d (seed %d): shuffled choice %q (%v), want %q (%v)", trial, seed, got.Pipeline, gotErr, want.Pipeline, wantErr)
		}
	}
}
