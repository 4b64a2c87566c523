package segment

import (
	"fmt"
	"sort"
	"strings"
)

// Candidate is one pipeline's version of a segment. Select only reads it.
type Candidate struct {
	// Pipeline names the redundant pipeline (encoder/packager chain) that
	// produced the segment.
	Pipeline string
	// Info is the inspection result; nil means the pipeline has no segment
	// for this number (missing), which disqualifies it.
	Info *Info
}

// Rejection says why a candidate was not chosen. Plain value.
type Rejection struct {
	Pipeline string
	Defects  []Defect
}

// Selection is the outcome of Select; a plain value whose Info points at
// the caller's candidate.
type Selection struct {
	// Pipeline and Index (into the candidates passed to Select) of the chosen
	// candidate.
	Pipeline string
	Index    int
	Info     *Info
	// Rejected lists every disqualified candidate, in selection order, with
	// its defects — including those ranked after the chosen one, so the
	// caller can report a failing pipeline even while another one serves.
	Rejected []Rejection
}

// SelectError is returned when no candidate is valid; safe to share. It matches
// ErrNoCandidate with errors.Is and carries every rejection so that the
// defects can be passed downstream (for client-side concealment).
type SelectError struct {
	Number   uint64
	Rejected []Rejection
}

func (e *SelectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v for segment %d", ErrNoCandidate, e.Number)
	for _, r := range e.Rejected {
		fmt.Fprintf(&b, "; %s:", r.Pipeline)
		for i, d := range r.Defects {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(" " + d.String())
		}
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrNoCandidate) true.
func (e *SelectError) Unwrap() error { return ErrNoCandidate }

// Select picks, among candidates for segment number, the first valid one in
// a deterministic pipeline order: pipelines in the order given by order
// first, then pipelines not named there sorted by name; candidates of the
// same pipeline keep their input order. A candidate is valid when its Info is
// present, has no defects and carries the requested Number. The result
// depends only on the inputs, never on arrival order, so every origin node
// picks the same pipeline for the same segment.
//
// Select does not modify the candidates; it is safe for concurrent use.
func Select(number uint64, order []string, candidates []Candidate) (Selection, error) {
	rank := make(map[string]int, len(order))
	for i, p := range order {
		if _, dup := rank[p]; !dup {
			rank[p] = i
		}
	}
	idx := make([]int, len(candidates))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := candidates[idx[a]].Pipeline, candidates[idx[b]].Pipeline
		ra, oka := rank[pa]
		rb, okb := rank[pb]
		switch {
		case oka && okb:
			return ra < rb
		case oka != okb:
			return oka
		default:
			return pa < pb
		}
	})
	sel := Selection{Index: -1}
	for _, i := range idx {
		c := candidates[i]
		defects := disqualify(number, c.Info)
		if len(defects) > 0 {
			sel.Rejected = append(sel.Rejected, Rejection{Pipeline: c.Pipeline, Defects: defects})
			continue
		}
		if sel.Index < 0 {
			sel.Pipeline, sel.Index, sel.Info = c.Pipeline, i, c.Info
		}
	}
	if sel.Index < 0 {
		return sel, &SelectError{Number: number, Rejected: sel.Rejected}
	}
	return sel, nil
}

// disqualify returns the reasons a candidate cannot serve segment number.
func disqualify(number uint64, info *Info) []Defect {
	if info == nil {
		return []Defect{{Kind: DefectMissing, Detail: "the pipeline has no segment for this number"}}
	}
	defects := append([]Defect(nil), info.Defects...)
	if info.Number != number {
		defects = append(defects, Defect{Kind: DefectNumber, Detail: fmt.Sprintf("locked to number %d, wanted %d", info.Number, number)})
	}
	return defects
}
