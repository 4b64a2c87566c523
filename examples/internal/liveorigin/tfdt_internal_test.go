package liveorigin

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgekit/edgekit/segment"
)

func vodFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../segment/testdata/vod", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShiftTfdt(t *testing.T) {
	in, err := segment.InspectInit(vodFile(t, "init-3.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	orig := vodFile(t, "seg-3-2.m4s")
	before := segment.Inspect(in, orig, nil)
	for _, off := range []time.Duration{0, 2 * time.Second, 60000 * time.Hour, -2 * time.Second} {
		b := bytes.Clone(orig)
		if err := shiftTfdt(b, in, off); err != nil {
			t.Fatalf("offset %v: %v", off, err)
		}
		after := segment.Inspect(in, b, nil)
		ref0, _ := before.Reference()
		ref1, _ := after.Reference()
		if got, want := ref1.Seconds(ref1.BaseMediaDecodeTime), ref0.Seconds(ref0.BaseMediaDecodeTime)+off; got != want {
			t.Errorf("offset %v: tfdt got %v want %v", off, got, want)
		}
		if !after.Valid() || after.Size != before.Size {
			t.Errorf("offset %v: shifted segment invalid (%v) or resized", off, after.Err())
		}
	}
	if err := shiftTfdt(bytes.Clone(orig), in, -time.Hour); err == nil {
		t.Error("a shift below media time 0 was accepted")
	}
}

// FuzzShiftTfdt: the box walk never panics or reads out of bounds on any
// input, whatever Inspect thought of it.
func FuzzShiftTfdt(f *testing.F) {
	initB := vodFile(f, "init-0.mp4")
	in, err := segment.InspectInit(initB)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(vodFile(f, "seg-0-1.m4s")[:4096], int64(time.Hour))
	f.Add([]byte{0, 0, 0, 8, 'm', 'o', 'o', 'f'}, int64(time.Second))
	f.Add([]byte{0, 0, 0, 1, 'm', 'o', 'o', 'f', 0, 0, 0, 0, 0, 0, 0, 16}, int64(time.Second))
	f.Add([]byte{0, 0, 0, 24, 'm', 'o', 'o', 'f', 0, 0, 0, 16, 't', 'r', 'a', 'f', 0, 0, 0, 8, 't', 'f', 'd', 't'}, int64(-time.Second))
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		_ = shiftTfdt(data, in, time.Duration(off))
	})
}
