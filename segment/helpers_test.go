package segment_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

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
