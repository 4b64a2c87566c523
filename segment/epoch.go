package segment

import (
	"fmt"
	"time"
)

// DefaultTolerance is the epoch grid tolerance used when Epoch.Tolerance is
// zero: larger than one AAC frame at 48 kHz (21.3 ms), so audio segments
// whose boundaries snap to frames still lock, and smaller than one video frame
// at up to 30 fps, so a video segment that lost a frame is caught.
const DefaultTolerance = 25 * time.Millisecond

// Epoch locks segments to a fixed grid, in the manner of ISO/IEC 23009-9
// (redundant encoding and packaging): media time 0 is the instant Start,
// segment k of the grid covers media time [k·SegmentDuration,
// (k+1)·SegmentDuration) and has number StartNumber+k. Two encoders that
// stamp media time from the same clock therefore produce segments with the
// same numbers and availability times without talking to each other.
//
// # Jitter
//
// Numbers are computed from each segment's own start time, never from a
// running sum, so small per-segment duration jitter (AAC frames that do not
// divide the segment duration, a frame more or less) does not accumulate: a
// start within Tolerance of a grid boundary locks to that boundary.
//
// # Discontinuities
//
// A segment that starts off the grid (for example the short first segment of
// an encoder that joined mid-segment, or the first segment after an encoder
// restart that did not re-align its clock) is reported as DefectOffGrid and
// given the number of the grid slot that contains its start; it should not be
// served under that number. When media time jumps forward, the numbers jump
// with it and the skipped numbers simply never get a segment. When media time
// jumps backwards, the segments lock to numbers that are already taken and
// the gap/overlap check of Inspect (given the previous segment) reports the
// overlap. Epoch never renumbers.
//
// Epoch is a small value; it is safe for concurrent use.
type Epoch struct {
	// Start is the wall-clock instant of media time 0 (the DASH
	// availabilityStartTime). The zero value means the Unix epoch.
	Start time.Time
	// SegmentDuration is the nominal duration of every segment; required.
	SegmentDuration time.Duration
	// StartNumber is the number of the segment that starts at media time 0.
	StartNumber uint64
	// Tolerance is how far a segment boundary may sit from the grid; 0 means
	// DefaultTolerance. It is capped at a quarter of SegmentDuration.
	Tolerance time.Duration
}

// GridError reports a media time that is not on the grid. It matches
// ErrOffGrid with errors.Is. It is a plain value, safe to share.
type GridError struct {
	MediaTime time.Duration
	// Number is the grid slot that contains MediaTime.
	Number uint64
	// Offset is MediaTime minus the nearest grid boundary.
	Offset time.Duration
}

func (e *GridError) Error() string {
	return fmt.Sprintf("%v: media time %v is %v from the nearest boundary (slot %d)", ErrOffGrid, e.MediaTime, e.Offset, e.Number)
}

// Unwrap makes errors.Is(err, ErrOffGrid) true.
func (e *GridError) Unwrap() error { return ErrOffGrid }

func (e Epoch) start() time.Time {
	if e.Start.IsZero() {
		return time.Unix(0, 0)
	}
	return e.Start
}

func (e Epoch) tolerance() time.Duration {
	tol := e.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	if m := e.SegmentDuration / 4; tol > m {
		tol = m
	}
	return tol
}

// Number returns the number of the segment that starts at media time t
// (measured from Start). t must be within the tolerance of a grid boundary,
// else the error is a *GridError naming the slot that contains t.
func (e Epoch) Number(t time.Duration) (uint64, error) {
	if e.SegmentDuration <= 0 {
		return 0, fmt.Errorf("%w: epoch without a segment duration", ErrMalformed)
	}
	if t < 0 {
		return 0, &GridError{MediaTime: t, Offset: t}
	}
	k := uint64(t / e.SegmentDuration)
	off := t % e.SegmentDuration
	if off > e.SegmentDuration/2 {
		k++
		off -= e.SegmentDuration
	}
	if off > e.tolerance() || off < -e.tolerance() {
		return 0, &GridError{MediaTime: t, Number: e.StartNumber + uint64(t/e.SegmentDuration), Offset: off}
	}
	return e.StartNumber + k, nil
}

// MediaTime returns the grid start of segment n, measured from Start.
func (e Epoch) MediaTime(n uint64) time.Duration {
	if n < e.StartNumber {
		return 0
	}
	return time.Duration(n-e.StartNumber) * e.SegmentDuration
}

// AvailabilityTime returns when segment n is complete and may be served:
// Start + its end time on the grid (the DASH $Number$ availability rule).
func (e Epoch) AvailabilityTime(n uint64) time.Time {
	return e.start().Add(e.MediaTime(n) + e.SegmentDuration)
}

// Latest returns the newest segment number whose availability time is not
// after now; ok is false before the first segment is complete.
func (e Epoch) Latest(now time.Time) (n uint64, ok bool) {
	if e.SegmentDuration <= 0 {
		return 0, false
	}
	el := now.Sub(e.start())
	if el < e.SegmentDuration {
		return 0, false
	}
	return e.StartNumber + uint64(el/e.SegmentDuration) - 1, true
}

// Lock sets info.Number from its reference track's start time and checks the
// segment against the grid: a start off the grid adds DefectOffGrid, an end
// that misses the next boundary (missing or extra samples) adds
// DefectDuration. It returns the first of these as an error (a *GridError for
// an off-grid start), nil when the segment fits the grid. Lock is for complete
// segments; a CMAF chunk in the middle of a segment is off the grid by
// design — lock the segment's first chunk with Number instead.
func (e Epoch) Lock(info *Info) error {
	ref, ok := info.Reference()
	if !ok || ref.Timescale == 0 {
		info.addDefect(Defect{Kind: DefectOffGrid, Detail: "no track with a timescale to lock"})
		return fmt.Errorf("%w: segment has no timed track", ErrOffGrid)
	}
	start := ref.Seconds(ref.BaseMediaDecodeTime)
	n, err := e.Number(start)
	if err != nil {
		if ge, ok := err.(*GridError); ok {
			info.Number = ge.Number
		}
		info.addDefect(Defect{Kind: DefectOffGrid, Track: ref.ID, Detail: err.Error()})
		return err
	}
	info.Number = n
	end := ref.Seconds(ref.End())
	want := e.MediaTime(n) + e.SegmentDuration
	if off := end - want; off > e.tolerance() || off < -e.tolerance() {
		err := fmt.Errorf("%w: segment %d ends at %v, grid boundary is %v (off by %v)", ErrOffGrid, n, end, want, off)
		info.addDefect(Defect{Kind: DefectDuration, Track: ref.ID, Detail: fmt.Sprintf("ends %v from the grid boundary %v", off, want)})
		return err
	}
	return nil
}
