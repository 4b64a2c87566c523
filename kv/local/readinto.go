package local

import (
	"bytes"
	"context"
	"errors"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

var _ kv.IntoReader = (*Store)(nil)

// ReadInto reads the live values at keys of record id straight into dsts,
// from one snapshot (see kv.IntoReader). A value in an overflow chain (any
// value over about a quarter of a page) is read from the file into dsts[i]
// by the read system calls themselves: its first page goes through a
// scratch page, to find where the value starts after the cell's header,
// and every later page lands in place. A value whose length is not
// len(dsts[i]) is measured, not read.
func (s *Store) ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) ([]int, error) {
	if err := kv.CheckReadInto(ns, id, keys, dsts); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.exit()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	lens := make([]int, len(keys))
	err := s.view(func(tx *btree.Tx) error {
		r, err := s.newReader(tx, ns, id)
		if err != nil {
			return err
		}
		for i, k := range keys {
			if lens[i], err = r.into(k, dsts[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lens, nil
}

// errHeadPastPage: a cell's fields before its value (metadata of more than
// a page) do not fit in its first overflow page; into reads it whole.
var errHeadPastPage = errors.New("edgekit/kv/local: cell header longer than a page")

// into reads the live value at key into dst if it is len(dst) bytes long,
// and returns its length, or -1 when key has no live value.
func (r *reader) into(key, dst []byte) (int, error) {
	ik := itemKey(r.id, key)
	c := r.cursor()
	c.Seek(ik)
	if err := c.Err(); err != nil {
		return 0, err
	}
	if !c.Valid() || !bytes.Equal(c.Key(), ik) {
		return -1, nil
	}
	n := -1
	err := c.ReadValue(func(vlen int, head []byte) (int, []byte, error) {
		cd, hl, err := decodeCellHead(head)
		if errors.Is(err, errShortCell) && len(head) < vlen {
			return 0, nil, errHeadPastPage
		}
		if err != nil {
			return 0, nil, errBadCell
		}
		if !r.visible(key, &cd) {
			return 0, nil, nil
		}
		if n = vlen - hl; n != len(dst) {
			return 0, nil, nil // the caller learns the length, reads nothing
		}
		return hl, dst, nil
	})
	if errors.Is(err, errHeadPastPage) {
		return r.intoWhole(key, dst, c)
	}
	return n, err
}

// intoWhole is into for a cell whose header does not fit in a page: it
// reads the value the ordinary way and copies it.
func (r *reader) intoWhole(key, dst []byte, c *btree.Cursor) (int, error) {
	v, err := c.Value()
	if err != nil {
		return 0, err
	}
	cd, err := decodeCell(v)
	if err != nil {
		return 0, err
	}
	if !r.visible(key, &cd) {
		return -1, nil
	}
	if len(cd.value) == len(dst) {
		copy(dst, cd.value)
	}
	return len(cd.value), nil
}
