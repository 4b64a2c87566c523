package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The binary form of an Info (MarshalBinary). The byte layout is drawn in
// the package documentation (doc.go, "Stored metadata") and is FROZEN for
// version 1: changing any field means a new version byte, and the decoder
// must keep reading version 1.
const (
	infoMagic0  = 0x53
	infoMagic1  = 0x49
	infoVersion = 1
)

// MarshalBinary encodes the Info in the frozen version-1 layout above.
func (i *Info) MarshalBinary() ([]byte, error) {
	return i.AppendBinary(make([]byte, 0, 48+len(i.Tracks)*24+len(i.Defects)*48))
}

// AppendBinary appends the encoding of the Info to b.
func (i *Info) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, infoMagic0, infoMagic1, infoVersion)
	b = binary.AppendUvarint(b, i.Number)
	b = binary.AppendUvarint(b, uint64(i.Size))
	b = binary.AppendUvarint(b, uint64(i.SequenceNumber))
	b = binary.AppendUvarint(b, uint64(i.Fragments))
	b = binary.AppendUvarint(b, uint64(len(i.Tracks)))
	for _, t := range i.Tracks {
		b = binary.AppendUvarint(b, uint64(t.ID))
		b = binary.AppendUvarint(b, uint64(t.Timescale))
		b = binary.AppendUvarint(b, t.BaseMediaDecodeTime)
		b = binary.AppendUvarint(b, t.Duration)
		b = binary.AppendUvarint(b, uint64(t.Samples))
		b = binary.AppendUvarint(b, uint64(t.Bytes))
		var f byte
		if t.StartsWithSync {
			f |= 1
		}
		if t.StartsWithIDR {
			f |= 2
		}
		b = append(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(i.Defects)))
	for _, d := range i.Defects {
		b = append(b, byte(d.Kind))
		b = binary.AppendUvarint(b, uint64(d.Track))
		b = binary.AppendUvarint(b, uint64(len(d.Detail)))
		b = append(b, d.Detail...)
	}
	return b, nil
}

// UnmarshalBinary decodes what MarshalBinary wrote. Errors match
// ErrMalformed.
func (i *Info) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	if len(data) < 3 || data[0] != infoMagic0 || data[1] != infoMagic1 {
		return fmt.Errorf("%w: info: bad magic", ErrMalformed)
	}
	if data[2] != infoVersion {
		return fmt.Errorf("%w: info: unknown version %d", ErrMalformed, data[2])
	}
	r.b = data[3:]
	var out Info
	out.Number = r.uvarint()
	out.Size = r.int()
	out.SequenceNumber = r.u32()
	out.Fragments = r.int()
	// Every track takes at least 7 bytes, every defect at least 3: a count
	// larger than the remaining input/minimum is corrupt.
	n := r.count(7)
	for range n {
		t := TrackInfo{ID: r.u32(), Timescale: r.u32(), BaseMediaDecodeTime: r.uvarint(), Duration: r.uvarint(), Samples: r.int(), Bytes: r.int()}
		f := r.byte()
		t.StartsWithSync, t.StartsWithIDR = f&1 != 0, f&2 != 0
		out.Tracks = append(out.Tracks, t)
	}
	n = r.count(3)
	for range n {
		d := Defect{Kind: DefectKind(r.byte()), Track: r.u32()}
		d.Detail = string(r.bytes(r.count(1)))
		out.Defects = append(out.Defects, d)
	}
	if r.err != nil {
		return fmt.Errorf("%w: info: %v", ErrMalformed, r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: info: %d trailing bytes", ErrMalformed, len(r.b))
	}
	*i = out
	return nil
}

// reader decodes varints with a sticky error, so the decoder above reads
// straight through and checks once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(msg string) {
	if r.err == nil {
		r.err = errors.New(msg)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad or truncated varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.fail("value exceeds 32 bits")
		return 0
	}
	return uint32(v)
}

func (r *reader) int() int {
	v := r.uvarint()
	if v > math.MaxInt {
		r.fail("value exceeds int")
		return 0
	}
	return int(v)
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// count reads a length and rejects it when that many items of at least
// minSize bytes cannot fit in the rest of the input.
func (r *reader) count(minSize int) int {
	v := r.uvarint()
	if v > uint64(len(r.b)/minSize) {
		r.fail("count exceeds input")
		return 0
	}
	return int(v)
}

func (r *reader) bytes(n int) []byte {
	if n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}
