package segment

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Manifest describes a live channel's presentation for a sliding window of
// segments and renders it as a dynamic DASH MPD (MPD), HLS media playlists
// (MediaPlaylist) and an HLS multivariant playlist (MultivariantPlaylist).
//
// All URLs it writes are relative, so the manifests must be served from the
// same directory as the templates resolve to. A Manifest is a description,
// not a live object: rendering reads it and never modifies it, so concurrent
// rendering is safe as long as nobody modifies the Manifest meanwhile.
type Manifest struct {
	// Epoch fixes availabilityStartTime (Epoch.Start), the segment duration
	// and the numbering; required.
	Epoch Epoch
	// Renditions of the ABR ladder (video and audio); at least one.
	Renditions []Rendition

	// InitTemplate and MediaTemplate are DASH SegmentTemplate strings with
	// $RepresentationID$ and $Number$ (also $Number%05d$-style widths).
	// Defaults: "$RepresentationID$/init.mp4" and
	// "$RepresentationID$/$Number$.m4s".
	InitTemplate, MediaTemplate string
	// PlaylistTemplate names HLS media playlists relative to the
	// multivariant playlist. Default "$RepresentationID$.m3u8".
	PlaylistTemplate string

	// Timeline selects a SegmentTemplate with SegmentTimeline (built from
	// the window) instead of a plain @duration template. Both use $Number$
	// addressing, so segment URLs are identical.
	Timeline bool
	// TimeShiftBufferDepth is the DVR window; default 30 s. It also sizes
	// windows derived from the epoch when a rendition has no Segments.
	TimeShiftBufferDepth time.Duration
	// MinimumUpdatePeriod; default one segment duration.
	MinimumUpdatePeriod time.Duration
	// SuggestedPresentationDelay; default three segment durations (one
	// chunk duration plus TargetLatency in low-latency mode).
	SuggestedPresentationDelay time.Duration
	// UTCTimingURL, when set, is written as an http-xsdate UTCTiming source
	// (for example the origin's own /time endpoint, which must answer with
	// an xs:dateTime). When empty, a urn:mpeg:dash:utc:direct:2014 element
	// carries the rendering time.
	UTCTimingURL string
	// ChunkDuration > 0 announces low-latency chunked delivery: segments are
	// produced as CMAF chunks of this duration, so the MPD carries
	// availabilityTimeOffset = SegmentDuration − ChunkDuration,
	// availabilityTimeComplete="false", a ProducerReferenceTime and a
	// ServiceDescription with TargetLatency.
	ChunkDuration time.Duration
	// TargetLatency for low-latency mode; default 3 × ChunkDuration +
	// SegmentDuration/2.
	TargetLatency time.Duration
}

// Rendition is one representation (DASH) / variant or rendition (HLS). Like
// Manifest it is only read by rendering.
type Rendition struct {
	// ID is the $RepresentationID$; it must be a valid URL path segment.
	ID string
	// Track describes the media (kind, codec, timescale, resolution, sample
	// rate); take it from Init.Tracks.
	Track Track
	// Bandwidth in bits per second. 0 means: estimate from Segments.
	Bandwidth int
	// FrameRate for video, e.g. "25" or "30000/1001"; optional.
	FrameRate string
	// Segments is the sliding window, ascending by Number, each locked to
	// the Epoch (Info.Number set). Numbers missing from the window are
	// announced with their nominal grid time (DASH) or as EXT-X-GAP (HLS).
	// nil means the window is derived from the Epoch and the rendering time
	// with nominal durations — what a perfectly regular live source has.
	Segments []Info
}

