package segment_test

import (
	"errors"
	"testing"
	"testing/fstest"

	"github.com/edgekit/edgekit/segment"
)

func TestNewAssetRejects(t *testing.T) {
	init0 := readFile(t, "init-0.mp4")
	s1, s2 := readFile(t, "seg-0-1.m4s"), readFile(t, "seg-0-2.m4s")
	for _, tc := range []struct {
		name    string
		sources []segment.RenditionSource
	}{
		{"none", nil},
		{"bad-init", []segment.RenditionSource{{ID: "v", Init: init0[:20], Segments: [][]byte{s1}}}},
		{"no-segments", []segment.RenditionSource{{ID: "v", Init: init0}}},
		{"gap-between-segments", []segment.RenditionSource{{ID: "v", Init: init0, Segments: [][]byte{s1, readFile(t, "seg-0-3.m4s")}}}},
		{"defective-segment", []segment.RenditionSource{{ID: "v", Init: init0, Segments: [][]byte{s1, s2[:len(s2)-5]}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := segment.NewAsset(tc.sources)
			if !errors.Is(err, segment.ErrMalformed) && !errors.Is(err, segment.ErrDefective) {
				t.Fatalf("got %v, want ErrMalformed or ErrDefective", err)
			}
		})
	}
	a, err := segment.NewAsset([]segment.RenditionSource{{ID: "v", Init: init0, Segments: [][]byte{s1, s2}}})
	if err != nil || a.LoopDuration() != 4e9 {
		t.Fatalf("two clean segments: %v, loop %v", err, a)
	}
}

func TestLoadDASHErrors(t *testing.T) {
	fsys := fstest.MapFS{
		"bad.mpd":    {Data: []byte("<MPD")},
		"nosegs.mpd": {Data: []byte(`<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"><Period><AdaptationSet><Representation id="a" bandwidth="1"></Representation></AdaptationSet></Period></MPD>`)},
	}
	if _, err := segment.LoadDASH(fsys, "missing.mpd"); err == nil {
		t.Fatal("missing MPD accepted")
	}
	if _, err := segment.LoadDASH(fsys, "bad.mpd"); !errors.Is(err, segment.ErrMalformed) {
		t.Fatalf("bad MPD: got %v", err)
	}
	if _, err := segment.LoadDASH(fsys, "nosegs.mpd"); !errors.Is(err, segment.ErrMalformed) {
		t.Fatalf("MPD without template: got %v", err)
	}
}
