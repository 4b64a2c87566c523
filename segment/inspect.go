package segment

import (
	"errors"
	"fmt"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
)

// Inspect examines one complete media segment: zero or more of styp, sidx,
// prft, emsg, free (in any order) and one or more moof+mdat pairs. init must
// be the init segment of the same track(s); prev, if not nil, is the Info of
// the segment that precedes this one and enables the gap/overlap check.
//
// Inspect never fails: everything wrong with the bytes becomes a Defect in
// the returned Info (see Info.Err). It never panics and never loops on
// hostile input, whatever data holds: framing is checked before mp4ff parses
// a box, NAL units are walked with our own bounds checks, and any panic that
// still escapes mp4ff is recovered into a DefectMalformed.
//
// Inspect is safe for concurrent use; it does not retain data.
func Inspect(init *Init, data []byte, prev *Info) *Info {
	return inspect(init, data, prev, true)
}

// InspectChunk is Inspect for a CMAF chunk that may sit in the middle of a
// segment: it does not require the first sample to be a keyframe. Pass the
// previous chunk's Info as prev to check continuity chunk by chunk.
func InspectChunk(init *Init, data []byte, prev *Info) *Info {
	return inspect(init, data, prev, false)
}

// trackState accumulates one track over the fragments of a segment.
type trackState struct {
	TrackInfo
	track Track // from the init; zero value when the init lacks the id
	known bool
}

func inspect(init *Init, data []byte, prev *Info, needKey bool) *Info {
	info := &Info{Size: len(data)}
	if init == nil {
		info.addDefect(Defect{Kind: DefectMalformed, Detail: "no init segment to inspect against"})
		return info
	}
	var stack [16]box
	boxes, d := walkBoxes(data, 0, len(data), stack[:0])
	if d != nil {
		info.addDefect(*d)
	}
	var tracks []*trackState
	for i := 0; i < len(boxes); i++ {
		b := boxes[i]
		switch string(b.typ[:]) {
		case "styp", "sidx", "prft", "emsg", "free", "skip":
			continue
		case "moof":
		case "mdat":
			info.addDefect(Defect{Kind: DefectMalformed, Detail: fmt.Sprintf("mdat at offset %d without a preceding moof", b.start)})
			continue
		default:
			info.addDefect(Defect{Kind: DefectMalformed, Detail: fmt.Sprintf("unexpected box %s at offset %d in a media segment", typeName(b.typ), b.start)})
			continue
		}
		if i+1 >= len(boxes) || !boxes[i+1].is("mdat") {
			kind := DefectMalformed
			if i+1 >= len(boxes) && d != nil {
				kind = DefectTruncated // the mdat is the box that was cut off
			}
			info.addDefect(Defect{Kind: kind, Detail: fmt.Sprintf("moof at offset %d is not followed by an mdat", b.start)})
			continue
		}
		mdat := boxes[i+1]
		i++
		info.Fragments++
		inspectFragment(info, init, data, b, mdat, &tracks)
	}
	if info.Fragments == 0 && len(info.Defects) == 0 {
		info.addDefect(Defect{Kind: DefectMalformed, Detail: "no moof+mdat pair"})
	}
	samples := 0
	for _, ts := range tracks {
		info.Tracks = append(info.Tracks, ts.TrackInfo)
		samples += ts.Samples
	}
	if info.Fragments > 0 && samples == 0 {
		info.addDefect(Defect{Kind: DefectMalformed, Detail: "segment carries no samples"})
	}
	for _, t := range info.Tracks {
		if needKey && t.Samples > 0 {
			if !t.StartsWithSync {
				info.addDefect(Defect{Kind: DefectNoKeyframe, Track: t.ID, Detail: "first sample is not flagged as a sync sample"})
			} else if !t.StartsWithIDR {
				info.addDefect(Defect{Kind: DefectNoKeyframe, Track: t.ID, Detail: "first sample holds no IDR/IRAP picture"})
			}
		}
		if prev == nil {
			continue
		}
		if pt, ok := prev.Track(t.ID); ok && pt.Timescale == t.Timescale {
			checkContinuity(info, t.ID, pt.End(), t.BaseMediaDecodeTime, "previous segment")
		}
	}
	return info
}

// checkContinuity records a gap or overlap between an expected and an actual
// start decode time.
func checkContinuity(info *Info, track uint32, want, got uint64, what string) {
	switch {
	case got > want:
		info.addDefect(Defect{Kind: DefectGap, Track: track, Detail: fmt.Sprintf("starts at %d, %s ended at %d (gap of %d ticks)", got, what, want, got-want)})
	case got < want:
		info.addDefect(Defect{Kind: DefectOverlap, Track: track, Detail: fmt.Sprintf("starts at %d, %s ended at %d (overlap of %d ticks)", got, what, want, want-got)})
	}
}

