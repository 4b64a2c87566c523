package segment

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Asset is a VoD CMAF asset held in memory, ready to be looped by a Loop:
// per rendition the init segment and every sample (timing, flags and bytes),
// trimmed to a common loop duration that is a whole number of segments.
// An Asset is immutable after construction and safe for concurrent use.
type Asset struct {
	renditions      []*assetRendition
	segmentDuration time.Duration
	loop            time.Duration
}

// assetRendition is one track of the asset.
type assetRendition struct {
	id        string
	init      []byte // live-ready init segment (no mehd, zero durations)
	track     Track
	samples   []mp4.FullSample // DecodeTime relative to the asset start
	loopTicks uint64
	bandwidth int
}

// RenditionSource is the raw material of one rendition: its init segment
// and its media segments in order. Each media segment must carry one track.
// NewAsset keeps references to the byte slices: do not modify them later.
type RenditionSource struct {
	ID       string
	Init     []byte
	Segments [][]byte
}

// SegmentDuration returns the asset's segment duration (that of the first
// video rendition's first segment, or of the first rendition).
func (a *Asset) SegmentDuration() time.Duration { return a.segmentDuration }

// LoopDuration returns the duration after which the asset repeats.
func (a *Asset) LoopDuration() time.Duration { return a.loop }

// NewAsset builds an Asset from raw segments. Every segment is inspected
// first and must be valid and contiguous; the loop duration is the shortest
// rendition duration rounded down to whole segments, and longer renditions
// are trimmed to it (a sample straddling the loop end is shortened, so every
// loop has exactly the same length in every track).
func NewAsset(sources []RenditionSource) (*Asset, error) {
	if len(sources) == 0 {
		return nil, fmt.Errorf("%w: asset: no renditions", ErrMalformed)
	}
	a := &Asset{}
	var durations []time.Duration
	for _, src := range sources {
		r, segDur, total, err := loadRendition(src)
		if err != nil {
			return nil, err
		}
		// The first video rendition defines the segment grid; audio
		// segments only approximate it (AAC frames do not divide it).
		if a.segmentDuration == 0 || (r.track.Kind == "video" && !a.hasVideo()) {
			a.segmentDuration = segDur
		}
		a.renditions = append(a.renditions, r)
		durations = append(durations, total)
	}
	minDur := durations[0]
	for _, d := range durations {
		minDur = min(minDur, d)
	}
	// Round to whole segments, tolerating a few ms of encoder rounding.
	nseg := (minDur + DefaultTolerance) / a.segmentDuration
	if nseg < 1 {
		return nil, fmt.Errorf("%w: asset: shorter (%v) than one segment (%v)", ErrMalformed, minDur, a.segmentDuration)
	}
	a.loop = nseg * a.segmentDuration
	for _, r := range a.renditions {
		r.trim(durationToTicks(a.loop, r.track.Timescale))
		var bytes int
		for _, s := range r.samples {
			bytes += len(s.Data)
		}
		r.bandwidth = int(float64(bytes*8) / a.loop.Seconds())
	}
	return a, nil
}

func (a *Asset) hasVideo() bool {
	for _, r := range a.renditions {
		if r.track.Kind == "video" {
			return true
		}
	}
	return false
}

// loadRendition inspects and unpacks one rendition.
func loadRendition(src RenditionSource) (r *assetRendition, segDur, total time.Duration, err error) {
	in, err := InspectInit(src.Init)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("rendition %q: %w", src.ID, err)
	}
	if len(in.Tracks) != 1 {
		return nil, 0, 0, fmt.Errorf("%w: asset: rendition %q has %d tracks, want 1", ErrMalformed, src.ID, len(in.Tracks))
	}
	if len(src.Segments) == 0 {
		return nil, 0, 0, fmt.Errorf("%w: asset: rendition %q has no segments", ErrMalformed, src.ID)
	}
	r = &assetRendition{id: src.ID, track: in.Tracks[0]}
	if r.init, err = liveInit(src.Init); err != nil {
		return nil, 0, 0, fmt.Errorf("rendition %q: %w", src.ID, err)
	}
	var prev *Info
	var base uint64
	for i, seg := range src.Segments {
		info := Inspect(in, seg, prev)
		if err := info.Err(); err != nil {
			return nil, 0, 0, fmt.Errorf("rendition %q segment %d: %w", src.ID, i, err)
		}
		t, _ := info.Reference()
		if i == 0 {
			base = t.BaseMediaDecodeTime
			segDur = t.Seconds(t.Duration)
		}
		ss, err := samplesOf(in, seg)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("rendition %q segment %d: %w", src.ID, i, err)
		}
		for _, s := range ss {
			s.DecodeTime -= base
			r.samples = append(r.samples, s)
		}
		prev = info
	}
	t, _ := prev.Reference()
	return r, segDur, t.Seconds(t.End() - base), nil
}

