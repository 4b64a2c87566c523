package segment

import (
	"encoding/binary"
	"fmt"
)

// box is the frame of one ISO-BMFF box inside a byte slice: data[start:end]
// is the whole box and data[body:end] its payload.
type box struct {
	typ   [4]byte
	start int
	body  int
	end   int
}

func (b box) is(t string) bool { return string(b.typ[:]) == t }

// typeName renders a box type for defect details; non-printable bytes are
// escaped so hostile input cannot inject control characters into logs.
func typeName(t [4]byte) string {
	for _, c := range t {
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("%q", string(t[:]))
		}
	}
	return string(t[:])
}

// walkBoxes frames the boxes in data[from:to]. It never reads outside that
// range and never loops without progress: every accepted box is at least 8
// bytes long. On the first box that cannot be framed it returns the boxes
// framed so far plus a defect (DefectTruncated when the data simply ends too
// early, DefectMalformed when a size field is impossible).
//
// A size field of 0 ("extends to the end") is accepted only for the last
// box, as ISO/IEC 14496-12 allows.
func walkBoxes(data []byte, from, to int, dst []box) ([]box, *Defect) {
	pos := from
	for pos < to {
		rem := to - pos
		if rem < 8 {
			return dst, &Defect{Kind: DefectTruncated, Detail: fmt.Sprintf("%d stray bytes at offset %d, shorter than a box header", rem, pos)}
		}
		var b box
		copy(b.typ[:], data[pos+4:pos+8])
		b.start = pos
		b.body = pos + 8
		size := uint64(binary.BigEndian.Uint32(data[pos:]))
		switch size {
		case 0:
			size = uint64(rem)
		case 1:
			if rem < 16 {
				return dst, &Defect{Kind: DefectTruncated, Detail: fmt.Sprintf("box %s at offset %d: large-size header cut off", typeName(b.typ), pos)}
			}
			size = binary.BigEndian.Uint64(data[pos+8:])
			b.body = pos + 16
		}
		if size < uint64(b.body-pos) {
			return dst, &Defect{Kind: DefectMalformed, Detail: fmt.Sprintf("box %s at offset %d: size %d smaller than its header", typeName(b.typ), pos, size)}
		}
		if size > uint64(rem) {
			return dst, &Defect{Kind: DefectTruncated, Detail: fmt.Sprintf("box %s at offset %d: declares %d bytes, only %d present", typeName(b.typ), pos, size, rem)}
		}
		b.end = pos + int(size)
		dst = append(dst, b)
		pos = b.end
	}
	return dst, nil
}

// walkChildren frames the children of a container box and requires them to
// fill it exactly. Any framing problem inside a container is malformation, not
// truncation: the container itself was complete.
func walkChildren(data []byte, parent box, dst []box) ([]box, *Defect) {
	kids, d := walkBoxes(data, parent.body, parent.end, dst)
	if d != nil {
		d.Kind = DefectMalformed
		d.Detail = "inside " + typeName(parent.typ) + ": " + d.Detail
	}
	return kids, d
}
