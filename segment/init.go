package segment

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Init describes a CMAF header (init segment): the tracks a media segment may
// carry. It is produced by InspectInit, never modified afterwards, and safe
// for concurrent use by any number of Inspect calls.
type Init struct {
	// Tracks in the order of the moov's trak boxes.
	Tracks []Track
	// Size is the byte size of the init segment.
	Size int
	// raw keeps the bytes so that a live source can serve them; it aliases
	// the caller's slice (documented on InspectInit).
	raw []byte
}

// Track is one track of an init segment. It is a plain value, safe to copy
// and share.
type Track struct {
	ID uint32
	// Kind is "video", "audio", "text" or, for other handlers, the raw
	// four-character handler type.
	Kind string
	// SampleEntry is the four-character sample entry type, e.g. "avc1".
	SampleEntry string
	// Codec is the RFC 6381 codecs parameter, e.g. "avc1.64001f" or
	// "mp4a.40.2"; for sample entries this package does not decode it is the
	// sample entry type.
	Codec string
	// Timescale is the media timescale (mdhd), in ticks per second.
	Timescale uint32
	// Width and Height in pixels (video).
	Width, Height int
	// SampleRate in Hz and Channels (audio).
	SampleRate, Channels int
	// Defaults from the trex box, used when tfhd and trun carry no value.
	DefaultSampleDuration, DefaultSampleSize, DefaultSampleFlags uint32
	// nalu is true for AVC and HEVC tracks (samples are 4-byte
	// length-prefixed NAL units; mp4ff rejects other length sizes).
	nalu bool
	hevc bool
}

// Bytes returns the init segment bytes InspectInit was given (not a copy).
func (in *Init) Bytes() []byte { return in.raw }

// Track returns the track with the given id.
func (in *Init) Track(id uint32) (Track, bool) {
	for _, t := range in.Tracks {
		if t.ID == id {
			return t, true
		}
	}
	return Track{}, false
}

// MaxInitSize bounds the init segments InspectInit accepts. Real CMAF
// headers are a few KiB (tens with DRM pssh boxes); the bound keeps a hostile
// header from driving mp4ff's recursive container decoding arbitrarily deep.
const MaxInitSize = 1 << 20

// InspectInit parses an init segment (ftyp + moov with an mvex). The input
// is untrusted: it must not exceed MaxInitSize, framing is checked before
// mp4ff sees it, and any panic inside mp4ff becomes an ErrMalformed error.
// The returned Init keeps a reference to data; do not modify data
// afterwards.
func InspectInit(data []byte) (in *Init, err error) {
	if len(data) > MaxInitSize {
		return nil, fmt.Errorf("%w: init: %d bytes, more than %d", ErrMalformed, len(data), MaxInitSize)
	}
	boxes, d := walkBoxes(data, 0, len(data), nil)
	if d != nil {
		return nil, fmt.Errorf("%w: init: %s", ErrMalformed, d.Detail)
	}
	var moovBox *box
	for i := range boxes {
		if boxes[i].is("moov") {
			moovBox = &boxes[i]
		}
		if boxes[i].is("moof") || boxes[i].is("mdat") {
			return nil, fmt.Errorf("%w: init: contains %s; not a CMAF header", ErrMalformed, typeName(boxes[i].typ))
		}
	}
	if moovBox == nil {
		return nil, fmt.Errorf("%w: init: no moov box", ErrMalformed)
	}
	defer func() {
		if r := recover(); r != nil {
			in, err = nil, fmt.Errorf("%w: init: parser panic: %v", ErrMalformed, r)
		}
	}()
	b, derr := mp4.DecodeBoxSR(0, bits.NewFixedSliceReader(data[moovBox.start:moovBox.end]))
	if derr != nil {
		return nil, fmt.Errorf("%w: init: %v", ErrMalformed, derr)
	}
	moov, ok := b.(*mp4.MoovBox)
	if !ok || len(moov.Traks) == 0 {
		return nil, fmt.Errorf("%w: init: moov without tracks", ErrMalformed)
	}
	in = &Init{Size: len(data), raw: data}
	for _, trak := range moov.Traks {
		t, terr := trackFromTrak(trak)
		if terr != nil {
			return nil, terr
		}
		if moov.Mvex != nil {
			for _, trex := range moov.Mvex.Trexs {
				if trex.TrackID == t.ID {
					t.DefaultSampleDuration = trex.DefaultSampleDuration
					t.DefaultSampleSize = trex.DefaultSampleSize
					t.DefaultSampleFlags = trex.DefaultSampleFlags
				}
			}
		}
		in.Tracks = append(in.Tracks, t)
	}
	return in, nil
}