// trim drops samples at or after loopTicks and shortens one that straddles
// it, so the rendition's timeline is exactly loopTicks long.
func (r *assetRendition) trim(loopTicks uint64) {
	r.loopTicks = loopTicks
	n := sort.Search(len(r.samples), func(i int) bool { return r.samples[i].DecodeTime >= loopTicks })
	r.samples = r.samples[:n]
	if n > 0 {
		last := &r.samples[n-1]
		if end := last.DecodeTime + uint64(last.Dur); end > loopTicks {
			last.Dur = uint32(loopTicks - last.DecodeTime)
		}
	}
}

// samplesOf returns the samples of a segment already proven valid by
// Inspect, with Data aliasing seg.
func samplesOf(in *Init, seg []byte) ([]mp4.FullSample, error) {
	boxes, _ := walkBoxes(seg, 0, len(seg), nil)
	var out []mp4.FullSample
	for i := 0; i+1 < len(boxes); i++ {
		if !boxes[i].is("moof") {
			continue
		}
		moof, err := decodeMoof(seg, boxes[i])
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		for _, traf := range moof.Trafs {
			t, _ := in.Track(traf.Tfhd.TrackID)
			pos := int64(boxes[i].start)
			dt := traf.Tfdt.BaseMediaDecodeTime()
			for _, trun := range traf.Truns {
				if trun.HasDataOffset() {
					pos = int64(boxes[i].start) + int64(trun.DataOffset)
				}
				for j, s := range trun.Samples {
					fs := mp4.FullSample{Sample: mp4.Sample{
						Flags:                 sampleFlags(j, s, trun, traf.Tfhd, t),
						Dur:                   sampleDur(s, trun, traf.Tfhd, t),
						Size:                  sampleSize(s, trun, traf.Tfhd, t),
						CompositionTimeOffset: s.CompositionTimeOffset,
					}, DecodeTime: dt}
					fs.Data = seg[pos : pos+int64(fs.Size)]
					pos += int64(fs.Size)
					dt += uint64(fs.Dur)
					out = append(out, fs)
				}
			}
		}
	}
	return out, nil
}

// liveInit rewrites a VoD init segment for live use: the mehd (fragment
// duration of the whole presentation) goes and the movie, track and media
// durations become 0, as a live init must not announce an end.
func liveInit(data []byte) ([]byte, error) {
	f, err := mp4.DecodeFile(bytes.NewReader(data))
	if err != nil || f.Init == nil || f.Init.Moov == nil {
		return nil, fmt.Errorf("%w: init: cannot re-encode: %v", ErrMalformed, err)
	}
	moov := f.Init.Moov
	if moov.Mvhd != nil {
		moov.Mvhd.Duration = 0
	}
	for _, trak := range moov.Traks {
		if trak.Tkhd != nil {
			trak.Tkhd.Duration = 0
		}
		if trak.Mdia != nil && trak.Mdia.Mdhd != nil {
			trak.Mdia.Mdhd.Duration = 0
		}
	}
	if mvex := moov.Mvex; mvex != nil && mvex.Mehd != nil {
		kids := mvex.Children[:0]
		for _, c := range mvex.Children {
			if c != mvex.Mehd {
				kids = append(kids, c)
			}
		}
		mvex.Children, mvex.Mehd = kids, nil
	}
	var b bytes.Buffer
	if err := f.Init.Encode(&b); err != nil {
		return nil, fmt.Errorf("%w: init: %v", ErrMalformed, err)
	}
	return b.Bytes(), nil
}

// LoadDASH loads a VoD asset described by a static DASH MPD at mpdPath in
// fsys: one Period, SegmentTemplate with $RepresentationID$ and $Number$ (at
// AdaptationSet or Representation level). Media segments are read from
// startNumber on until a file is missing. Representation ids become
// rendition ids.
func LoadDASH(fsys fs.FS, mpdPath string) (*Asset, error) {
	raw, err := fs.ReadFile(fsys, mpdPath)
	if err != nil {
		return nil, err
	}
	m, err := mpd.MPDFromBytes(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: asset: mpd: %v", ErrMalformed, err)
	}
	if len(m.Periods) != 1 {
		return nil, fmt.Errorf("%w: asset: want 1 period, have %d", ErrMalformed, len(m.Periods))
	}
	dir := path.Dir(mpdPath)
	var sources []RenditionSource
	for _, as := range m.Periods[0].AdaptationSets {
		for _, rep := range as.Representations {
			st := rep.SegmentTemplate
			if st == nil {
				st = as.SegmentTemplate
			}
			if st == nil || st.Media == "" || st.Initialization == "" {
				return nil, fmt.Errorf("%w: asset: representation %q lacks a SegmentTemplate", ErrMalformed, rep.Id)
			}
			src := RenditionSource{ID: rep.Id}
			if src.Init, err = fs.ReadFile(fsys, path.Join(dir, expand(st.Initialization, rep.Id, 0))); err != nil {
				return nil, err
			}
			n := uint64(1)
			if st.StartNumber != nil {
				n = uint64(*st.StartNumber)
			}
			for ; ; n++ {
				b, err := fs.ReadFile(fsys, path.Join(dir, expand(st.Media, rep.Id, n)))
				if err != nil {
					break
				}
				src.Segments = append(src.Segments, b)
			}
			sources = append(sources, src)
		}
	}
	return NewAsset(sources)
}
