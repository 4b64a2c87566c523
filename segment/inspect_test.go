package segment_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/edgekit/edgekit/segment"
)

// TestInspectCleanAssets: every committed segment, inspected in order with
// its predecessor, has no defect and plausible numbers.
func TestInspectCleanAssets(t *testing.T) {
	for _, rep := range vodReps {
		t.Run("rep"+rep, func(t *testing.T) {
			in, segs := vodRendition(t, rep)
			if len(in.Tracks) != 1 {
				t.Fatalf("tracks: got %d, want 1", len(in.Tracks))
			}
			tr := in.Tracks[0]
			switch tr.Kind {
			case "video":
				if tr.Codec != "avc1.64001f" || tr.Timescale != 12800 || tr.Width == 0 {
					t.Fatalf("video track: got %+v, want avc1.64001f at 12800 with a size", tr)
				}
			case "audio":
				if tr.Codec != "mp4a.40.2" || tr.Timescale != 48000 || tr.SampleRate != 48000 || tr.Channels != 2 {
					t.Fatalf("audio track: got %+v, want mp4a.40.2 48 kHz stereo", tr)
				}
			default:
				t.Fatalf("kind: got %q", tr.Kind)
			}
			var prev *segment.Info
			for i, seg := range segs {
				info := segment.Inspect(in, seg, prev)
				if err := info.Err(); err != nil {
					t.Fatalf("segment %d: %v", i+1, err)
				}
				ti, ok := info.Reference()
				if !ok || ti.Samples == 0 || !ti.StartsWithSync || !ti.StartsWithIDR || info.Size != len(seg) || info.Fragments != 1 {
					t.Fatalf("segment %d: implausible %+v", i+1, info)
				}
				if ti.Bytes >= len(seg) || ti.Bytes < len(seg)-1024 {
					t.Fatalf("segment %d: payload %d bytes of %d", i+1, ti.Bytes, len(seg))
				}
				prev = info
			}
		})
	}
}

// vodSamples decodes the samples of a clean segment with mp4ff (safe on
// known-good input) so tests can rebuild variants of it.
func vodSamples(t testing.TB, in []byte, seg []byte) (uint32, []mp4.FullSample) {
	t.Helper()
	initFile, err := mp4.DecodeFileSR(bits.NewFixedSliceReader(in))
	if err != nil {
		t.Fatal(err)
	}
	f, err := mp4.DecodeFileSR(bits.NewFixedSliceReader(seg))
	if err != nil {
		t.Fatal(err)
	}
	frag := f.Segments[0].Fragments[0]
	ss, err := frag.GetFullSamples(initFile.Moov.Mvex.Trex)
	if err != nil {
		t.Fatal(err)
	}
	return frag.Moof.Traf.Tfhd.TrackID, ss
}

