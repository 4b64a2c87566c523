package segment

import "time"

// Info is what inspection learned about one media segment or CMAF chunk. It
// is a plain value: it holds no reference to the segment bytes, can be copied,
// stored with MarshalBinary and fed to the manifest builders. It is not safe
// for concurrent modification; concurrent reads are fine.
type Info struct {
	// Number is the epoch segment number. It is set by Epoch.Lock (or by the
	// live source); Inspect leaves it 0.
	Number uint64
	// Size is the byte size of the inspected data.
	Size int
	// SequenceNumber is the mfhd sequence number of the first fragment.
	SequenceNumber uint32
	// Fragments is the number of moof+mdat pairs (CMAF chunks).
	Fragments int
	// Tracks in order of first appearance.
	Tracks []TrackInfo
	// Defects found, at most 32; empty means the segment is valid.
	Defects []Defect
}

// TrackInfo is the per-track part of Info. Times are in the track's
// timescale. It is a plain value, safe to copy and share.
type TrackInfo struct {
	ID        uint32
	Timescale uint32
	// BaseMediaDecodeTime is the tfdt of the track's first fragment.
	BaseMediaDecodeTime uint64
	// Duration is the sum of sample durations over all fragments.
	Duration uint64
	// Samples is the number of samples.
	Samples int
	// Bytes is the sum of sample sizes (media payload).
	Bytes int
	// StartsWithSync: the first sample's flags mark it as a sync sample.
	StartsWithSync bool
	// StartsWithIDR: for AVC/HEVC tracks, the first sample holds an IDR
	// (AVC) or IRAP (HEVC) picture; for other tracks it equals
	// StartsWithSync.
	StartsWithIDR bool
}

// End returns BaseMediaDecodeTime + Duration: where the next segment of the
// track must start.
func (t TrackInfo) End() uint64 { return t.BaseMediaDecodeTime + t.Duration }

// Seconds converts a tick count of this track to a time.Duration, without
// overflow for any 64-bit tick count that fits a Duration.
func (t TrackInfo) Seconds(ticks uint64) time.Duration {
	return ticksToDuration(ticks, t.Timescale)
}

// Valid reports whether no defect was found.
func (i *Info) Valid() bool { return len(i.Defects) == 0 }

// Err returns nil for a valid segment, else a *DefectError (matching
// ErrDefective) listing the defects.
func (i *Info) Err() error {
	if len(i.Defects) == 0 {
		return nil
	}
	return &DefectError{Defects: append([]Defect(nil), i.Defects...)}
}

// Track returns the TrackInfo for a track id.
func (i *Info) Track(id uint32) (TrackInfo, bool) {
	for _, t := range i.Tracks {
		if t.ID == id {
			return t, true
		}
	}
	return TrackInfo{}, false
}

// Reference returns the track that timing decisions (epoch locking,
// manifests) are based on: the first track. CMAF segments carry one track,
// so this is simply that track. ok is false when the segment has no track.
func (i *Info) Reference() (t TrackInfo, ok bool) {
	if len(i.Tracks) == 0 {
		return TrackInfo{}, false
	}
	return i.Tracks[0], true
}

// addDefect appends d unless the list is full; the last slot then says that
// more were dropped.
func (i *Info) addDefect(d Defect) {
	switch {
	case len(i.Defects) < maxDefects-1:
		i.Defects = append(i.Defects, d)
	case len(i.Defects) == maxDefects-1:
		i.Defects = append(i.Defects, Defect{Kind: d.Kind, Track: d.Track, Detail: "further defects omitted"})
	}
}

// ticksToDuration converts ticks at timescale to a Duration, splitting into
// whole seconds and remainder so that large epoch-based times do not overflow
// the intermediate product.
func ticksToDuration(ticks uint64, timescale uint32) time.Duration {
	if timescale == 0 {
		return 0
	}
	ts := uint64(timescale)
	return time.Duration(ticks/ts)*time.Second + time.Duration((ticks%ts)*uint64(time.Second)/ts)
}

// durationToTicks converts a non-negative Duration to ticks, rounding to the
// nearest tick.
func durationToTicks(d time.Duration, timescale uint32) uint64 {
	if d <= 0 {
		return 0
	}
	ts := uint64(timescale)
	sec := uint64(d / time.Second)
	rem := uint64(d % time.Second)
	return sec*ts + (rem*ts+uint64(time.Second)/2)/uint64(time.Second)
}
