// Package segment is the media brain of a live origin: it inspects and
// validates CMAF (fragmented MP4) segments, locks them to an epoch-based
// segment grid, picks one segment among redundant encoding pipelines,
// renders DASH and HLS manifests for a sliding window, and plays a VoD CMAF
// asset as an endless live channel for tests and demos. It is built on
// github.com/Eyevinn/mp4ff (boxes) and github.com/Eyevinn/dash-mpd (MPDs).
//
// # Model
//
// An origin receives an init segment (InspectInit → *Init) and then media
// segments per rendition. For each media segment:
//
//	info := segment.Inspect(init, body, prev) // tracks, timing, defects
//	err  := epoch.Lock(info)                   // number from media time
//	meta, _ := info.MarshalBinary()            // store next to the body
//
// Inspect reports what a lightweight media inspection can see without
// decoding pictures: per track the timescale, base media decode time (tfdt),
// duration, sample count, payload bytes, and whether the first sample is a
// sync sample and (H.264/HEVC) an IDR/IRAP picture; and a list of Defects:
// truncated or malformed boxes, decode-time gaps and overlaps against the
// previous segment (and between the chunks of one segment), missing
// keyframe, zero-duration samples, negative offsets, track ids the init does
// not declare, and trun sample sizes that reach past the mdat. A segment is
// valid when the list is empty (Info.Err is nil).
//
// Epoch locking (Epoch) follows ISO/IEC 23009-9: media time 0 is a fixed
// instant, segment k covers [k·d, (k+1)·d), its number is StartNumber+k and
// its availability time is Start+(k+1)·d. Encoders that stamp media time from
// a shared clock produce interchangeable segments; see Epoch for jitter and
// discontinuities. Select then picks, per segment number, the first valid
// candidate in a fixed pipeline order and reports why the others were
// disqualified.
//
// Manifest renders a dynamic MPD (SegmentTemplate with $Number$, optionally
// with a SegmentTimeline; UTCTiming; availabilityTimeOffset and
// availabilityTimeComplete="false" for low-latency chunked delivery), HLS
// media playlists and a multivariant playlist from a window of Infos, or —
// for a perfectly regular source — from the epoch alone.
//
// Loop turns an Asset (LoadDASH, NewAsset) into a live channel aligned to
// the epoch by re-timing its samples (tfdt and mfhd rewritten, as livesim2
// does); Loop.Handler serves it like a small origin and Loop.Run emits CMAF
// chunks on their wall-clock schedule, as a live encoder would.
//
// # Untrusted input
//
// Segment bodies come from the network. mp4ff v0.56.0 panics on some
// malformed input (short AVC samples, trun sizes past the mdat), loops
// forever on a NAL unit length that wraps, and silently accepts a truncated
// mdat. Inspect therefore frames every box itself (sizes checked against the
// data before anything else reads it), hands mp4ff only the boxes it needs
// (mfhd, tfhd, tfdt, trun), one at a time and bounded by the box's own bytes,
// walks NAL units with its own bounds checks, and recovers any panic that
// still escapes into a DefectMalformed. Fuzz tests seeded with real ffmpeg
// segments exercise this.
//
// # Stored metadata
//
// Info.MarshalBinary writes a compact, versioned encoding so that an origin
// can store each segment's Info in a key-value store beside the bytes and
// rebuild manifests from it. Every integer is an unsigned LEB128 varint
// (encoding/binary.AppendUvarint) unless marked as one byte. The layout is
// FROZEN for version 1, and so are the DefectKind values:
//
//	+------+------+---------+
//	| 0x53 | 0x49 |  0x01   |   magic "SI", version 1 (one byte each)
//	+------+------+---------+
//	| Number | Size | SequenceNumber | Fragments | nTracks |
//	+--------+------+----------------+-----------+---------+
//	nTracks times:
//	| ID | Timescale | BaseMediaDecodeTime | Duration | Samples | Bytes | flags (1 byte) |
//	    flags: bit 0 = StartsWithSync, bit 1 = StartsWithIDR, others 0
//	| nDefects |
//	nDefects times:
//	| kind (1 byte) | Track | len(Detail) | Detail (UTF-8 bytes) |
//
// The decoder rejects other magics and versions, trailing bytes, values that
// overflow their field, and counts that could not fit the remaining input.
//
// # Concurrency
//
// Inspect, InspectInit, Select and the Epoch methods are pure functions, safe
// for concurrent use. *Init, *Asset and *Loop are immutable after
// construction and safe for concurrent use. Info and Manifest are plain
// values: share them read-only or copy them. So are the other structs
// (Candidate, Selection, Rejection, Rendition, Chunk, the option types and
// the error types).
//
// # Caveats
//
//   - AVC/HEVC samples are assumed to use 4-byte NAL unit lengths (the only
//     length mp4ff accepts in avcC/hvcC).
//   - Epoch locking uses the first track's decode time; a segment with
//     B-frames whose composition offsets shift the earliest presentation time
//     still locks by its decode time.
//   - DASH templates carry 32-bit startNumber values (dash-mpd's type), so
//     numbers must stay below 2^32.
//   - A Loop's default epoch is 2020-01-01T00:00:00Z rather than 1970:
//     ffmpeg 5.1's DASH demuxer computes a wrong live edge for a 1970
//     availabilityStartTime.
package segment
