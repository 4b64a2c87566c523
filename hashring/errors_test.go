package hashring_test

import (
	"errors"
	"math"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

func TestNewRejectsBadInput(t *testing.T) {
	tests := []struct {
		name    string
		members []hashring.Member
		opts    *hashring.Options
		want    error
		wantID  string
	}{
		{"duplicate id", []hashring.Member{{"a", 1}, {"b", 1}, {"a", 2}}, nil, hashring.ErrDuplicateID, "a"},
		{"empty id", []hashring.Member{{"a", 1}, {"", 1}}, nil, hashring.ErrEmptyID, ""},
		{"zero weight", []hashring.Member{{"a", 1}, {"b", 0}}, nil, hashring.ErrBadWeight, "b"},
		{"negative weight", []hashring.Member{{"a", -1}}, nil, hashring.ErrBadWeight, "a"},
		{"NaN weight", []hashring.Member{{"a", math.NaN()}}, nil, hashring.ErrBadWeight, "a"},
		{"infinite weight", []hashring.Member{{"a", math.Inf(1)}}, nil, hashring.ErrBadWeight, "a"},
		{"huge weight", []hashring.Member{{"a", 1e12}}, nil, hashring.ErrTooLarge, ""},
		{"negative points", hashring.Uniform("a"), &hashring.Options{PointsPerWeight: -1}, hashring.ErrBadOption, ""},
		{"negative table", hashring.Uniform("a"), &hashring.Options{TableSize: -5}, hashring.ErrBadOption, ""},
		{"huge table", hashring.Uniform("a"), &hashring.Options{TableSize: hashring.MaxTableSize + 1}, hashring.ErrBadOption, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errR := hashring.New(tt.members, tt.opts)
			_, errM := hashring.NewMaglev(tt.members, tt.opts)
			for alg, err := range map[string]error{"ring": errR, "maglev": errM} {
				if tt.want == hashring.ErrTooLarge && alg == "maglev" {
					continue // weight does not size a Maglev table
				}
				if !errors.Is(err, tt.want) {
					t.Fatalf("%s: got error %v, want %v", alg, err, tt.want)
				}
				var me *hashring.MemberError
				if errors.As(err, &me) && me.ID != tt.wantID {
					t.Errorf("%s: MemberError.ID got %q want %q", alg, me.ID, tt.wantID)
				}
			}
		})
	}
}

func TestEmptyRing(t *testing.T) {
	var zero hashring.Ring
	empty, err := hashring.New(nil, nil)
	if err != nil {
		t.Fatalf("New(nil): %v", err)
	}
	emptyMaglev, err := hashring.NewMaglev(nil, nil)
	if err != nil {
		t.Fatalf("NewMaglev(nil): %v", err)
	}
	var zeroMaglev hashring.Maglev
	for name, l := range map[string]hashring.Locator{"zero Ring": &zero, "New(nil)": empty, "NewMaglev(nil)": emptyMaglev, "zero Maglev": &zeroMaglev} {
		t.Run(name, func(t *testing.T) {
			if got := l.Locate([]byte("k")); got != "" {
				t.Errorf("Locate got %q want \"\"", got)
			}
			if got := l.LocateString("k"); got != "" {
				t.Errorf("LocateString got %q want \"\"", got)
			}
			if got := l.LocateN([]byte("k"), 3); len(got) != 0 {
				t.Errorf("LocateN got %q want none", got)
			}
			if got := l.Len(); got != 0 {
				t.Errorf("Len got %d want 0", got)
			}
			if got := hashring.Diff(l, l); len(got) != 0 {
				t.Errorf("Diff(empty, empty) got %v want none", got)
			}
		})
	}
	if _, _, err := empty.LocateBounded([]byte("k"), nil, 0.25); !errors.Is(err, hashring.ErrEmpty) {
		t.Errorf("LocateBounded on empty ring: got %v want ErrEmpty", err)
	}
	if _, err := hashring.NewBalancer(empty, 0.25); !errors.Is(err, hashring.ErrEmpty) {
		t.Errorf("NewBalancer on empty ring: got %v want ErrEmpty", err)
	}
	// The zero Ring grows with default options.
	r, err := zero.Add(hashring.Member{ID: "a", Weight: 1})
	if err != nil {
		t.Fatalf("zero.Add: %v", err)
	}
	if got := r.Locate([]byte("k")); got != "a" {
		t.Errorf("after Add, Locate got %q want a", got)
	}
	if got := r.Points(); got != hashring.DefaultPointsPerWeight {
		t.Errorf("Points got %d want %d", got, hashring.DefaultPointsPerWeight)
	}
	// Removing the last member gives an empty ring, not an error.
	r, err = r.Remove("a")
	if err != nil || r.Len() != 0 || r.Locate([]byte("k")) != "" {
		t.Errorf("Remove last: got len %d err %v", r.Len(), err)
	}
}

