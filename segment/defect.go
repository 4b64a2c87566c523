package segment

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns matches one of these with
// errors.Is.
var (
	// ErrMalformed: the bytes are not a usable init segment (InspectInit) or
	// a manifest or asset could not be built from the input.
	ErrMalformed = errors.New("edgekit/segment: malformed input")
	// ErrDefective: a media segment was inspected and has at least one defect;
	// the *DefectError returned by Info.Err carries them.
	ErrDefective = errors.New("edgekit/segment: defective segment")
	// ErrOffGrid: a media time is not within the tolerance of an epoch
	// segment boundary.
	ErrOffGrid = errors.New("edgekit/segment: media time off the epoch grid")
	// ErrNoCandidate: pipeline selection found no valid candidate.
	ErrNoCandidate = errors.New("edgekit/segment: no valid candidate")
	// ErrNotAvailable: the live source was asked for a segment that is not
	// available yet (or no longer) at the current time.
	ErrNotAvailable = errors.New("edgekit/segment: segment not available")
	// ErrUnknownRendition: a rendition id is not part of the asset or manifest.
	ErrUnknownRendition = errors.New("edgekit/segment: unknown rendition")
)

// DefectKind classifies a defect. The numeric values are stored by
// Info.MarshalBinary and are frozen: new kinds get new numbers, old numbers are
// never reused.
type DefectKind uint8

// Defect kinds (frozen values).
const (
	// DefectTruncated: a box extends past the end of the data (a truncated
	// upload), or the data ends inside a box header.
	DefectTruncated DefectKind = 1
	// DefectMalformed: the box structure cannot be parsed (bad sizes, a moof
	// that mp4ff rejects, no moof/mdat at all, trailing garbage).
	DefectMalformed DefectKind = 2
	// DefectGap: the first decode time of a track is later than the end of
	// the same track in the previous segment.
	DefectGap DefectKind = 3
	// DefectOverlap: the first decode time of a track is earlier than the end
	// of the same track in the previous segment.
	DefectOverlap DefectKind = 4
	// DefectNoKeyframe: the segment does not start with a sync sample, or a
	// video track's first sample holds no IDR/IRAP picture.
	DefectNoKeyframe DefectKind = 5
	// DefectZeroDuration: a sample has duration 0.
	DefectZeroDuration DefectKind = 6
	// DefectNegativeOffset: a sample would be presented before media time 0
	// (negative composition offset larger than its decode time) or a trun
	// data offset points before its moof.
	DefectNegativeOffset DefectKind = 7
	// DefectTrackMismatch: a traf names a track id that the init segment does
	// not declare.
	DefectTrackMismatch DefectKind = 8
	// DefectTrunExceedsMdat: the sample sizes of a trun reach past the end of
	// the mdat that follows the moof.
	DefectTrunExceedsMdat DefectKind = 9
	// DefectOffGrid: the segment does not start on an epoch segment boundary
	// (added by Epoch.Lock).
	DefectOffGrid DefectKind = 10
	// DefectDuration: the segment does not end on the next epoch boundary
	// within the tolerance — typically missing samples (added by Epoch.Lock).
	DefectDuration DefectKind = 11
	// DefectNumber: the segment's epoch number differs from the number it was
	// offered for (added by Select).
	DefectNumber DefectKind = 12
	// DefectMissing: a pipeline has no segment for the number (added by
	// Select for a nil candidate).
	DefectMissing DefectKind = 13
)

var defectNames = map[DefectKind]string{
	DefectTruncated:       "truncated",
	DefectMalformed:       "malformed",
	DefectGap:             "gap",
	DefectOverlap:         "overlap",
	DefectNoKeyframe:      "no-keyframe",
	DefectZeroDuration:    "zero-duration",
	DefectNegativeOffset:  "negative-offset",
	DefectTrackMismatch:   "track-mismatch",
	DefectTrunExceedsMdat: "trun-exceeds-mdat",
	DefectOffGrid:         "off-grid",
	DefectDuration:        "duration",
	DefectNumber:          "number",
	DefectMissing:         "missing",
}

// String returns a short stable name such as "gap" or "trun-exceeds-mdat".
func (k DefectKind) String() string {
	if s, ok := defectNames[k]; ok {
		return s
	}
	return fmt.Sprintf("defect(%d)", uint8(k))
}

// Defect is one problem found in a segment. It is a plain value, safe to
// copy and share.
type Defect struct {
	Kind DefectKind
	// Track is the track id the defect concerns, 0 if it concerns the whole
	// segment.
	Track uint32
	// Detail is a human-readable explanation with the numbers involved.
	Detail string
}

func (d Defect) String() string {
	if d.Track != 0 {
		return fmt.Sprintf("%s (track %d): %s", d.Kind, d.Track, d.Detail)
	}
	return fmt.Sprintf("%s: %s", d.Kind, d.Detail)
}

// DefectError is the error form of a defect list. It matches ErrDefective
// with errors.Is. It owns a copy of the defects and is safe to share.
type DefectError struct {
	Defects []Defect
}

func (e *DefectError) Error() string {
	parts := make([]string, len(e.Defects))
	for i, d := range e.Defects {
		parts[i] = d.String()
	}
	return ErrDefective.Error() + ": " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrDefective) true.
func (e *DefectError) Unwrap() error { return ErrDefective }

// maxDefects bounds the defect list so a hostile segment with millions of
// bad samples cannot make inspection allocate without limit.
const maxDefects = 32