// decodeMoof parses the parts of a framed moof that inspection needs —
// mfhd and, per traf, tfhd, tfdt and truns — handing mp4ff one box at a time
// on a slice reader that ends with that box, so mp4ff can neither read past
// it nor meet the boxes whose decoders allocate by untrusted counts (senc,
// sbgp, saiz, ...), which inspection skips. Any panic becomes an error.
func decodeMoof(data []byte, b box) (moof *mp4.MoofBox, err error) {
	defer func() {
		if r := recover(); r != nil {
			moof, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	var kidsBuf, grandBuf [8]box
	kids, d := walkChildren(data, b, kidsBuf[:0])
	if d != nil {
		return nil, errors.New(d.Detail)
	}
	moof = &mp4.MoofBox{StartPos: uint64(b.start)}
	for _, k := range kids {
		switch {
		case k.is("mfhd"):
			bx, err := decodeOne(data, k)
			if err != nil {
				return nil, err
			}
			moof.Mfhd, _ = bx.(*mp4.MfhdBox)
		case k.is("traf"):
			grand, d := walkChildren(data, k, grandBuf[:0])
			if d != nil {
				return nil, errors.New(d.Detail)
			}
			traf := &mp4.TrafBox{}
			for _, g := range grand {
				if !g.is("tfhd") && !g.is("tfdt") && !g.is("trun") {
					continue
				}
				bx, err := decodeOne(data, g)
				if err != nil {
					return nil, err
				}
				switch v := bx.(type) {
				case *mp4.TfhdBox:
					traf.Tfhd = v
				case *mp4.TfdtBox:
					traf.Tfdt = v
				case *mp4.TrunBox:
					if traf.Trun == nil {
						traf.Trun = v
					}
					traf.Truns = append(traf.Truns, v)
				}
			}
			moof.Trafs = append(moof.Trafs, traf)
		}
	}
	if moof.Mfhd == nil {
		return nil, errors.New("moof without mfhd")
	}
	if len(moof.Trafs) > 0 {
		moof.Traf = moof.Trafs[0]
	}
	return moof, nil
}

// decodeOne decodes a single framed box with mp4ff.
func decodeOne(data []byte, b box) (mp4.Box, error) {
	bx, err := mp4.DecodeBoxSR(uint64(b.start), bits.NewFixedSliceReader(data[b.start:b.end]))
	if err != nil {
		return nil, fmt.Errorf("%s at offset %d: %v", typeName(b.typ), b.start, err)
	}
	return bx, nil
}

// inspectFragment adds one moof+mdat pair to info and the track states.
func inspectFragment(info *Info, init *Init, data []byte, mb, mdat box, tracks *[]*trackState) {
	moof, err := decodeMoof(data, mb)
	if err != nil {
		info.addDefect(Defect{Kind: DefectMalformed, Detail: fmt.Sprintf("moof at offset %d: %v", mb.start, err)})
		return
	}
	if info.Fragments == 1 {
		info.SequenceNumber = moof.Mfhd.SequenceNumber
	}
	// nextData is where a traf or trun without explicit offset starts its
	// data: the end of the previous run (ISO/IEC 14496-12 8.8.7/8.8.8).
	nextData := int64(mb.start)
	for ti, traf := range moof.Trafs {
		if traf.Tfhd == nil || traf.Tfdt == nil {
			info.addDefect(Defect{Kind: DefectMalformed, Detail: fmt.Sprintf("traf %d in moof at offset %d lacks tfhd or tfdt", ti, mb.start)})
			continue
		}
		id := traf.Tfhd.TrackID
		ts := trackFor(tracks, init, id)
		if !ts.known && ts.Samples == 0 {
			info.addDefect(Defect{Kind: DefectTrackMismatch, Track: id, Detail: fmt.Sprintf("track id %d is not declared by the init segment", id)})
		}
		bmdt := traf.Tfdt.BaseMediaDecodeTime()
		if ts.Samples > 0 {
			checkContinuity(info, id, ts.End(), bmdt, "previous fragment")
		} else {
			ts.BaseMediaDecodeTime = bmdt
		}
		base := nextData
		switch {
		case traf.Tfhd.HasBaseDataOffset():
			base = int64(traf.Tfhd.BaseDataOffset)
		case traf.Tfhd.DefaultBaseIfMoof() || ti == 0:
			base = int64(mb.start)
		}
		runStart := base
		decodeTime := bmdt
		for _, trun := range traf.Truns {
			if trun.HasDataOffset() {
				runStart = base + int64(trun.DataOffset)
			}
			runEnd := inspectRun(info, ts, data, traf.Tfhd, trun, runStart, decodeTime, mb, mdat)
			for _, s := range trun.Samples {
				decodeTime += uint64(sampleDur(s, trun, traf.Tfhd, ts.track))
			}
			runStart = runEnd
		}
		nextData = runStart
	}
}

// trackFor returns the state for track id, creating it on first sight.
func trackFor(tracks *[]*trackState, init *Init, id uint32) *trackState {
	for _, ts := range *tracks {
		if ts.ID == id {
			return ts
		}
	}
	t, ok := init.Track(id)
	ts := &trackState{TrackInfo: TrackInfo{ID: id, Timescale: t.Timescale}, track: t, known: ok}
	*tracks = append(*tracks, ts)
	return ts
}

// sampleDur resolves a sample's duration: trun, then tfhd, then trex.
func sampleDur(s mp4.Sample, trun *mp4.TrunBox, tfhd *mp4.TfhdBox, t Track) uint32 {
	switch {
	case trun.HasSampleDuration():
		return s.Dur
	case tfhd.HasDefaultSampleDuration():
		return tfhd.DefaultSampleDuration
	default:
		return t.DefaultSampleDuration
	}
}

func sampleSize(s mp4.Sample, trun *mp4.TrunBox, tfhd *mp4.TfhdBox, t Track) uint32 {
	switch {
	case trun.HasSampleSize():
		return s.Size
	case tfhd.HasDefaultSampleSize():
		return tfhd.DefaultSampleSize
	default:
		return t.DefaultSampleSize
	}
}

func sampleFlags(i int, s mp4.Sample, trun *mp4.TrunBox, tfhd *mp4.TfhdBox, t Track) uint32 {
	if trun.HasSampleFlags() {
		return s.Flags
	}
	if i == 0 {
		if f, ok := trun.FirstSampleFlags(); ok {
			return f
		}
	}
	if tfhd.HasDefaultSampleFlags() {
		return tfhd.DefaultSampleFlags
	}
	return t.DefaultSampleFlags
}

// inspectRun checks one trun whose data starts at byte runStart and returns
// the offset where its data ends.
func inspectRun(info *Info, ts *trackState, data []byte, tfhd *mp4.TfhdBox, trun *mp4.TrunBox, runStart int64, decodeTime uint64, moof, mdat box) int64 {
	id := ts.ID
	first := ts.Samples == 0
	var size int64
	zero, negative := 0, 0
	dt := decodeTime
	for i, s := range trun.Samples {
		dur := sampleDur(s, trun, tfhd, ts.track)
		sz := sampleSize(s, trun, tfhd, ts.track)
		if dur == 0 {
			zero++
		}
		if trun.HasSampleCompositionTimeOffset() && s.CompositionTimeOffset < 0 && uint64(-int64(s.CompositionTimeOffset)) > dt {
			negative++
		}
		if i == 0 && first {
			flags := sampleFlags(0, s, trun, tfhd, ts.track)
			ts.StartsWithSync = !mp4.DecodeSampleFlags(flags).SampleIsNonSync
			ts.StartsWithIDR = ts.StartsWithSync
			if ts.track.nalu {
				ts.StartsWithIDR = false
				if runStart >= int64(mdat.body) && runStart+int64(sz) <= int64(mdat.end) {
					ts.StartsWithIDR = hasKeyNALU(data[runStart:runStart+int64(sz)], ts.track.hevc)
				}
			}
		}
		dt += uint64(dur)
		ts.Duration += uint64(dur)
		size += int64(sz)
	}
	ts.Samples += len(trun.Samples)
	ts.Bytes += int(size)
	if zero > 0 {
		info.addDefect(Defect{Kind: DefectZeroDuration, Track: id, Detail: fmt.Sprintf("%d of %d samples in a trun have duration 0", zero, len(trun.Samples))})
	}
	if negative > 0 {
		info.addDefect(Defect{Kind: DefectNegativeOffset, Track: id, Detail: fmt.Sprintf("%d samples have a composition offset that puts them before media time 0", negative)})
	}
	switch {
	case runStart < int64(moof.start):
		info.addDefect(Defect{Kind: DefectNegativeOffset, Track: id, Detail: fmt.Sprintf("trun data starts at offset %d, before its moof at %d", runStart, moof.start)})
	case runStart < int64(mdat.body) || runStart+size > int64(mdat.end):
		info.addDefect(Defect{Kind: DefectTrunExceedsMdat, Track: id, Detail: fmt.Sprintf("trun data [%d,%d) is outside the mdat payload [%d,%d)", runStart, runStart+size, mdat.body, mdat.end)})
	}
	return runStart + size
}

// hasKeyNALU walks 4-byte length-prefixed NAL units and reports whether one is
// an IDR picture (AVC type 5) or an IRAP picture (HEVC types 16-23). It is our
// own walk because mp4ff's avc.IsIDRSample panics on short input and loops
// forever on a length that wraps uint32. The loop advances by at least 4 bytes
// per step and stops at the first length that overruns the sample.
func hasKeyNALU(sample []byte, hevc bool) bool {
	for pos := 0; pos+4 < len(sample); {
		n := int(uint32(sample[pos])<<24 | uint32(sample[pos+1])<<16 | uint32(sample[pos+2])<<8 | uint32(sample[pos+3]))
		pos += 4
		if n <= 0 || n > len(sample)-pos {
			return false
		}
		if hevc {
			if t := (sample[pos] >> 1) & 0x3f; t >= 16 && t <= 23 {
				return true
			}
		} else if sample[pos]&0x1f == 5 {
			return true
		}
		pos += n
	}
	return false
}
