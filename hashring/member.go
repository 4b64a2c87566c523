package hashring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Member is one node of a ring: a unique, non-empty id and a positive
// weight. A member's share of the keys is proportional to its weight.
// Member is a plain value and safe to copy.
type Member struct {
	ID     string
	Weight float64
}

// Uniform returns members with the given ids, each of weight 1.
func Uniform(ids ...string) []Member {
	ms := make([]Member, len(ids))
	for i, id := range ids {
		ms[i] = Member{ID: id, Weight: 1}
	}
	return ms
}

// Errors returned by the constructors. A MemberError wraps the first three
// and names the offending member.
var (
	ErrEmptyID       = errors.New("edgekit/hashring: member id is empty")
	ErrDuplicateID   = errors.New("edgekit/hashring: duplicate member id")
	ErrBadWeight     = errors.New("edgekit/hashring: member weight must be finite and > 0")
	ErrUnknownMember = errors.New("edgekit/hashring: no such member")
	ErrTooLarge      = errors.New("edgekit/hashring: ring or table would be too large")
	ErrBadOption     = errors.New("edgekit/hashring: invalid option")
	ErrNoRoom        = errors.New("edgekit/hashring: no member is below its load bound")
	ErrLoadsLength   = errors.New("edgekit/hashring: loads length differs from member count")
	ErrEmpty         = errors.New("edgekit/hashring: ring has no members")
)

// MemberError reports which member made a constructor fail. It is a
// plain value.
type MemberError struct {
	ID  string  // offending member id (may be empty)
	Err error   // ErrEmptyID, ErrDuplicateID, ErrBadWeight or ErrUnknownMember
	W   float64 // the weight given, for ErrBadWeight
}

func (e *MemberError) Error() string {
	if errors.Is(e.Err, ErrBadWeight) {
		return fmt.Sprintf("%v: member %q has weight %v", e.Err, e.ID, e.W)
	}
	return fmt.Sprintf("%v: %q", e.Err, e.ID)
}

func (e *MemberError) Unwrap() error { return e.Err }

// Limits that keep a hostile or mistaken configuration from exhausting
// memory (the constructors are fuzzed with arbitrary weights).
const (
	// MaxPoints is the most ring points a Ring may hold (128 MiB of points).
	MaxPoints = 1 << 24
	// MaxTableSize is the largest Maglev table.
	MaxTableSize = 1 << 25
	// DefaultPointsPerWeight is the number of ring points per unit of
	// weight; see the package doc for how it was chosen.
	DefaultPointsPerWeight = 1024
	// DefaultTableSize is the smallest Maglev table (a prime); tables grow
	// to the first prime ≥ 100 × members, the Maglev paper's rule for ≤ 1%
	// imbalance.
	DefaultTableSize = 65537
)

// Options configures New and NewMaglev. A nil *Options means the defaults.
// Fields that do not apply to an algorithm are ignored by it. New and
// NewMaglev copy what they need; the caller may reuse the value.
type Options struct {
	// Hasher hashes keys and member ids; nil means xxhash64 (seed 0).
	// The determinism promise holds for the default hasher; with a custom
	// one it holds as long as the custom hash is itself stable.
	Hasher Hasher

	// PointsPerWeight (Ring) is the number of ring points a member of
	// weight 1 gets; 0 means DefaultPointsPerWeight. A member gets
	// max(1, round(Weight × PointsPerWeight)) points. The relative spread
	// of a member's share is about 1/√points.
	PointsPerWeight int

	// TableSize (Maglev) is the minimum lookup-table size; it is rounded up
	// to a prime and to at least 100 × members. 0 means DefaultTableSize.
	TableSize int
}

func (o *Options) orDefault() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.PointsPerWeight == 0 {
		v.PointsPerWeight = DefaultPointsPerWeight
	}
	if v.TableSize == 0 {
		v.TableSize = DefaultTableSize
	}
	return v
}

func (o Options) validate() error {
	if o.PointsPerWeight < 0 || o.PointsPerWeight > MaxPoints {
		return fmt.Errorf("%w: PointsPerWeight %d", ErrBadOption, o.PointsPerWeight)
	}
	if o.TableSize < 0 || o.TableSize > MaxTableSize {
		return fmt.Errorf("%w: TableSize %d", ErrBadOption, o.TableSize)
	}
	return nil
}

// prepare is the shared front of the constructors: options with defaults
// filled in and validated, members validated and sorted.
func prepare(members []Member, opts *Options) ([]Member, Options, error) {
	o := opts.orDefault()
	if err := o.validate(); err != nil {
		return nil, o, err
	}
	ms, err := canonical(members)
	return ms, o, err
}

// canonical validates members and returns a sorted copy. Sorting by id is
// what makes every derived structure depend only on the member set, not on
// the order the caller listed it in.
func canonical(members []Member) ([]Member, error) {
	ms := slices.Clone(members)
	for _, m := range ms {
		if m.ID == "" {
			return nil, &MemberError{ID: m.ID, Err: ErrEmptyID}
		}
		if !(m.Weight > 0) || math.IsInf(m.Weight, 0) { // also rejects NaN
			return nil, &MemberError{ID: m.ID, Err: ErrBadWeight, W: m.Weight}
		}
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	for i := 1; i < len(ms); i++ {
		if ms[i].ID == ms[i-1].ID {
			return nil, &MemberError{ID: ms[i].ID, Err: ErrDuplicateID}
		}
	}
	return ms, nil
}

// memberIndex returns the index of id in sorted members, or -1.
func memberIndex(ms []Member, id string) int {
	i, ok := slices.BinarySearchFunc(ms, id, func(m Member, id string) int { return strings.Compare(m.ID, id) })
	if !ok {
		return -1
	}
	return i
}

// withoutMember returns sorted members minus id, or ErrUnknownMember.
func withoutMember(ms []Member, id string) ([]Member, error) {
	i := memberIndex(ms, id)
	if i < 0 {
		return nil, &MemberError{ID: id, Err: ErrUnknownMember}
	}
	return slices.Delete(slices.Clone(ms), i, i+1), nil
}
