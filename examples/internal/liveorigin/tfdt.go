package liveorigin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/edgekit/edgekit/segment"
)

var errTfdt = errors.New("edgekit/examples/liveorigin: cannot shift tfdt")

// shiftTfdt adds offset (converted to each track's timescale) to the tfdt of
// every traf in data, in place. data has passed segment.Inspect without a
// framing defect, but every size is checked again here: the walk must never
// read past a box.
func shiftTfdt(data []byte, init *segment.Init, offset time.Duration) error {
	if offset == 0 {
		return nil
	}
	return walkBoxes(data, func(typ string, box []byte) error {
		if typ != "moof" {
			return nil
		}
		return walkBoxes(box[8:], func(typ string, traf []byte) error {
			if typ != "traf" {
				return nil
			}
			return shiftTraf(traf[8:], init, offset)
		})
	})
}

func shiftTraf(children []byte, init *segment.Init, offset time.Duration) error {
	var track uint32
	return walkBoxes(children, func(typ string, box []byte) error {
		switch typ {
		case "tfhd":
			if len(box) < 16 {
				return fmt.Errorf("%w: short tfhd", errTfdt)
			}
			track = binary.BigEndian.Uint32(box[12:16])
		case "tfdt":
			t, ok := init.Track(track)
			if !ok || t.Timescale == 0 {
				return fmt.Errorf("%w: tfdt of unknown track %d", errTfdt, track)
			}
			ticks := durationTicks(offset, t.Timescale)
			if len(box) < 16 {
				return fmt.Errorf("%w: short tfdt", errTfdt)
			}
			switch box[8] { // version
			case 1:
				if len(box) < 20 {
					return fmt.Errorf("%w: short tfdt", errTfdt)
				}
				v, err := addTicks(binary.BigEndian.Uint64(box[12:20]), ticks)
				if err != nil {
					return err
				}
				binary.BigEndian.PutUint64(box[12:20], v)
			case 0:
				v, err := addTicks(uint64(binary.BigEndian.Uint32(box[12:16])), ticks)
				if err != nil || v > math.MaxUint32 {
					return fmt.Errorf("%w: 32-bit tfdt overflows at the epoch offset (encoder must write tfdt version 1)", errTfdt)
				}
				binary.BigEndian.PutUint32(box[12:16], uint32(v))
			default:
				return fmt.Errorf("%w: tfdt version %d", errTfdt, box[8])
			}
		}
		return nil
	})
}

func addTicks(v uint64, d int64) (uint64, error) {
	if d < 0 && uint64(-d) > v {
		return 0, fmt.Errorf("%w: decode time would become negative", errTfdt)
	}
	if d > 0 && v > math.MaxUint64-uint64(d) {
		return 0, fmt.Errorf("%w: decode time overflows", errTfdt)
	}
	return uint64(int64(v) + d), nil
}

// durationTicks converts d to ticks of timescale, rounding to the nearest
// tick. Offsets are whole milliseconds, so ms × timescale stays far inside
// int64 for any epoch offset of centuries.
func durationTicks(d time.Duration, timescale uint32) int64 {
	ms := d.Milliseconds()
	num := ms * int64(timescale)
	if num >= 0 {
		return (num + 500) / 1000
	}
	return (num - 500) / 1000
}

// walkBoxes calls fn for each box in data with its type and whole bytes
// (header included). A size that does not fit is an error.
func walkBoxes(data []byte, fn func(typ string, box []byte) error) error {
	for len(data) > 0 {
		if len(data) < 8 {
			return fmt.Errorf("%w: truncated box header", errTfdt)
		}
		size := uint64(binary.BigEndian.Uint32(data))
		hdr := uint64(8)
		if size == 1 {
			if len(data) < 16 {
				return fmt.Errorf("%w: truncated box header", errTfdt)
			}
			size, hdr = binary.BigEndian.Uint64(data[8:16]), 16
		} else if size == 0 {
			size = uint64(len(data))
		}
		if size < hdr || size > uint64(len(data)) {
			return fmt.Errorf("%w: box size %d out of bounds", errTfdt, size)
		}
		if hdr == 16 {
			// A 64-bit size box: hand fn a view whose children start at 8 by
			// dropping it — moof and traf never use large sizes in practice.
			return fmt.Errorf("%w: 64-bit box sizes are not supported", errTfdt)
		}
		if err := fn(string(data[4:8]), data[:size]); err != nil {
			return err
		}
		data = data[size:]
	}
	return nil
}