func TestAddRemoveErrors(t *testing.T) {
	r, err := hashring.New(hashring.Uniform("a", "b"), &hashring.Options{PointsPerWeight: 16})
	if err != nil {
		t.Fatal(err)
	}
	g, err := hashring.NewMaglev(hashring.Uniform("a", "b"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"ring add duplicate", second(r.Add(hashring.Member{ID: "a", Weight: 1})), hashring.ErrDuplicateID},
		{"ring add zero weight", second(r.Add(hashring.Member{ID: "c"})), hashring.ErrBadWeight},
		{"ring remove unknown", second(r.Remove("zz")), hashring.ErrUnknownMember},
		{"maglev add duplicate", second(g.Add(hashring.Member{ID: "b", Weight: 1})), hashring.ErrDuplicateID},
		{"maglev add empty id", second(g.Add(hashring.Member{Weight: 1})), hashring.ErrEmptyID},
		{"maglev remove unknown", second(g.Remove("zz")), hashring.ErrUnknownMember},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("got %v want %v", tt.err, tt.want)
			}
		})
	}
	// The receiver is untouched by a failed or successful change.
	if _, err := r.Add(hashring.Member{ID: "c", Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 2 {
		t.Errorf("receiver changed: Len got %d want 2", r.Len())
	}
}

func second[T any](_ T, err error) error { return err }

func TestLocateNCount(t *testing.T) {
	r, err := hashring.New(hashring.Uniform("a", "b", "c"), &hashring.Options{PointsPerWeight: 8})
	if err != nil {
		t.Fatal(err)
	}
	g, err := hashring.NewMaglev(hashring.Uniform("a", "b", "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []hashring.Locator{r, g} {
		for _, tt := range []struct{ n, want int }{{-1, 0}, {0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 3}, {1000, 3}} {
			got := l.LocateN([]byte("key"), tt.n)
			if len(got) != tt.want {
				t.Errorf("%T LocateN(n=%d): got %d ids %q, want %d", l, tt.n, len(got), got, tt.want)
			}
		}
	}
}

func TestBoundedBadInput(t *testing.T) {
	r, err := hashring.New(hashring.Uniform("a", "b"), &hashring.Options{PointsPerWeight: 16})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		loads []int64
		eps   float64
		want  error
	}{
		{"short loads", []int64{0}, 0.25, hashring.ErrLoadsLength},
		{"zero epsilon", []int64{0, 0}, 0, hashring.ErrBadOption},
		{"negative epsilon", []int64{0, 0}, -1, hashring.ErrBadOption},
		{"NaN epsilon", []int64{0, 0}, math.NaN(), hashring.ErrBadOption},
		{"negative load", []int64{0, -3}, 0.25, hashring.ErrBadOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := r.LocateBounded([]byte("k"), tt.loads, tt.eps); !errors.Is(err, tt.want) {
				t.Errorf("got %v want %v", err, tt.want)
			}
		})
	}
	if _, err := hashring.NewBalancer(r, math.Inf(1)); !errors.Is(err, hashring.ErrBadOption) {
		t.Errorf("NewBalancer(eps=+Inf): got %v want ErrBadOption", err)
	}
}
