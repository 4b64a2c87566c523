package segment_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgekit/edgekit/segment"
)

// vodDir holds the committed ffmpeg-made asset (see testdata/README.md).
const vodDir = "testdata/vod"

// vodReps are the representation ids of the committed asset.
var vodReps = []string{"0", "1", "2", "3"}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vodDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vodRendition returns the parsed init and the raw media segments of one
// representation of the committed asset.
func vodRendition(t testing.TB, rep string) (*segment.Init, [][]byte) {
	t.Helper()
	in, err := segment.InspectInit(readFile(t, "init-"+rep+".mp4"))
	if err != nil {
		t.Fatalf("InspectInit(%s): %v", rep, err)
	}
	var segs [][]byte
	for n := 1; ; n++ {
		b, err := os.ReadFile(filepath.Join(vodDir, fmt.Sprintf("seg-%s-%d.m4s", rep, n)))
		if err != nil {
			break
		}
		segs = append(segs, b)
	}
	if len(segs) < 4 {
		t.Fatalf("rep %s: %d segments, want >= 4", rep, len(segs))
	}
	return in, segs
}

func loadVOD(t testing.TB) *segment.Asset {
	t.Helper()
	a, err := segment.LoadDASH(os.DirFS(vodDir), "manifest.mpd")
	if err != nil {
		t.Fatalf("LoadDASH: %v", err)
	}
	return a
}

// ffmpegMP4 runs ffmpeg quietly with args (inputs, codecs, -movflags) and
// returns the MP4 it writes, failing t if ffmpeg fails or takes over a
// minute.
func ffmpegMP4(t testing.TB, ffmpeg string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.mp4")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)
	cmd := exec.CommandContext(ctx, ffmpeg, append(args, "-f", "mp4", out)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
