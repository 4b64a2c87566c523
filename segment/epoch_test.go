package segment_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/segment"
)

func TestEpochNumber(t *testing.T) {
	e := segment.Epoch{SegmentDuration: 2 * time.Second, StartNumber: 10}
	for _, tc := range []struct {
		t       time.Duration
		want    uint64
		offGrid bool
	}{
		{0, 10, false},
		{2 * time.Second, 11, false},
		{2*time.Second + 20*time.Millisecond, 11, false},    // late, within tolerance
		{4*time.Second - 21333*time.Microsecond, 12, false}, // one AAC frame early
		{2*time.Second + 30*time.Millisecond, 0, true},
		{3 * time.Second, 0, true},
		{-time.Second, 0, true},
		{1_000_000 * 2 * time.Second, 1_000_010, false},
	} {
		t.Run(tc.t.String(), func(t *testing.T) {
			got, err := e.Number(tc.t)
			if tc.offGrid {
				var ge *segment.GridError
				if !errors.Is(err, segment.ErrOffGrid) || !errors.As(err, &ge) {
					t.Fatalf("got %d, %v; want ErrOffGrid", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
			if n := e.MediaTime(got); tc.t-n > 25*time.Millisecond || n-tc.t > 25*time.Millisecond {
				t.Fatalf("MediaTime(%d) = %v, far from %v", got, n, tc.t)
			}
		})
	}
}

func TestEpochAvailability(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := segment.Epoch{Start: start, SegmentDuration: 2 * time.Second, StartNumber: 1}
	if got, want := e.AvailabilityTime(1), start.Add(2*time.Second); !got.Equal(want) {
		t.Fatalf("AvailabilityTime(1) = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		at   time.Duration
		want uint64
		ok   bool
	}{{time.Second, 0, false}, {2 * time.Second, 1, true}, {3999 * time.Millisecond, 1, true}, {4 * time.Second, 2, true}, {61 * time.Second, 30, true}} {
		n, ok := e.Latest(start.Add(tc.at))
		if n != tc.want || ok != tc.ok {
			t.Errorf("Latest(+%v) = %d,%v; want %d,%v", tc.at, n, ok, tc.want, tc.ok)
		}
	}
}

// TestEpochLockJitterDoesNotAccumulate: the committed AAC segments are
// 94/94/94/93 frames (±1 frame around 2 s); numbers still follow the grid.
func TestEpochLockJitterDoesNotAccumulate(t *testing.T) {
	in, segs := vodRendition(t, "3")
	e := segment.Epoch{SegmentDuration: 2 * time.Second, StartNumber: 1}
	for i, seg := range segs[:4] {
		info := segment.Inspect(in, seg, nil)
		if err := e.Lock(info); err != nil {
			t.Fatalf("segment %d: %v", i+1, err)
		}
		if info.Number != uint64(i+1) {
			t.Fatalf("segment %d locked to %d", i+1, info.Number)
		}
	}
}

// splitFragmented cuts a fragmented MP4 (ffmpeg -movflags frag_keyframe) into
// its init part and one segment per moof+mdat.
func splitFragmented(t testing.TB, b []byte) (init []byte, segs [][]byte) {
	t.Helper()
	pos, segStart := 0, -1
	for pos+8 <= len(b) {
		size := int(binary.BigEndian.Uint32(b[pos:]))
		typ := string(b[pos+4 : pos+8])
		if size < 8 || pos+size > len(b) {
			t.Fatalf("bad box %q at %d", typ, pos)
		}
		switch typ {
		case "moof":
			if init == nil {
				init = b[:pos]
			}
			segStart = pos
		case "mdat":
			segs = append(segs, b[segStart:pos+size])
		}
		pos += size
	}
	return init, segs
}

// encodeAt runs ffmpeg like a live encoder that joined the shared source at
// source time `join` seconds, stamping media time as seconds since the epoch
// (output_ts_offset) and forcing keyframes on the epoch's 2 s grid, the way
// epoch-locked contribution encoders do.
func encodeAt(t *testing.T, ffmpeg string, join, epochOffset float64, dur int) []byte {
	t.Helper()
	joinFrames := int(join*25 + 0.5)
	ss := fmt.Sprint(join)
	return ffmpegMP4(t, ffmpeg,
		"-ss", ss, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-ss", ss, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(dur), "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "50", "-sc_threshold", "0",
		"-force_key_frames", fmt.Sprintf("expr:eq(mod(n+%d,50),0)", joinFrames),
		"-c:a", "aac", "-b:a", "32k",
		"-output_ts_offset", fmt.Sprint(epochOffset+join),
		"-movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf+frag_discont")
}

// TestEpochLockTwoEncoders encodes the same source twice with ffmpeg, the
// second encoder joining 3.32 s later (mid-segment), and checks that both
// produce the same numbers for the same media, that the joiner's partial
// first segment is reported off the grid, and that Select can use either.
func TestEpochLockTwoEncoders(t *testing.T) {
	ffmpeg := peertest.Exec(t, "ffmpeg", "apt-get install ffmpeg")
	const offset = 100 // encoder clock: seconds since the epoch at source time 0
	e := segment.Epoch{Start: time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), SegmentDuration: 2 * time.Second}

	lock := func(name string, file []byte) map[uint64]*segment.Info {
		initBytes, segs := splitFragmented(t, file)
		in, err := segment.InspectInit(initBytes)
		if err != nil {
			t.Fatalf("%s init: %v", name, err)
		}
		if len(in.Tracks) != 2 {
			t.Fatalf("%s: %d tracks, want video+audio", name, len(in.Tracks))
		}
		out := map[uint64]*segment.Info{}
		var prev *segment.Info
		for i, s := range segs {
			info := segment.Inspect(in, s, prev)
			err := e.Lock(info)
			t.Logf("%s segment %d: number %d err %v", name, i, info.Number, err)
			prev = info
			if err != nil {
				continue
			}
			out[info.Number] = info
		}
		return out
	}
	// A joins the source at 2 s, on a segment boundary; B at 3.32 s, mid
	// segment. (Joining at 0 is avoided: ffmpeg 5.1 then shifts the first
	// frame by one frame duration, which would test ffmpeg, not us.)
	a := lock("A", encodeAt(t, ffmpeg, 2, offset, 8))
	b := lock("B", encodeAt(t, ffmpeg, 3.32, offset, 6))

	// A covers [102,110) s = numbers 51..54; B joined at 103.32: its first
	// segment [103.32,104) is off the grid, then 52 and 53 lock and its
	// last, cut-short segment fails the duration check.
	for _, n := range []uint64{51, 52, 53, 54} {
		if a[n] == nil || !a[n].Valid() {
			t.Fatalf("A: number %d missing or defective: %+v", n, a[n])
		}
	}
	if _, ok := b[54]; ok {
		t.Fatal("B: the cut-short last segment must not lock")
	}
	if _, ok := b[51]; ok {
		t.Fatal("B: the partial join segment must not lock to number 51")
	}
	common := 0
	for n, bi := range b {
		ai, ok := a[n]
		if !ok {
			continue
		}
		common++
		av, _ := ai.Reference()
		bv, _ := bi.Reference()
		if av.BaseMediaDecodeTime != bv.BaseMediaDecodeTime || av.Duration != bv.Duration || av.Samples != bv.Samples {
			t.Fatalf("number %d: A %+v vs B %+v", n, av, bv)
		}
		sel, err := segment.Select(n, []string{"A", "B"}, []segment.Candidate{{Pipeline: "B", Info: bi}, {Pipeline: "A", Info: nil}})
		if err != nil || sel.Pipeline != "B" || len(sel.Rejected) != 1 || sel.Rejected[0].Defects[0].Kind != segment.DefectMissing {
			t.Fatalf("select with A missing: %+v, %v", sel, err)
		}
	}
	if common < 2 {
		t.Fatalf("only %d numbers in common between the encoders, want >= 2 (A %v, B %v)", common, keys(a), keys(b))
	}
}

func keys(m map[uint64]*segment.Info) []uint64 {
	var out []uint64
	for k := range m {
		out = append(out, k)
	}
	return out
}
