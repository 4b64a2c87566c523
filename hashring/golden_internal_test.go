package hashring

import "testing"

// TestGoldenPoints freezes the point derivation (see the package doc,
// "Determinism"). Never update these values: a change here moves keys.
func TestGoldenPoints(t *testing.T) {
	tests := []struct {
		id         string
		idHash     uint64
		p0, p1, pN uint32 // points 0, 1 and 1023
	}{
		{"edge-a", 0xbc163bc2402016bd, 83858800, 3550676606, 686314700},
		{"origin-1.example.net:443", 0x53af20c342f9bd38, 505797035, 3599220113, 300901432},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			h := hasher{}.sumString(tt.id)
			if h != tt.idHash {
				t.Fatalf("xxhash64(%q) got %#x want %#x", tt.id, h, tt.idHash)
			}
			for j, want := range map[uint32]uint32{0: tt.p0, 1: tt.p1, 1023: tt.pN} {
				if got := pointPosition(h, j); got != want {
					t.Errorf("point %d got %d want %d", j, got, want)
				}
			}
		})
	}
	if got := fold(0x0123456789abcdef); got != 0x01234567^0x89abcdef {
		t.Errorf("fold got %#x", got)
	}
}
