package segment

import (
	"fmt"
	"math"
	"time"

	"github.com/Eyevinn/dash-mpd/mpd"
)

// DASH UTCTiming schemes.
const (
	utcHTTPXSDate = "urn:mpeg:dash:utc:http-xsdate:2014"
	utcDirect     = "urn:mpeg:dash:utc:direct:2014"
	channelScheme = "urn:mpeg:dash:23003:3:audio_channel_configuration:2011"
)

// MPD renders a dynamic DASH MPD (isoff-live profile) for the time now: one
// Period starting at the epoch, one AdaptationSet per media kind, a
// SegmentTemplate per Representation with $Number$ addressing — with
// @duration, or with a SegmentTimeline of the window when Timeline is set —
// and UTCTiming, plus the low-latency signalling when ChunkDuration > 0.
func (m *Manifest) MPD(now time.Time) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	e := m.Epoch
	d := mpd.NewMPD(mpd.DYNAMIC_TYPE)
	d.Profiles = mpd.ListOfProfilesType(mpd.PROFILE_LIVE)
	d.AvailabilityStartTime = dateTime(e.start())
	d.PublishTime = dateTime(now)
	d.MinimumUpdatePeriod = durPtr(m.mup())
	d.TimeShiftBufferDepth = durPtr(m.tsbd())
	d.SuggestedPresentationDelay = durPtr(m.spd())
	d.MaxSegmentDuration = durPtr(e.SegmentDuration)
	d.MinBufferTime = durPtr(e.SegmentDuration)
	if m.UTCTimingURL != "" {
		d.UTCTimings = []*mpd.DescriptorType{{SchemeIdUri: utcHTTPXSDate, Value: m.UTCTimingURL}}
	} else {
		d.UTCTimings = []*mpd.DescriptorType{{SchemeIdUri: utcDirect, Value: string(dateTime(now))}}
	}
	lowLatency := m.ChunkDuration > 0
	if lowLatency {
		target := uint32(m.targetLatency().Milliseconds())
		d.ServiceDescription = []*mpd.ServiceDescriptionType{{
			Latencies:     []*mpd.LatencyType{{ReferenceId: 0, Target: &target, Min: mpd.Ptr(target * 3 / 4), Max: mpd.Ptr(target * 2)}},
			PlaybackRates: []*mpd.PlaybackRateType{{Min: 0.96, Max: 1.04}},
		}}
	}
	p := mpd.NewPeriod()
	p.Id = "p0"
	p.Start = durPtr(0)
	d.AppendPeriod(p)

	sets := map[string]*mpd.AdaptationSetType{}
	for _, r := range m.Renditions {
		kind := r.Track.Kind
		as := sets[kind]
		if as == nil {
			mime := "video/mp4"
			if kind == "audio" {
				mime = "audio/mp4"
			} else if kind != "video" {
				mime = "application/mp4"
			}
			as = mpd.NewAdaptationSetWithParams(kind, mime, true, 1)
			as.Id = mpd.Ptr(uint32(len(p.AdaptationSets)))
			sets[kind] = as
			p.AppendAdaptationSet(as)
		}
		bw := r.bandwidth()
		var rep *mpd.RepresentationType
		switch kind {
		case "video":
			rep = mpd.NewVideoRepresentation(r.ID, r.Track.Codec, "", r.FrameRate, bw, r.Track.Width, r.Track.Height)
		case "audio":
			rep = mpd.NewAudioRepresentation(r.ID, r.Track.Codec, "", bw, r.Track.SampleRate)
			if r.Track.Channels > 0 {
				rep.AudioChannelConfigurations = []*mpd.DescriptorType{{SchemeIdUri: channelScheme, Value: fmt.Sprint(r.Track.Channels)}}
			}
		default:
			rep = mpd.NewRepresentationWithID(r.ID, r.Track.Codec, "", bw)
		}
		rep.SegmentTemplate = m.segmentTemplate(r, now)
		if lowLatency {
			rep.ProducerReferenceTimes = []*mpd.ProducerReferenceTimeType{{
				Id: 0, Type: "encoder", WallClockTime: string(dateTime(e.start())), PresentationTime: 0,
			}}
		}
		as.AppendRepresentation(rep)
	}
	s, err := d.WriteToString("  ", true)
	if err != nil {
		return nil, fmt.Errorf("%w: manifest: %v", ErrMalformed, err)
	}
	return []byte(s), nil
}

// segmentTemplate builds the SegmentTemplate of one representation.
func (m *Manifest) segmentTemplate(r Rendition, now time.Time) *mpd.SegmentTemplateType {
	e := m.Epoch
	ts := r.Track.Timescale
	st := mpd.NewSegmentTemplate()
	st.Initialization = m.initTemplate()
	st.Media = m.mediaTemplate()
	st.SetTimescale(ts)
	st.PresentationTimeOffset = nil
	if m.ChunkDuration > 0 {
		st.AvailabilityTimeOffset = mpd.FloatInf64((e.SegmentDuration - m.ChunkDuration).Seconds())
		st.AvailabilityTimeComplete = mpd.Ptr(false)
	}
	if !m.Timeline {
		st.Duration = mpd.Ptr(uint32(durationToTicks(e.SegmentDuration, ts)))
		st.StartNumber = mpd.Ptr(uint32(e.StartNumber))
		return st
	}
	win := m.window(r, now)
	st.SegmentTimeline = mpd.NewSegmentTimeline()
	if len(win) == 0 {
		st.StartNumber = mpd.Ptr(uint32(e.StartNumber))
		return st
	}
	// A window number beyond 32 bits cannot be written; check() bounded the
	// start number, so this only happens centuries after the epoch.
	st.StartNumber = mpd.Ptr(uint32(min(win[0].number, math.MaxUint32)))
	var last *mpd.S
	var next uint64
	for _, en := range win {
		// Extend the previous S with a repeat when this segment continues it
		// seamlessly with the same duration; otherwise start a new S with an
		// explicit t (which also re-anchors after a missing segment).
		if last != nil && en.start == next && en.duration == last.D {
			last.R++
		} else {
			last = &mpd.S{T: mpd.Ptr(en.start), D: en.duration}
			st.SegmentTimeline.S = append(st.SegmentTimeline.S, last)
		}
		next = en.start + en.duration
	}
	return st
}

func dateTime(t time.Time) mpd.DateTime {
	return mpd.DateTime(t.UTC().Format("2006-01-02T15:04:05.000Z"))
}

func durPtr(d time.Duration) *mpd.Duration {
	v := mpd.Duration(d)
	return &v
}
