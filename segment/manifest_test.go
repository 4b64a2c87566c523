package segment_test

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/segment"
)

// lockedWindow inspects and locks segments first..last of a loop rendition,
// as an origin does with every ingested segment.
func lockedWindow(t testing.TB, loop *segment.Loop, id string, first, last uint64) (segment.Track, []segment.Info) {
	t.Helper()
	ib, err := loop.Init(id)
	if err != nil {
		t.Fatal(err)
	}
	in, err := segment.InspectInit(ib)
	if err != nil {
		t.Fatal(err)
	}
	var out []segment.Info
	var prev *segment.Info
	for n := first; n <= last; n++ {
		b, err := loop.Segment(id, n)
		if err != nil {
			t.Fatal(err)
		}
		info := segment.Inspect(in, b, prev)
		if err := loop.Epoch().Lock(info); err != nil && in.Tracks[0].Kind == "video" {
			t.Fatalf("segment %d: %v", n, err)
		}
		out = append(out, *info)
		prev = info
	}
	return in.Tracks[0], out
}

func testLoop(t testing.TB, opts *segment.LoopOptions) *segment.Loop {
	t.Helper()
	l, err := segment.NewLoop(loadVOD(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var epochStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// renderMPD renders m at now and parses the result back with dash-mpd, so
// every MPD test also checks that a real DASH library reads what we wrote.
func renderMPD(t testing.TB, m *segment.Manifest, now time.Time) ([]byte, *mpd.MPD) {
	t.Helper()
	b, err := m.MPD(now)
	if err != nil {
		t.Fatal(err)
	}
	d, err := mpd.MPDFromBytes(b)
	if err != nil {
		t.Fatalf("dash-mpd cannot read our MPD: %v\n%s", err, b)
	}
	return b, d
}

func TestMPDTemplate(t *testing.T) {
	loop := testLoop(t, &segment.LoopOptions{Start: epochStart, StartNumber: 1})
	m := loop.Manifest()
	m.UTCTimingURL = "http://origin.example/time?iso"
	now := epochStart.Add(time.Hour)
	b, d := renderMPD(t, m, now)
	if d.GetType() != "dynamic" || d.AvailabilityStartTime != "2026-01-01T00:00:00.000Z" || len(d.UTCTimings) != 1 ||
		string(d.UTCTimings[0].SchemeIdUri) != "urn:mpeg:dash:utc:http-xsdate:2014" || d.UTCTimings[0].Value != m.UTCTimingURL {
		t.Fatalf("MPD header wrong:\n%s", b)
	}
	as := d.Periods[0].AdaptationSets
	if len(as) != 2 || len(as[0].Representations) != 3 || len(as[1].Representations) != 1 {
		t.Fatalf("got %d adaptation sets, want video(3)+audio(1):\n%s", len(as), b)
	}
	st := as[0].Representations[0].SegmentTemplate
	if *st.Duration != 25600 || st.GetTimescale() != 12800 || *st.StartNumber != 1 || st.Media != "$RepresentationID$/$Number$.m4s" {
		t.Fatalf("video template: %+v", st)
	}
	if st.AvailabilityTimeComplete != nil {
		t.Fatal("non-low-latency MPD must not carry availabilityTimeComplete")
	}
}

func TestMPDLowLatency(t *testing.T) {
	loop := testLoop(t, &segment.LoopOptions{Start: epochStart, ChunkDuration: 500 * time.Millisecond})
	b, d := renderMPD(t, loop.Manifest(), epochStart.Add(time.Minute))
	st := d.Periods[0].AdaptationSets[0].Representations[0].SegmentTemplate
	if float64(st.AvailabilityTimeOffset) != 1.5 || st.AvailabilityTimeComplete == nil || *st.AvailabilityTimeComplete {
		t.Fatalf("want availabilityTimeOffset=1.5 availabilityTimeComplete=false:\n%s", b)
	}
	if len(d.ServiceDescription) != 1 || len(d.ServiceDescription[0].Latencies) != 1 {
		t.Fatalf("want a ServiceDescription with a latency target:\n%s", b)
	}
	if string(d.UTCTimings[0].SchemeIdUri) != "urn:mpeg:dash:utc:direct:2014" {
		t.Fatalf("without a URL the MPD must carry direct UTCTiming:\n%s", b)
	}
}

// TestMPDTimelineFromInfos builds a SegmentTimeline from inspected, locked
// segments with one missing, as an origin would.
func TestMPDTimelineFromInfos(t *testing.T) {
	loop := testLoop(t, &segment.LoopOptions{Start: epochStart})
	track, win := lockedWindow(t, loop, "0", 100, 107)
	win = append(win[:3], win[4:]...) // number 103 never arrived
	m := &segment.Manifest{Epoch: loop.Epoch(), Timeline: true, Renditions: []segment.Rendition{{ID: "0", Track: track, Segments: win}}}
	b, d := renderMPD(t, m, epochStart.Add(216*time.Second))
	st := d.Periods[0].AdaptationSets[0].Representations[0].SegmentTemplate
	if *st.StartNumber != 100 || st.SegmentTimeline == nil {
		t.Fatalf("timeline template wrong:\n%s", b)
	}
	var count int
	for _, s := range st.SegmentTimeline.S {
		count += s.R + 1
		if s.D != 25600 {
			t.Fatalf("S d=%d, want 25600:\n%s", s.D, b)
		}
	}
	if count != 8 || *st.SegmentTimeline.S[0].T != 100*25600 {
		t.Fatalf("timeline lists %d segments from t=%d, want 8 from %d (missing one filled from the grid):\n%s", count, *st.SegmentTimeline.S[0].T, 100*25600, b)
	}
	if bw := d.Periods[0].AdaptationSets[0].Representations[0].Bandwidth; bw < 80_000 || bw > 150_000 {
		t.Fatalf("estimated bandwidth %d, want about 100 kbit/s", bw)
	}
}

func TestHLSPlaylists(t *testing.T) {
	loop := testLoop(t, &segment.LoopOptions{Start: epochStart})
	track, win := lockedWindow(t, loop, "2", 10, 14)
	win = append(win[:2], win[3:]...) // 12 missing
	m := &segment.Manifest{Epoch: loop.Epoch(), Renditions: []segment.Rendition{{ID: "2", Track: track, Segments: win}}}
	b, err := m.MediaPlaylist("2", epochStart.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"#EXT-X-MEDIA-SEQUENCE:10\n", "#EXT-X-TARGETDURATION:2\n", "#EXT-X-MAP:URI=\"2/init.mp4\"\n",
		"#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:20.000Z\n#EXTINF:2.000,\n2/10.m4s\n", "#EXT-X-GAP\n#EXTINF:2.000,\n2/12.m4s\n", "2/14.m4s\n"} {
		if !strings.Contains(s, want) {
			t.Fatalf("media playlist lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, "#EXTINF"); n != 5 {
		t.Fatalf("%d segments, want 5:\n%s", n, s)
	}
	if _, err := m.MediaPlaylist("nope", epochStart); err == nil {
		t.Fatal("unknown rendition accepted")
	}

	mv, err := loop.Manifest().MultivariantPlaylist()
	if err != nil {
		t.Fatal(err)
	}
	s = string(mv)
	if strings.Count(s, "#EXT-X-STREAM-INF") != 3 || strings.Count(s, "#EXT-X-MEDIA:TYPE=AUDIO") != 1 ||
		!strings.Contains(s, `CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=320x180,FRAME-RATE=25.000,AUDIO="audio"`) {
		t.Fatalf("multivariant playlist:\n%s", s)
	}
}

// TestHLSReadByFFprobe serves the looping channel and has ffprobe read the
// multivariant playlist and a media playlist over HTTP.
func TestHLSReadByFFprobe(t *testing.T) {
	ffprobe := peertest.Exec(t, "ffprobe", "apt-get install ffmpeg")
	loop := testLoop(t, nil)
	srv := httptest.NewServer(loop.Handler(nil))
	defer srv.Close()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/master.m3u8", []string{"h264,320,180", "h264,640,360", "aac\n"}},
		{"/1.m3u8", []string{"h264,480,270"}},
		{"/3.m3u8", []string{"aac\n"}},
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries", "stream=codec_name,width,height",
				"-of", "csv=p=0", srv.URL+tc.path).CombinedOutput()
			if err != nil {
				t.Fatalf("ffprobe: %v\n%s", err, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Fatalf("ffprobe output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestManifestRejects(t *testing.T) {
	tr := segment.Track{ID: 1, Kind: "video", Timescale: 90000, Codec: "avc1.64001f"}
	for _, tc := range []struct {
		name string
		m    segment.Manifest
	}{
		{"no-duration", segment.Manifest{Renditions: []segment.Rendition{{ID: "v", Track: tr}}}},
		{"no-renditions", segment.Manifest{Epoch: segment.Epoch{SegmentDuration: time.Second}}},
		{"bad-id", segment.Manifest{Epoch: segment.Epoch{SegmentDuration: time.Second}, Renditions: []segment.Rendition{{ID: "a/b", Track: tr}}}},
		{"chunk-too-long", segment.Manifest{Epoch: segment.Epoch{SegmentDuration: time.Second}, ChunkDuration: time.Second, Renditions: []segment.Rendition{{ID: "v", Track: tr}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.m.MPD(time.Now()); err == nil {
				t.Fatal("MPD accepted an invalid manifest")
			}
			if _, err := tc.m.MultivariantPlaylist(); err == nil {
				t.Fatal("MultivariantPlaylist accepted an invalid manifest")
			}
		})
	}
}
