package segment

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/Eyevinn/mp4ff/mp4"
)

// Clock is the time source of a Loop. The methods mirror time.Now and
// time.After; implementations must be safe for concurrent use. Tests inject a
// fake clock; nil means the real one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// LoopOptions configures a Loop; NewLoop copies what it needs. The zero
// value (or nil) is usable.
type LoopOptions struct {
	// Start is the epoch (availabilityStartTime, media time 0). Zero means
	// 2020-01-01T00:00:00Z, so every loop of the asset restarts at a fixed
	// UTC multiple of the loop duration after it. (livesim2 uses 1970, but
	// ffmpeg 5.1's DASH demuxer computes a live edge hours off for an
	// availabilityStartTime that far back; verified here.)
	Start time.Time
	// StartNumber is the number of the segment at media time 0; default 0.
	StartNumber uint64
	// ChunkDuration > 0 cuts every segment into CMAF chunks (one moof+mdat
	// each) of this duration, emitted on their wall-clock schedule. It must
	// divide the segment duration.
	ChunkDuration time.Duration
	// TimeShiftBufferDepth: segments older than this are gone (HTTP 410).
	// Default 30 s.
	TimeShiftBufferDepth time.Duration
	// Clock; nil means the real clock.
	Clock Clock
}

// Loop plays an Asset as an endless live channel aligned to an epoch: segment
// n holds the asset's media for epoch media time [n·d, (n+1)·d) modulo the
// loop duration, with tfdt rewritten to the epoch media time and the mfhd
// sequence number derived from n (livesim2's approach). Output depends only
// on (rendition, n) and the options, so any number of Loops — on any
// machines — produce byte-identical segments.
//
// A Loop is immutable and safe for concurrent use.
type Loop struct {
	asset  *Asset
	epoch  Epoch
	chunk  time.Duration
	chunks int // chunks per segment (1 when not chunked)
	tsbd   time.Duration
	clock  Clock
}