func (m *Manifest) initTemplate() string { return or(m.InitTemplate, "$RepresentationID$/init.mp4") }
func (m *Manifest) mediaTemplate() string {
	return or(m.MediaTemplate, "$RepresentationID$/$Number$.m4s")
}
func (m *Manifest) playlistTemplate() string {
	return or(m.PlaylistTemplate, "$RepresentationID$.m3u8")
}
func (m *Manifest) tsbd() time.Duration { return orDur(m.TimeShiftBufferDepth, 30*time.Second) }
func (m *Manifest) mup() time.Duration  { return orDur(m.MinimumUpdatePeriod, m.Epoch.SegmentDuration) }
func (m *Manifest) targetLatency() time.Duration {
	return orDur(m.TargetLatency, 3*m.ChunkDuration+m.Epoch.SegmentDuration/2)
}
func (m *Manifest) spd() time.Duration {
	if m.ChunkDuration > 0 {
		return orDur(m.SuggestedPresentationDelay, m.targetLatency())
	}
	return orDur(m.SuggestedPresentationDelay, 3*m.Epoch.SegmentDuration)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (m *Manifest) check() error {
	if m.Epoch.SegmentDuration <= 0 {
		return fmt.Errorf("%w: manifest: epoch has no segment duration", ErrMalformed)
	}
	if len(m.Renditions) == 0 {
		return fmt.Errorf("%w: manifest: no renditions", ErrMalformed)
	}
	if m.ChunkDuration >= m.Epoch.SegmentDuration {
		return fmt.Errorf("%w: manifest: chunk duration %v not below segment duration %v", ErrMalformed, m.ChunkDuration, m.Epoch.SegmentDuration)
	}
	if m.Epoch.StartNumber > math.MaxUint32 {
		// dash-mpd types startNumber as uint32; refuse rather than wrap.
		return fmt.Errorf("%w: manifest: start number %d exceeds 32 bits", ErrMalformed, m.Epoch.StartNumber)
	}
	for _, r := range m.Renditions {
		if r.ID == "" || strings.ContainsAny(r.ID, "/?#\"\n\r ") {
			return fmt.Errorf("%w: manifest: bad rendition id %q", ErrMalformed, r.ID)
		}
		if r.Track.Timescale == 0 {
			return fmt.Errorf("%w: manifest: rendition %q has no timescale", ErrMalformed, r.ID)
		}
	}
	return nil
}

// entry is one segment of a rendered window.
type entry struct {
	number   uint64
	start    uint64 // ticks since the epoch start
	duration uint64 // ticks
	missing  bool
}

// window returns the entries to list for r at time now: its Segments (with
// holes filled from the grid) or, without Segments, the nominal grid window
// ending at the newest available segment.
func (m *Manifest) window(r Rendition, now time.Time) []entry {
	ts := r.Track.Timescale
	e := m.Epoch
	nominal := func(n uint64, missing bool) entry {
		start := durationToTicks(e.MediaTime(n), ts)
		return entry{number: n, start: start, duration: durationToTicks(e.MediaTime(n)+e.SegmentDuration, ts) - start, missing: missing}
	}
	if r.Segments == nil {
		last, ok := e.Latest(now)
		if !ok {
			return nil
		}
		count := uint64(m.tsbd() / e.SegmentDuration)
		if count < 1 {
			count = 1
		}
		first := e.StartNumber
		if last+1 >= first+count {
			first = last + 1 - count
		}
		out := make([]entry, 0, last-first+1)
		for n := first; n <= last; n++ {
			out = append(out, nominal(n, false))
		}
		return out
	}
	out := make([]entry, 0, len(r.Segments))
	for i, s := range r.Segments {
		t, ok := s.Track(r.Track.ID)
		if !ok {
			t, ok = s.Reference()
		}
		if !ok {
			continue
		}
		if i > 0 {
			for n := r.Segments[i-1].Number + 1; n < s.Number && n-r.Segments[i-1].Number < 1<<16; n++ {
				out = append(out, nominal(n, true))
			}
		}
		out = append(out, entry{number: s.Number, start: t.BaseMediaDecodeTime, duration: t.Duration})
	}
	return out
}

// bandwidth returns r.Bandwidth or an estimate from its window's bytes.
func (r Rendition) bandwidth() int {
	if r.Bandwidth > 0 {
		return r.Bandwidth
	}
	var bytes int
	var dur time.Duration
	for _, s := range r.Segments {
		bytes += s.Size
		if t, ok := s.Reference(); ok {
			dur += t.Seconds(t.Duration)
		}
	}
	if dur <= 0 {
		return 0
	}
	return int(float64(bytes*8) / dur.Seconds())
}

// expand substitutes $RepresentationID$, $Number$ (with optional %0Nd width)
// and $$ in a DASH template.
func expand(tmpl, id string, number uint64) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '$')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String()
		}
		b.WriteString(tmpl[:i])
		tmpl = tmpl[i+1:]
		j := strings.IndexByte(tmpl, '$')
		if j < 0 {
			b.WriteString("$" + tmpl)
			return b.String()
		}
		name := tmpl[:j]
		tmpl = tmpl[j+1:]
		switch {
		case name == "":
			b.WriteByte('$')
		case name == "RepresentationID":
			b.WriteString(id)
		case name == "Number":
			b.WriteString(strconv.FormatUint(number, 10))
		case strings.HasPrefix(name, "Number%0") && strings.HasSuffix(name, "d"):
			w, err := strconv.Atoi(name[len("Number%0") : len(name)-1])
			if err != nil || w > 32 {
				b.WriteString("$" + name + "$")
				continue
			}
			fmt.Fprintf(&b, "%0*d", w, number)
		default:
			b.WriteString("$" + name + "$")
		}
	}
}
