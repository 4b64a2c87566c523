package segment

import (
	"testing"
	"time"
)

func nalu(typ byte, n int) []byte {
	b := make([]byte, 4+n)
	b[0], b[1], b[2], b[3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	if n > 0 {
		b[4] = typ
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestHasKeyNALU(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sample []byte
		hevc   bool
		want   bool
	}{
		{"avc-idr", nalu(0x65, 10), false, true},
		{"avc-sei-then-idr", cat(nalu(0x06, 5), nalu(0x65, 10)), false, true},
		{"avc-non-idr", nalu(0x41, 10), false, false},
		{"avc-empty", nil, false, false},
		{"avc-3-bytes", []byte{0, 0, 1}, false, false},
		{"avc-wrapping-length", []byte{0xff, 0xff, 0xff, 0xfc, 0x65}, false, false},
		{"avc-zero-length", cat(nalu(0, 0), nalu(0x65, 3)), false, false},
		{"avc-length-past-end", cat(nalu(0x06, 5), []byte{0, 0, 1, 0, 0x65}), false, false},
		{"hevc-idr-w-radl", nalu(19<<1, 10), true, true},
		{"hevc-cra", nalu(21<<1, 10), true, true},
		{"hevc-aud-then-bla", cat(nalu(35<<1, 2), nalu(16<<1, 10)), true, true},
		{"hevc-trail", nalu(1<<1, 10), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := hasKeyNALU(tc.sample, tc.hevc); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWalkBoxes(t *testing.T) {
	box := func(size uint32, typ string, body int) []byte {
		b := make([]byte, 8+body)
		b[0], b[1], b[2], b[3] = byte(size>>24), byte(size>>16), byte(size>>8), byte(size)
		copy(b[4:], typ)
		return b
	}
	large := append([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0, 0, 0, 0, 0, 0, 0, 20}, 1, 2, 3, 4)
	for _, tc := range []struct {
		name  string
		data  []byte
		boxes int
		kind  DefectKind // 0 = no defect
	}{
		{"two-boxes", cat(box(8, "styp", 0), box(12, "free", 4)), 2, 0},
		{"size-zero-to-end", cat(box(8, "styp", 0), box(0, "mdat", 10)), 2, 0},
		{"large-size", large, 1, 0},
		{"large-size-cut", large[:12], 0, DefectTruncated},
		{"size-below-header", box(7, "moof", 0), 0, DefectMalformed},
		{"large-size-below-header", append([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't'}, make([]byte, 8)...), 0, DefectMalformed},
		{"declares-more", box(100, "mdat", 10), 0, DefectTruncated},
		{"stray-bytes", cat(box(8, "styp", 0), []byte{1, 2, 3}), 1, DefectTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d := walkBoxes(tc.data, 0, len(tc.data), nil)
			if len(got) != tc.boxes || (d == nil) != (tc.kind == 0) || (d != nil && d.Kind != tc.kind) {
				t.Fatalf("got %d boxes, defect %v; want %d, kind %v", len(got), d, tc.boxes, tc.kind)
			}
		})
	}
}

func TestTicksConversion(t *testing.T) {
	for _, tc := range []struct {
		ticks     uint64
		timescale uint32
		want      time.Duration
	}{
		{25600, 12800, 2 * time.Second},
		{96256, 48000, 2005333333 * time.Nanosecond},
		{1_800_000_000 * 90000, 90000, 1_800_000_000 * time.Second}, // epoch-scale tfdt must not overflow
		{1, 0, 0},
	} {
		if got := ticksToDuration(tc.ticks, tc.timescale); got != tc.want {
			t.Errorf("ticksToDuration(%d, %d) = %v, want %v", tc.ticks, tc.timescale, got, tc.want)
		}
		if tc.timescale > 0 && tc.ticks%uint64(tc.timescale) == 0 {
			if back := durationToTicks(tc.want, tc.timescale); back != tc.ticks {
				t.Errorf("durationToTicks(%v, %d) = %d, want %d", tc.want, tc.timescale, back, tc.ticks)
			}
		}
	}
}

func TestExpandTemplate(t *testing.T) {
	for _, tc := range []struct{ tmpl, want string }{
		{"$RepresentationID$/$Number$.m4s", "v1/42.m4s"},
		{"seg-$Number%05d$.m4s", "seg-00042.m4s"},
		{"a$$b", "a$b"},
		{"$Time$.m4s", "$Time$.m4s"},
		{"$Number%0xd$", "$Number%0xd$"},
		{"open$Number", "open$Number"},
	} {
		if got := expand(tc.tmpl, "v1", 42); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.tmpl, got, tc.want)
		}
	}
}
