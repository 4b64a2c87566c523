package segment_test

import (
	"context"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/segment"
)

// TestLoopPlaysInFFmpeg serves the looping channel over HTTP and lets
// ffmpeg's DASH demuxer decode 10 s of it: the real-player oracle for the
// MPD, the init rewrite and the tfdt/sequence rewriting.
func TestLoopPlaysInFFmpeg(t *testing.T) {
	ffmpeg := peertest.Exec(t, "ffmpeg", "apt-get install ffmpeg")
	for _, tc := range []struct {
		name     string
		timeline bool
		chunk    time.Duration
	}{{"number", false, 0}, {"timeline", true, 0}, {"chunked-low-latency", false, 500 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			loop, err := segment.NewLoop(loadVOD(t), &segment.LoopOptions{ChunkDuration: tc.chunk})
			if err != nil {
				t.Fatal(err)
			}
			m := loop.Manifest()
			m.Timeline = tc.timeline
			if tc.timeline {
				// The origin's path: a window of inspected, locked Infos.
				last, _ := loop.Epoch().Latest(time.Now())
				for i := range m.Renditions {
					_, m.Renditions[i].Segments = lockedWindow(t, loop, m.Renditions[i].ID, last-10, last)
				}
			}
			m.SuggestedPresentationDelay = 4 * time.Second
			srv := httptest.NewServer(loop.Handler(&segment.HandlerOptions{Manifest: m}))
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning",
				"-i", srv.URL+"/manifest.mpd", "-map", "0", "-t", "10", "-progress", "pipe:1", "-f", "null", "-")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, stderr.String())
			}
			if s := stderr.String(); strings.Contains(s, "rror") || strings.Contains(s, "Failed") {
				t.Fatalf("ffmpeg reported problems:\n%s", s)
			}
			if got := lastOutTime(string(out)); got < 9500*time.Millisecond {
				t.Fatalf("ffmpeg decoded %v of media, want about 10s\n%s", got, out)
			}
		})
	}
}

// lastOutTime returns the last out_time_us of ffmpeg's -progress output.
func lastOutTime(progress string) time.Duration {
	var last time.Duration
	for _, line := range strings.Split(progress, "\n") {
		if v, ok := strings.CutPrefix(line, "out_time_us="); ok {
			if us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				last = time.Duration(us) * time.Microsecond
			}
		}
	}
	return last
}
