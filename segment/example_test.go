package segment_test

import (
	"fmt"
	"os"
	"time"

	"github.com/edgekit/edgekit/segment"
)

// Inspect a segment against its init segment and the previous segment, then
// lock it to the epoch grid.
func ExampleInspect() {
	initBytes, _ := os.ReadFile("testdata/vod/init-0.mp4")
	in, err := segment.InspectInit(initBytes)
	if err != nil {
		panic(err)
	}
	t := in.Tracks[0]
	fmt.Println(t.Kind, t.Codec, t.Width, t.Height, t.Timescale)

	var prev *segment.Info
	epoch := segment.Epoch{SegmentDuration: 2 * time.Second, StartNumber: 1}
	for _, name := range []string{"seg-0-1.m4s", "seg-0-2.m4s", "seg-0-4.m4s"} {
		body, _ := os.ReadFile("testdata/vod/" + name)
		info := segment.Inspect(in, body, prev)
		_ = epoch.Lock(info)
		ti, _ := info.Reference()
		fmt.Println(name, "number", info.Number, "tfdt", ti.BaseMediaDecodeTime, "samples", ti.Samples, "idr", ti.StartsWithIDR, "defects", info.Defects)
		prev = info
	}
	// Output:
	// video avc1.64001f 320 180 12800
	// seg-0-1.m4s number 1 tfdt 0 samples 50 idr true defects []
	// seg-0-2.m4s number 2 tfdt 25600 samples 50 idr true defects []
	// seg-0-4.m4s number 4 tfdt 76800 samples 50 idr true defects [gap (track 1): starts at 76800, previous segment ended at 51200 (gap of 25600 ticks)]
}

// Pick the segment to serve among two redundant pipelines.
func ExampleSelect() {
	good := &segment.Info{Number: 42}
	broken := &segment.Info{Number: 42, Defects: []segment.Defect{{Kind: segment.DefectNoKeyframe, Track: 1, Detail: "first sample is not a sync sample"}}}
	sel, err := segment.Select(42, []string{"east", "west"}, []segment.Candidate{
		{Pipeline: "west", Info: good},
		{Pipeline: "east", Info: broken},
	})
	fmt.Println(sel.Pipeline, err)
	for _, r := range sel.Rejected {
		fmt.Println("rejected", r.Pipeline, r.Defects[0])
	}
	// Output:
	// west <nil>
	// rejected east no-keyframe (track 1): first sample is not a sync sample
}

// Derive segment numbers and availability times from the epoch.
func ExampleEpoch() {
	e := segment.Epoch{Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), SegmentDuration: 2 * time.Second}
	n, _ := e.Number(3600 * time.Second)
	fmt.Println(n, e.AvailabilityTime(n).Format(time.RFC3339))
	_, err := e.Number(3601 * time.Second)
	fmt.Println(err)
	// Output:
	// 1800 2026-01-01T01:00:02Z
	// edgekit/segment: media time off the epoch grid: media time 1h0m1s is 1s from the nearest boundary (slot 1800)
}

// Render an HLS media playlist for a live channel looping the committed
// asset, at a fixed instant.
func ExampleLoop() {
	asset, err := segment.LoadDASH(os.DirFS("testdata/vod"), "manifest.mpd")
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	loop, _ := segment.NewLoop(asset, &segment.LoopOptions{Start: start, TimeShiftBufferDepth: 6 * time.Second})
	m := loop.Manifest()
	pl, _ := m.MediaPlaylist("0", start.Add(61*time.Second))
	fmt.Print(string(pl))
	// Output:
	// #EXTM3U
	// #EXT-X-VERSION:7
	// #EXT-X-TARGETDURATION:2
	// #EXT-X-MEDIA-SEQUENCE:27
	// #EXT-X-INDEPENDENT-SEGMENTS
	// #EXT-X-MAP:URI="0/init.mp4"
	// #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:54.000Z
	// #EXTINF:2.000,
	// 0/27.m4s
	// #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:56.000Z
	// #EXTINF:2.000,
	// 0/28.m4s
	// #EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:58.000Z
	// #EXTINF:2.000,
	// 0/29.m4s
}