// NewLoop returns a Loop over asset. opts may be nil.
func NewLoop(asset *Asset, opts *LoopOptions) (*Loop, error) {
	if opts == nil {
		opts = &LoopOptions{}
	}
	l := &Loop{
		asset: asset,
		epoch: Epoch{Start: opts.Start, SegmentDuration: asset.segmentDuration, StartNumber: opts.StartNumber},
		chunk: opts.ChunkDuration,
		tsbd:  orDur(opts.TimeShiftBufferDepth, 30*time.Second),
		clock: opts.Clock,
	}
	if l.clock == nil {
		l.clock = realClock{}
	}
	if l.epoch.Start.IsZero() {
		l.epoch.Start = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	l.chunks = 1
	if l.chunk > 0 {
		if asset.segmentDuration%l.chunk != 0 || l.chunk >= asset.segmentDuration {
			return nil, fmt.Errorf("%w: loop: chunk duration %v does not divide segment duration %v", ErrMalformed, l.chunk, asset.segmentDuration)
		}
		l.chunks = int(asset.segmentDuration / l.chunk)
	}
	return l, nil
}

// Epoch returns the grid the loop is locked to.
func (l *Loop) Epoch() Epoch { return l.epoch }

// Init returns the live init segment of a rendition.
func (l *Loop) Init(id string) ([]byte, error) {
	r, err := l.rendition(id)
	if err != nil {
		return nil, err
	}
	return r.init, nil
}

// Segment returns segment n of a rendition as one byte slice (its chunks
// concatenated when chunked). It does not look at the clock: availability is
// the caller's business (see Available, WriteSegment and Handler).
func (l *Loop) Segment(id string, n uint64) ([]byte, error) {
	chunks, err := l.Chunks(id, n)
	if err != nil {
		return nil, err
	}
	return bytes.Join(chunks, nil), nil
}

// Chunks returns segment n of a rendition as its CMAF chunks; the first
// carries the styp. Without ChunkDuration there is one chunk.
func (l *Loop) Chunks(id string, n uint64) ([][]byte, error) {
	r, err := l.rendition(id)
	if err != nil {
		return nil, err
	}
	if n < l.epoch.StartNumber {
		return nil, fmt.Errorf("%w: segment %d is before the start number %d", ErrNotAvailable, n, l.epoch.StartNumber)
	}
	segStart := l.epoch.MediaTime(n)
	out := make([][]byte, 0, l.chunks)
	for j := 0; j < l.chunks; j++ {
		from := durationToTicks(segStart+time.Duration(j)*l.chunkDur(), r.track.Timescale)
		to := durationToTicks(segStart+time.Duration(j+1)*l.chunkDur(), r.track.Timescale)
		seq := uint32((n-l.epoch.StartNumber)*uint64(l.chunks) + uint64(j) + 1)
		frag, err := mp4.CreateFragment(seq, r.track.ID)
		if err != nil {
			return nil, err
		}
		count := 0
		r.each(from, to, func(abs uint64, s mp4.FullSample) {
			s.DecodeTime = abs
			frag.AddFullSample(s)
			count++
		})
		if count == 0 {
			continue // an audio chunk shorter than a frame; nothing to send
		}
		var b bytes.Buffer
		if len(out) == 0 {
			if err := mp4.NewMediaSegment().Styp.Encode(&b); err != nil {
				return nil, err
			}
		}
		if err := frag.Encode(&b); err != nil {
			return nil, err
		}
		out = append(out, b.Bytes())
	}
	return out, nil
}

func (l *Loop) chunkDur() time.Duration {
	if l.chunk > 0 {
		return l.chunk
	}
	return l.epoch.SegmentDuration
}

// each calls fn for every sample whose epoch decode time lies in [from, to),
// in order, wrapping around the loop. abs is that epoch decode time.
func (r *assetRendition) each(from, to uint64, fn func(abs uint64, s mp4.FullSample)) {
	L := r.loopTicks
	k := from / L
	off := from % L
	i := sort.Search(len(r.samples), func(i int) bool { return r.samples[i].DecodeTime >= off })
	for {
		if i == len(r.samples) {
			k, i = k+1, 0
		}
		abs := k*L + r.samples[i].DecodeTime
		if abs >= to {
			return
		}
		fn(abs, r.samples[i])
		i++
	}
}

// available returns when chunk j (0-based) of segment n is complete; with
// j = chunks-1 (or without chunking) that is the segment's availability time.
func (l *Loop) available(n uint64, j int) time.Time {
	return l.epoch.Start.Add(l.epoch.MediaTime(n) + time.Duration(j+1)*l.chunkDur())
}

// Available reports whether segment n can be requested at now, and if so
// whether it is already complete. A chunked segment becomes requestable when
// its first chunk is complete; a segment older than the time-shift buffer is
// not available any more.
func (l *Loop) Available(n uint64, now time.Time) (requestable, complete bool) {
	if n < l.epoch.StartNumber {
		return false, false
	}
	if l.epoch.AvailabilityTime(n).Add(l.tsbd).Before(now) {
		return false, false
	}
	return !now.Before(l.available(n, 0)), !now.Before(l.available(n, l.chunks-1))
}

// WriteSegment writes segment n of a rendition to w chunk by chunk, each
// chunk as soon as the clock says it is complete, flushing after each when w
// has a Flush method (http.ResponseWriter does). It returns when the segment
// is written, or ctx is done.
func (l *Loop) WriteSegment(ctx context.Context, w io.Writer, id string, n uint64) error {
	chunks, err := l.Chunks(id, n)
	if err != nil {
		return err
	}
	flusher, _ := w.(interface{ Flush() })
	for j, c := range chunks {
		if err := l.waitUntil(ctx, l.available(n, j)); err != nil {
			return err
		}
		if _, err := w.Write(c); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	return nil
}

// waitUntil blocks until the clock reaches t or ctx is done.
func (l *Loop) waitUntil(ctx context.Context, t time.Time) error {
	for {
		d := t.Sub(l.clock.Now())
		if d <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.clock.After(d):
		}
	}
}

// Chunk is one CMAF chunk emitted by Run. Data is freshly allocated per
// segment and owned by the receiver.
type Chunk struct {
	Rendition string
	Number    uint64
	// Index of the chunk in its segment; Last marks the final one.
	Index int
	Last  bool
	Data  []byte
}

// Run emits the channel as a live encoder would: starting with the segment
// at the live edge (the one in progress at the clock's now), it calls emit
// for every chunk of every rendition as soon as the chunk is complete, in
// rendition order, until ctx is done or emit returns an error. It returns
// ctx.Err() or emit's error.
func (l *Loop) Run(ctx context.Context, emit func(Chunk) error) error {
	n := l.epoch.StartNumber
	if last, ok := l.epoch.Latest(l.clock.Now()); ok {
		n = last + 1
	}
	for ; ; n++ {
		perRendition := make([][][]byte, len(l.asset.renditions))
		for i, r := range l.asset.renditions {
			c, err := l.Chunks(r.id, n)
			if err != nil {
				return err
			}
			perRendition[i] = c
		}
		for j := 0; j < l.chunks; j++ {
			if err := l.waitUntil(ctx, l.available(n, j)); err != nil {
				return err
			}
			for i, r := range l.asset.renditions {
				// Renditions whose last chunk came early (audio) emit
				// nothing for missing indexes.
				if j >= len(perRendition[i]) {
					continue
				}
				last := j == len(perRendition[i])-1
				if err := emit(Chunk{Rendition: r.id, Number: n, Index: j, Last: last, Data: perRendition[i][j]}); err != nil {
					return err
				}
			}
		}
	}
}

func (l *Loop) rendition(id string) (*assetRendition, error) {
	for _, r := range l.asset.renditions {
		if r.id == id {
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownRendition, id)
}

// Manifest returns a Manifest for the channel: one Rendition per asset
// rendition with nominal windows derived from the epoch, the loop's time-shift
// buffer, and low-latency signalling when chunked. The caller may adjust the
// fields (templates, UTCTimingURL, Timeline) before rendering.
func (l *Loop) Manifest() *Manifest {
	m := &Manifest{Epoch: l.epoch, TimeShiftBufferDepth: l.tsbd, ChunkDuration: l.chunk}
	for _, r := range l.asset.renditions {
		rend := Rendition{ID: r.id, Track: r.track, Bandwidth: r.bandwidth}
		if r.track.Kind == "video" && len(r.samples) > 0 {
			rend.FrameRate = frameRateString(r.track.Timescale, r.samples[0].Dur)
		}
		m.Renditions = append(m.Renditions, rend)
	}
	return m
}

// frameRateString renders timescale/sampleDuration reduced, e.g. "25" for
// 12800/512 or "30000/1001".
func frameRateString(timescale, dur uint32) string {
	if dur == 0 {
		return ""
	}
	a, b := timescale, dur
	for b != 0 {
		a, b = b, a%b
	}
	num, den := timescale/a, dur/a
	if den == 1 {
		return fmt.Sprint(num)
	}
	return fmt.Sprintf("%d/%d", num, den)
}