// buildSegment encodes samples as one CMAF segment with mp4ff.
func buildSegment(t testing.TB, trackID uint32, ss []mp4.FullSample) []byte {
	t.Helper()
	seg := mp4.NewMediaSegment()
	frag, err := mp4.CreateFragment(1, trackID)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		frag.AddFullSample(s)
	}
	seg.AddFragment(frag)
	var b bytes.Buffer
	if err := seg.Encode(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// trunField returns the offset of a trun field in seg: "offset" (data
// offset) or "size0" (first sample size).
func trunField(t testing.TB, seg []byte, field string) int {
	t.Helper()
	i := bytes.Index(seg, []byte("trun"))
	if i < 0 {
		t.Fatal("no trun")
	}
	flags := binary.BigEndian.Uint32(seg[i+4:]) & 0xffffff
	pos := i + 12
	if field == "offset" {
		if flags&1 == 0 {
			t.Fatal("trun without data offset")
		}
		return pos
	}
	if flags&1 != 0 {
		pos += 4
	}
	if flags&4 != 0 {
		pos += 4
	}
	if flags&0x100 != 0 {
		pos += 4
	}
	if flags&0x200 == 0 {
		t.Fatal("trun without sample sizes")
	}
	return pos
}

func patch32(seg []byte, off int, v uint32) []byte {
	out := append([]byte(nil), seg...)
	binary.BigEndian.PutUint32(out[off:], v)
	return out
}

// TestInspectDefects crafts one broken variant per defect kind from the
// committed assets and checks that exactly that kind is reported.
func TestInspectDefects(t *testing.T) {
	vin, vsegs := vodRendition(t, "0")
	ain, asegs := vodRendition(t, "3")
	vInitRaw := readFile(t, "init-0.mp4")
	vPrev1 := segment.Inspect(vin, vsegs[0], nil)
	vPrev2 := segment.Inspect(vin, vsegs[1], vPrev1)
	id, ss := vodSamples(t, vInitRaw, vsegs[0])

	noSync := append([]mp4.FullSample(nil), ss[1:]...)
	noIDR := append([]mp4.FullSample(nil), ss[1:]...)
	noIDR[0].Flags = mp4.SyncSampleFlags
	zero := append([]mp4.FullSample(nil), ss...)
	zero[7].Dur = 0
	negCTO := append([]mp4.FullSample(nil), ss...)
	negCTO[0].CompositionTimeOffset = -100000
	trunOff := trunField(t, vsegs[1], "offset")
	sizeOff := trunField(t, vsegs[1], "size0")
	tfhd := bytes.Index(vsegs[1], []byte("tfhd")) + 8

	cases := []struct {
		name string
		in   *segment.Init
		data []byte
		prev *segment.Info
		want segment.DefectKind
	}{
		{"truncated-mdat", vin, vsegs[1][:len(vsegs[1])-1000], vPrev1, segment.DefectTruncated},
		{"truncated-in-moof", vin, vsegs[1][:60], vPrev1, segment.DefectTruncated},
		{"truncated-header", vin, vsegs[1][:4], nil, segment.DefectTruncated},
		{"malformed-size", vin, []byte{0, 0, 0, 4, 'm', 'o', 'o', 'f'}, nil, segment.DefectMalformed},
		{"malformed-no-moof", vin, vsegs[1][:24], nil, segment.DefectMalformed},
		{"gap", vin, vsegs[2], vPrev1, segment.DefectGap},
		{"overlap", vin, vsegs[1], vPrev2, segment.DefectOverlap},
		{"no-sync-sample", vin, buildSegment(t, id, noSync), nil, segment.DefectNoKeyframe},
		{"sync-flag-without-idr", vin, buildSegment(t, id, noIDR), nil, segment.DefectNoKeyframe},
		{"zero-duration", vin, buildSegment(t, id, zero), nil, segment.DefectZeroDuration},
		{"negative-cto", vin, buildSegment(t, id, negCTO), nil, segment.DefectNegativeOffset},
		{"negative-data-offset", vin, patch32(vsegs[1], trunOff, 0xffffff00), vPrev1, segment.DefectNegativeOffset},
		{"track-mismatch", vin, patch32(vsegs[1], tfhd, 9), nil, segment.DefectTrackMismatch},
		{"trun-exceeds-mdat", vin, patch32(vsegs[1], sizeOff, 1<<20), vPrev1, segment.DefectTrunExceedsMdat},
		{"no-samples", vin, buildSegment(t, id, nil), nil, segment.DefectMalformed},
		{"audio-gap", ain, asegs[2], segment.Inspect(ain, asegs[0], nil), segment.DefectGap},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info := segment.Inspect(tc.in, tc.data, tc.prev)
			err := info.Err()
			if !errors.Is(err, segment.ErrDefective) {
				t.Fatalf("got err %v, want ErrDefective", err)
			}
			var de *segment.DefectError
			if !errors.As(err, &de) || de.Defects[0].Kind != tc.want {
				t.Fatalf("got defects %v, want first kind %v", info.Defects, tc.want)
			}
		})
	}
	// The rebuilt clean segment (same samples) has no defect: the crafted
	// variants above differ only by the injected fault.
	if err := segment.Inspect(vin, buildSegment(t, id, ss), nil).Err(); err != nil {
		t.Fatalf("rebuilt clean segment: %v", err)
	}
}

// TestInspectChunks: a segment cut into CMAF chunks inspects chunk by chunk
// with continuity, and InspectChunk does not demand a keyframe mid-segment.
func TestInspectChunks(t *testing.T) {
	in, segs := vodRendition(t, "1")
	id, ss := vodSamples(t, readFile(t, "init-1.mp4"), segs[0])
	var prev *segment.Info
	for i := 0; i < len(ss); i += 10 {
		chunk := buildSegment(t, id, ss[i:min(i+10, len(ss))])
		info := segment.InspectChunk(in, chunk, prev)
		if err := info.Err(); err != nil {
			t.Fatalf("chunk %d: %v", i/10, err)
		}
		if i > 0 {
			if full := segment.Inspect(in, chunk, prev); full.Valid() {
				t.Fatalf("chunk %d: Inspect accepted a chunk without keyframe", i/10)
			}
		}
		prev = info
	}
	if got, want := prev.Tracks[0].End(), uint64(25600); got != want {
		t.Fatalf("end of last chunk: got %d, want %d", got, want)
	}
}

func TestInspectInitRejects(t *testing.T) {
	good := readFile(t, "init-0.mp4")
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-10]},
		{"media-segment", readFile(t, "seg-0-1.m4s")},
		{"ftyp-only", good[:bytes.Index(good, []byte("moov"))-4]},
		{"too-large", append(append([]byte(nil), good...), make([]byte, segment.MaxInitSize)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := segment.InspectInit(tc.data); !errors.Is(err, segment.ErrMalformed) {
				t.Fatalf("got %v, want ErrMalformed", err)
			}
		})
	}
}

func TestInfoBinaryRoundTrip(t *testing.T) {
	in, segs := vodRendition(t, "2")
	info := segment.Inspect(in, segs[1], segment.Inspect(in, segs[3], nil))
	info.Number = 1 << 40
	info.Tracks[0].Bytes = 1 << 33 // a fuzzed trun can sum sizes past 32 bits
	if info.Valid() {
		t.Fatal("want a defective info to round-trip defects too")
	}
	b, err := info.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got segment.Info
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) || got.Number != info.Number || got.Tracks[0].Bytes != 1<<33 || got.Tracks[0] != info.Tracks[0] || got.Defects[0] != info.Defects[0] {
		t.Fatalf("round trip: got %+v, want %+v", got, *info)
	}
	for i := range b {
		if err := new(segment.Info).UnmarshalBinary(b[:i]); err == nil {
			t.Fatalf("prefix of %d bytes decoded without error", i)
		}
	}
}
