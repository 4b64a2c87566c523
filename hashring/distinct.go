package hashring

// distinct remembers which member indices a preference walk has already
// returned. Up to 16 it uses an array on the stack (the common LocateN(key,
// 3) case allocates nothing); beyond that a bitmap over all members.
type distinct struct {
	small [16]uint32
	big   []uint64 // bitmap, used when more than len(small) may be kept
	n     int      // number of members added so far
}

func (d *distinct) init(want, members int) {
	if want > len(d.small) {
		d.big = make([]uint64, (members+63)/64)
	}
}

// add records m and reports whether it was new.
func (d *distinct) add(m uint32) bool {
	if d.big != nil {
		w, b := m/64, uint64(1)<<(m%64)
		if d.big[w]&b != 0 {
			return false
		}
		d.big[w] |= b
		d.n++
		return true
	}
	for _, s := range d.small[:d.n] {
		if s == m {
			return false
		}
	}
	d.small[d.n] = m
	d.n++
	return true
}
