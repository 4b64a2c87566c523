package hashring_test

import (
	"hash/fnv"
	"slices"
	"strconv"
	"testing"

	"github.com/edgekit/edgekit/hashring"
)

// goldenMembers and the tables below are the determinism promise in test
// form: they were recorded once and must never change. If one of these
// tests fails, the change moves keys between processes running different
// versions of edgekit; that is a breaking change, not a test to update.
var goldenMembers = []hashring.Member{
	{ID: "edge-a", Weight: 1},
	{ID: "edge-b", Weight: 1},
	{ID: "edge-c", Weight: 2},
	{ID: "edge-d", Weight: 0.5},
	{ID: "origin-1.example.net:443", Weight: 1},
}

// goldenLocators builds the golden Ring and Maglev with default options.
func goldenLocators(t *testing.T) (*hashring.Ring, *hashring.Maglev) {
	t.Helper()
	r, err := hashring.New(goldenMembers, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := hashring.NewMaglev(goldenMembers, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r, g
}

func TestGoldenLookups(t *testing.T) {
	r, g := goldenLocators(t)
	tests := []struct {
		key    string
		pos    uint32
		owner  string
		top3   []string
		maglev string
	}{
		{"", 3198038702, "edge-c", []string{"edge-c", "edge-b", "edge-d"}, "edge-b"},
		{"a", 2076355242, "edge-d", []string{"edge-d", "edge-c", "origin-1.example.net:443"}, "edge-d"},
		{"/live/channel1/seg_00000001.m4s", 1888897757, "origin-1.example.net:443", []string{"origin-1.example.net:443", "edge-c", "edge-b"}, "edge-a"},
		{"/vod/title-42/init.mp4", 2505465801, "edge-d", []string{"edge-d", "edge-a", "edge-c"}, "edge-c"},
		{"stream:broadcaster-7", 1492239069, "edge-b", []string{"edge-b", "edge-a", "edge-d"}, "edge-c"},
		{"k9", 1965322625, "origin-1.example.net:443", []string{"origin-1.example.net:443", "edge-d", "edge-c"}, "edge-c"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.key), func(t *testing.T) {
			if got := r.Position([]byte(tt.key)); got != tt.pos {
				t.Errorf("Position got %d want %d", got, tt.pos)
			}
			if got := r.Locate([]byte(tt.key)); got != tt.owner {
				t.Errorf("Locate got %q want %q", got, tt.owner)
			}
			if got := r.LocateString(tt.key); got != tt.owner {
				t.Errorf("LocateString got %q want %q", got, tt.owner)
			}
			if got := r.LocateN([]byte(tt.key), 3); !slices.Equal(got, tt.top3) {
				t.Errorf("LocateN got %q want %q", got, tt.top3)
			}
			if got := g.LocateString(tt.key); got != tt.maglev {
				t.Errorf("Maglev Locate got %q want %q", got, tt.maglev)
			}
		})
	}
}

// fingerprint hashes the owners of 20,000 keys, so that any change to any
// assignment shows up, not only changes to the few keys above.
func fingerprint(l hashring.Locator) uint64 {
	h := fnv.New64a()
	buf := make([]byte, 0, 32)
	for i := range 20000 {
		buf = strconv.AppendInt(append(buf[:0], "key-"...), int64(i), 10)
		h.Write([]byte(l.Locate(buf)))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func TestGoldenFingerprint(t *testing.T) {
	r, g := goldenLocators(t)
	for _, tt := range []struct {
		name string
		l    hashring.Locator
		want uint64
	}{
		{"ring", r, 0x9965a6c8d58ff522},
		{"maglev", g, 0xf633cc172bced922},
	} {
		if got := fingerprint(tt.l); got != tt.want {
			t.Errorf("%s fingerprint got %#x want %#x", tt.name, got, tt.want)
		}
	}
}