// trackFromTrak extracts what inspection and manifests need from one trak.
func trackFromTrak(trak *mp4.TrakBox) (Track, error) {
	if trak.Tkhd == nil || trak.Mdia == nil || trak.Mdia.Mdhd == nil || trak.Mdia.Hdlr == nil ||
		trak.Mdia.Minf == nil || trak.Mdia.Minf.Stbl == nil || trak.Mdia.Minf.Stbl.Stsd == nil {
		return Track{}, fmt.Errorf("%w: init: trak lacks tkhd/mdhd/hdlr/stsd", ErrMalformed)
	}
	t := Track{ID: trak.Tkhd.TrackID, Timescale: trak.Mdia.Mdhd.Timescale}
	if t.Timescale == 0 {
		return Track{}, fmt.Errorf("%w: init: track %d has timescale 0", ErrMalformed, t.ID)
	}
	switch h := trak.Mdia.Hdlr.HandlerType; h {
	case "vide":
		t.Kind = "video"
	case "soun":
		t.Kind = "audio"
	case "text", "subt", "sbtl":
		t.Kind = "text"
	default:
		t.Kind = h
	}
	stsd := trak.Mdia.Minf.Stbl.Stsd
	if len(stsd.Children) == 0 {
		return Track{}, fmt.Errorf("%w: init: track %d has no sample entry", ErrMalformed, t.ID)
	}
	entry := stsd.Children[0]
	t.SampleEntry = entry.Type()
	t.Codec = t.SampleEntry
	switch e := entry.(type) {
	case *mp4.VisualSampleEntryBox:
		t.Width, t.Height = int(e.Width), int(e.Height)
		switch {
		case e.AvcC != nil:
			t.nalu = true
			if len(e.AvcC.SPSnalus) > 0 {
				if sps, err := avc.ParseSPSNALUnit(e.AvcC.SPSnalus[0], false); err == nil {
					t.Codec = t.SampleEntry + strings.ToLower(strings.TrimPrefix(avc.CodecString(t.SampleEntry, sps), t.SampleEntry))
				}
			}
		case e.HvcC != nil:
			t.nalu, t.hevc = true, true
			if sps := e.HvcC.GetNalusForType(hevc.NALU_SPS); len(sps) > 0 {
				if p, err := hevc.ParseSPSNALUnit(sps[0]); err == nil {
					t.Codec = hevc.CodecString(t.SampleEntry, p)
				}
			}
		}
	case *mp4.AudioSampleEntryBox:
		t.SampleRate, t.Channels = int(e.SampleRate), int(e.ChannelCount)
		if e.Esds != nil && e.Esds.DecConfigDescriptor != nil {
			dc := e.Esds.DecConfigDescriptor
			t.Codec = fmt.Sprintf("mp4a.%x", dc.ObjectType)
			if dc.ObjectType == 0x40 && dc.DecSpecificInfo != nil && len(dc.DecSpecificInfo.DecConfig) > 0 {
				t.Codec = fmt.Sprintf("mp4a.40.%d", dc.DecSpecificInfo.DecConfig[0]>>3)
				if asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(dc.DecSpecificInfo.DecConfig)); err == nil && asc.SamplingFrequency > 0 {
					t.SampleRate = asc.SamplingFrequency
				}
			}
		}
	}
	return t, nil
}
