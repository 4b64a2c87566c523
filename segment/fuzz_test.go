package segment_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/edgekit/edgekit/segment"
)

// seedSegments adds every committed media segment plus a few cut and
// spliced variants to the corpus.
func seedSegments(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(vodDir, "seg-*.m4s"))
	if len(names) == 0 {
		f.Fatal("no committed segments to seed the corpus")
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(b[:200])
	}
}

// checkInfo asserts the invariants every Inspect result must satisfy,
// whatever the input.
func checkInfo(t *testing.T, info *segment.Info, data []byte) {
	t.Helper()
	if info == nil {
		t.Fatal("nil Info")
	}
	if info.Size != len(data) {
		t.Fatalf("Size: got %d, want %d", info.Size, len(data))
	}
	if info.Valid() && info.Fragments == 0 {
		t.Fatal("valid segment without fragments")
	}
	if len(info.Defects) > 32 {
		t.Fatalf("%d defects, want at most 32", len(info.Defects))
	}
	b, err := info.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back segment.Info
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatalf("round trip of fuzzed info: %v", err)
	}
}

func FuzzInspect(f *testing.F) {
	seedSegments(f)
	in, err := segment.InspectInit(readFile(f, "init-0.mp4"))
	if err != nil {
		f.Fatal(err)
	}
	prev := segment.Inspect(in, readFile(f, "seg-0-1.m4s"), nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkInfo(t, segment.Inspect(in, data, prev), data)
		checkInfo(t, segment.InspectChunk(in, data, nil), data)
	})
}

func FuzzInspectInit(f *testing.F) {
	names, _ := filepath.Glob(filepath.Join(vodDir, "init-*.mp4"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in, err := segment.InspectInit(data)
		if err != nil {
			return
		}
		if len(in.Tracks) == 0 || in.Size != len(data) {
			t.Fatalf("accepted init with %d tracks, size %d of %d", len(in.Tracks), in.Size, len(data))
		}
		// An accepted init must be usable for inspection without trouble.
		segment.Inspect(in, readFile(t, "seg-0-1.m4s"), nil)
	})
}

func FuzzInfoUnmarshal(f *testing.F) {
	in, segs := vodRendition(f, "3")
	for _, s := range segs {
		b, _ := segment.Inspect(in, s, nil).MarshalBinary()
		f.Add(b)
	}
	bad := segment.Inspect(in, segs[0][:100], nil)
	b, _ := bad.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		var info segment.Info
		if err := info.UnmarshalBinary(data); err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes (canonical form).
		out, _ := info.MarshalBinary()
		var again segment.Info
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		out2, _ := again.MarshalBinary()
		if !bytes.Equal(out, out2) {
			t.Fatal("encoding is not stable")
		}
	})
}

// TestInspectSurvivesMP4ffGaps feeds the inputs that make mp4ff v0.56.0
// panic, loop forever or silently accept damage (research note §1b), each
// under a deadline, and checks that Inspect reports a defect instead.
func TestInspectSurvivesMP4ffGaps(t *testing.T) {
	in, segs := vodRendition(t, "0")
	id, ss := vodSamples(t, readFile(t, "init-0.mp4"), segs[0])
	withData := func(first []byte) []byte {
		c := append([]mp4.FullSample(nil), ss...)
		c[0].Data = first
		c[0].Size = uint32(len(first))
		return buildSegment(t, id, c)
	}
	hugeCount := append([]byte(nil), segs[1]...)
	trun := bytes.Index(hugeCount, []byte("trun"))
	binary.BigEndian.PutUint32(hugeCount[trun+8:], 0xffffffff)
	cases := []struct {
		name string
		data []byte
	}{
		{"empty-first-sample", withData(nil)},                                    // avc.IsIDRSample panics
		{"three-byte-sample", withData([]byte{0, 0, 1})},                         // avc.IsIDRSample panics
		{"wrapping-nalu-length", withData([]byte{0xff, 0xff, 0xff, 0xfc, 0x65})}, // avc.IsIDRSample loops forever
		{"trun-larger-than-mdat", patch32(segs[1], trunField(t, segs[1], "size0"), 0x7fffffff)},
		{"truncated-mdat", segs[1][:len(segs[1])-1]}, // DecodeFileSR reports no error
		{"huge-sample-count", hugeCount},
		{"largesize-mdat", append([]byte{0, 0, 0, 1, 'm', 'd', 'a', 't', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan *segment.Info, 1)
			go func() { done <- segment.Inspect(in, tc.data, nil) }()
			select {
			case info := <-done:
				if info.Valid() {
					t.Fatalf("no defect reported for %s: %+v", tc.name, info)
				}
				t.Logf("%v", info.Defects[0])
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("Inspect hangs on %s", tc.name))
			}
		})
	}
}
