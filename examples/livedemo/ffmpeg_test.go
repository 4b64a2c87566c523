package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/internal/peertest"
)

// TestFFmpegThroughEdge is the reference-client test: ffmpeg's dash muxer
// pushes a live stream (testsrc2 + sine, libx264 + aac) into the origin by
// chunked HTTP PUT with an ingest token; ffmpeg then reads the MPD through an
// edge and decodes at least 15 s without an error, and ffprobe reads the HLS
// playlists through another edge.
func TestFFmpegThroughEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ffmpeg := peertest.Exec(t, "ffmpeg", "apt-get install ffmpeg")
	ffprobe := peertest.Exec(t, "ffprobe", "apt-get install ffmpeg")
	tr, logs := startTestTier(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const pushSeconds = 34
	push := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", fmt.Sprint(pushSeconds), "-map", "0:v", "-map", "1:a",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-bf", "0", "-b:v", "300k",
		"-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2",
		"-f", "dash", "-seg_duration", "2", "-streaming", "1", "-use_template", "1", "-use_timeline", "0",
		"-adaptation_sets", "id=0,streams=v id=1,streams=a",
		"-init_seg_name", "init-$RepresentationID$.m4s", "-media_seg_name", "seg-$RepresentationID$-$Number$.m4s",
		"-method", "PUT", "-http_persistent", "0",
		"-http_opts", `headers=X-Ingest-Token\: `+tr.token,
		tr.originURL+"/ingest/live1/a/manifest.mpd")
	var pushErr bytes.Buffer
	push.Stderr = &pushErr
	if err := push.Start(); err != nil {
		t.Fatal(err)
	}
	pushed := make(chan error, 1)
	go func() { pushed <- push.Wait() }()

	// Wait for enough of the stream to exist behind the reader's start
	// (ffmpeg starts suggestedPresentationDelay = 6 s behind the live edge).
	mpd := tr.edgeURLs[1] + "/live/live1/manifest.mpd"
	waitFor(t, 20*time.Second, func() bool {
		b, err := fetch(http.DefaultClient, mpd)
		return err == nil && bytes.Count(b, []byte("<Representation")) == 2
	})
	time.Sleep(8 * time.Second)

	read := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-nostats",
		"-re", "-i", mpd, "-map", "0:v:0", "-map", "0:a:0", "-t", "16", "-f", "framemd5", "-")
	var out, readErr bytes.Buffer
	read.Stdout, read.Stderr = &out, &readErr
	start := time.Now()
	if err := read.Run(); err != nil {
		t.Fatalf("ffmpeg read through the edge: %v\n%s\norigin/edge logs:\n%s", err, readErr.String(), logs.String())
	}
	video, audio := 0, 0
	for _, line := range strings.Split(out.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "0,"):
			video++
		case strings.HasPrefix(line, "1,"):
			audio++
		}
	}
	t.Logf("ffmpeg decoded %d video frames (%.1f s at 25 fps) and %d audio frames through the edge in %v", video, float64(video)/25, audio, time.Since(start).Round(time.Millisecond))
	if video < 15*25 {
		t.Errorf("decoded %d video frames, want >= %d (15 s)", video, 15*25)
	}
	if audio < 15*48000/1024 {
		t.Errorf("decoded %d audio frames, want >= %d (15 s)", audio, 15*48000/1024)
	}
	if s := strings.TrimSpace(readErr.String()); s != "" {
		t.Errorf("ffmpeg reported errors while reading:\n%s", s)
	}

	probe := exec.CommandContext(ctx, ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", tr.edgeURLs[2]+"/live/live1/master.m3u8")
	var pout, perr bytes.Buffer
	probe.Stdout, probe.Stderr = &pout, &perr
	if err := probe.Run(); err != nil || strings.TrimSpace(perr.String()) != "" {
		t.Errorf("ffprobe of the HLS playlist: %v\n%s", err, perr.String())
	}
	if got := pout.String(); !strings.Contains(got, "h264") || !strings.Contains(got, "aac") {
		t.Errorf("ffprobe streams: got %q, want h264 and aac", got)
	}

	select {
	case err := <-pushed:
		if err != nil {
			t.Errorf("ffmpeg push: %v\n%s", err, pushErr.String())
		}
	case <-ctx.Done():
		t.Fatal("push did not end")
	}
	// ffmpeg's one known complaint about HTTP output is harmless.
	for _, l := range strings.Split(strings.TrimSpace(pushErr.String()), "\n") {
		if l != "" && !strings.Contains(l, "Cannot use rename on non file protocol") && !strings.Contains(l, "No trailing CRLF") {
			t.Errorf("ffmpeg push error: %s", l)
		}
	}
	st := tr.origin.Stats()
	t.Logf("origin: published %d, defects %d, late %d, held %d (timed out %d), segment bodies served %d; edges: %+v", st.Published, st.Defects, st.Late, st.Held, st.HeldTimeouts, st.SegmentGets, tr.stats())
	if st.Published < 2*(pushSeconds/2-2) {
		t.Errorf("published %d segments, want >= %d", st.Published, 2*(pushSeconds/2-2))
	}
	if st.SegmentGets > st.Published {
		t.Errorf("origin served %d segment bodies for %d segments: the tier fetched some more than once", st.SegmentGets, st.Published)
	}
}

func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
