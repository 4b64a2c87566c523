package btree

// Values too large to sit in a leaf cell live in a chain of overflow pages;
// the cell keeps the total length and the first page. Overflow pages bypass
// the cache: a large value read once should not evict the tree's hot pages.

// writeOverflow stores v in a new chain and returns its first page. Pages
// are written straight to the pager (they are never read back by this
// transaction), so a large value does not sit in memory twice.
func (tx *Tx) writeOverflow(v []byte) (uint32, error) {
	per := capacity(tx.ps)
	n := (len(v) + per - 1) / per
	pages := make([]uint32, n)
	for i := range pages {
		pg, err := tx.alloc()
		if err != nil {
			return 0, err
		}
		pages[i] = pg
	}
	buf := make([]byte, tx.ps)
	for i, pg := range pages {
		next := uint32(0)
		if i+1 < n {
			next = pages[i+1]
		}
		end := min((i+1)*per, len(v))
		encodeOverflow(buf, v[i*per:end], next)
		if err := tx.w.WritePage(pg, buf); err != nil {
			return 0, err
		}
		tx.direct = append(tx.direct, pg)
	}
	return pages[0], nil
}

// readOverflow returns the vlen bytes of the chain starting at first, in
// a new slice. Each page is read straight into its place in the result:
// the 8-byte page header lands over the last 8 bytes already assembled
// (saved and put back) or, for the first page, over spare room in front,
// so a large value is copied once, by the read itself.
func (tx *Tx) readOverflow(first uint32, vlen uint32) ([]byte, error) {
	per := capacity(tx.ps)
	want := headerSize + int(vlen)
	out := make([]byte, headerSize, want+tx.ps)
	var saved [headerSize]byte
	pg := first
	for pages := 0; len(out) < want; pages++ {
		if pg == 0 {
			return nil, corrupt(first, "overflow chain ends after %d of %d bytes", len(out)-headerSize, vlen)
		}
		if err := tx.checkPage(pg); err != nil {
			return nil, err
		}
		if pages > int(tx.meta.pageCount) {
			return nil, corrupt(first, "overflow chain loops")
		}
		at := len(out) - headerSize
		copy(saved[:], out[at:])
		buf := out[at : at+tx.ps]
		if err := tx.r.ReadPage(pg, buf); err != nil {
			return nil, err
		}
		data, next, err := decodeOverflow(pg, buf)
		if err != nil {
			return nil, err
		}
		// Every page but the last is full; the last ends the value exactly.
		if len(out)+len(data) > want || (len(data) != per && len(out)+len(data) != want) {
			return nil, corrupt(pg, "overflow page of %d bytes does not fit its %d-byte value", len(data), vlen)
		}
		copy(out[at:], saved[:])
		out = out[:len(out)+len(data)]
		pg = next
	}
	if pg != 0 {
		return nil, corrupt(first, "overflow chain longer than its %d-byte value", vlen)
	}
	return out[headerSize:want:want], nil
}

// overflowPages lists the pages of the chain for a value of vlen bytes
// without reading them: the chain's shape follows from vlen, but the links
// live in the pages, so they are read.
func (tx *Tx) overflowPages(first uint32, vlen uint32) ([]uint32, error) {
	per := capacity(tx.ps)
	n := (int(vlen) + per - 1) / per
	out := make([]uint32, 0, n)
	buf := make([]byte, tx.ps)
	pg := first
	for i := 0; i < n; i++ {
		if pg == 0 {
			return nil, corrupt(first, "overflow chain shorter than its value")
		}
		if err := tx.checkPage(pg); err != nil {
			return nil, err
		}
		out = append(out, pg)
		if i == n-1 {
			break
		}
		if err := tx.r.ReadPage(pg, buf); err != nil {
			return nil, err
		}
		_, next, err := decodeOverflow(pg, buf)
		if err != nil {
			return nil, err
		}
		pg = next
	}
	return out, nil
}

// freeOverflow returns a chain's pages to the free list.
func (tx *Tx) freeOverflow(first uint32, vlen uint32) error {
	pages, err := tx.overflowPages(first, vlen)
	if err != nil {
		return err
	}
	for _, pg := range pages {
		if err := tx.free(pg); err != nil {
			return err
		}
	}
	return nil
}
