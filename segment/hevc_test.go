package segment_test

import (
	"strings"
	"testing"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/segment"
)

// TestInspectHEVC: an HEVC (libx265) fragmented MP4 from ffmpeg yields an
// hvc1 codec string and segments that start with an IRAP picture; the same
// segment with its first sample removed is flagged.
func TestInspectHEVC(t *testing.T) {
	ffmpeg := peertest.Exec(t, "ffmpeg", "apt-get install ffmpeg")
	raw := ffmpegMP4(t, ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "4",
		"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "keyint=50:min-keyint=50:scenecut=0:bframes=0:log-level=error",
		"-tag:v", "hvc1", "-movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf")
	initBytes, segs := splitFragmented(t, raw)
	in, err := segment.InspectInit(initBytes)
	if err != nil {
		t.Fatal(err)
	}
	if c := in.Tracks[0].Codec; !strings.HasPrefix(c, "hvc1.") || in.Tracks[0].Width != 320 {
		t.Fatalf("track: got %+v, want an hvc1.* codec string at 320 wide", in.Tracks[0])
	}
	if len(segs) < 2 {
		t.Fatalf("%d segments, want 2", len(segs))
	}
	var prev *segment.Info
	for i, s := range segs {
		info := segment.Inspect(in, s, prev)
		if err := info.Err(); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if ti, _ := info.Reference(); !ti.StartsWithIDR {
			t.Fatalf("segment %d: no IRAP at start", i)
		}
		prev = info
	}
	_, ss := vodSamples(t, initBytes, segs[0])
	rest := ss[1:]
	rest[0].Flags = 0x02000000 // claims sync, holds a TRAIL picture
	if info := segment.Inspect(in, buildSegment(t, in.Tracks[0].ID, rest), nil); info.Valid() || info.Defects[0].Kind != segment.DefectNoKeyframe {
		t.Fatalf("HEVC segment starting with a non-IRAP picture: defects %v", info.Defects)
	}
}
