package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// Page is one page of a Get; the Client does not retain it, so the caller
// owns its slices.
type Page struct {
	// Items in key order (or reverse), values assembled and verified.
	// Item.Metadata is the Metadata the put carried.
	Items []Item
	// Next is the page token for the following page, nil on the last page.
	// Pass it back as Query.Cursor with the same query.
	Next []byte
}

// healAttempts bounds how often a read re-reads a manifest whose chunks
// vanished (the value was replaced and the old chunks swept meanwhile).
const healAttempts = 3

// Get reads a page of record id of ns: the items q selects (key list or
// range, ascending or descending), values of chunked items assembled.
//
// A page holds at most q.Limit items (default Options.PageItems) and stops
// after the item that brings it to q.MaxBytes bytes of key, value and
// metadata (default Options.PageBytes; chunked values count in full), so
// it always makes progress. Page.Next is an opaque token bound to this
// query by an HMAC; pass it back in q.Cursor. A forged, corrupted, stale or
// foreign token is ErrBadCursor. Pages resume after the last key returned,
// so writes between pages never repeat or skip items behind the position.
//
// Like Netflix's adaptive pagination, the token carries the average item
// size seen so far, and Get sizes its Store reads from it.
func (c *Client) Get(ctx context.Context, ns, id string, q Query) (Page, error) {
	if err := firstErr(checkNamespace(ns), CheckID(id), CheckQuery(q)); err != nil {
		return Page{}, err
	}
	budget, capItems := q.MaxBytes, q.Limit
	if budget == 0 {
		budget = c.opts.PageBytes
	}
	if capItems == 0 {
		capItems = c.opts.PageItems
	}
	var pos pagePos
	if q.Cursor != nil {
		var err error
		if pos, err = c.decodePageToken(ns, id, &q, q.Cursor); err != nil {
			return Page{}, err
		}
	}
	sq, done := resumeQuery(q, pos.last, q.Cursor != nil)
	if done {
		return Page{}, nil
	}
	var page Page
	used, more := 0, false
	avg := int(pos.avg)
fill:
	for {
		sq.Limit = capItems - len(page.Items)
		if avg > 0 {
			// Ask the Store for about as many items as the budget holds.
			sq.Limit = min(sq.Limit, max(16, (budget-used)/avg+1))
		}
		sq.MaxBytes = budget - used
		res, err := c.store.Read(ctx, ns, id, sq)
		if err != nil {
			return Page{}, err
		}
		if page.Items == nil {
			page.Items = make([]Item, 0, min(len(res.Items), capItems))
		}
		for i, it := range res.Items {
			item, size, ok, err := c.decodeItem(ctx, ns, id, it)
			if err != nil {
				return Page{}, err
			}
			if !ok {
				continue // deleted while we read its chunks
			}
			page.Items = append(page.Items, item)
			used += size
			if len(page.Items) >= capItems || used >= budget {
				more = i < len(res.Items)-1 || res.Cursor != nil
				break fill
			}
		}
		if res.Cursor == nil {
			break
		}
		sq.Cursor = res.Cursor
	}
	if more {
		a := used / len(page.Items)
		if pos.avg > 0 {
			a = (a + int(pos.avg)) / 2
		}
		last := page.Items[len(page.Items)-1].Key
		q.Cursor = nil
		page.Next = c.encodePageToken(ns, id, &q, pagePos{issued: c.now().UnixMicro(), avg: uint32(min(int64(a), 1<<31)), last: last})
	}
	return page, nil
}

// GetValue returns the value at key in record id of ns, or ErrNotFound.
func (c *Client) GetValue(ctx context.Context, ns, id string, key []byte) ([]byte, error) {
	if key == nil {
		key = []byte{}
	}
	p, err := c.Get(ctx, ns, id, Query{Keys: [][]byte{key}})
	if err != nil {
		return nil, err
	}
	if len(p.Items) == 0 {
		return nil, fmt.Errorf("%w: %s/%s/%q", ErrNotFound, ns, id, key)
	}
	return p.Items[0].Value, nil
}

// resumeQuery builds the Store query for a page that starts after last
// (when resuming). done reports that nothing can remain.
func resumeQuery(q Query, last []byte, resuming bool) (sq Query, done bool) {
	sq = Query{Reverse: q.Reverse, Start: q.Start, End: q.End}
	if q.Keys != nil {
		sq.Start, sq.End = nil, nil
		sq.Keys = make([][]byte, 0, len(q.Keys))
		for _, k := range q.Keys {
			if !resuming || (q.Reverse && bytes.Compare(k, last) < 0) || (!q.Reverse && bytes.Compare(k, last) > 0) {
				sq.Keys = append(sq.Keys, k)
			}
		}
		return sq, len(sq.Keys) == 0
	}
	if resuming {
		if q.Reverse {
			if sq.End == nil || bytes.Compare(last, sq.End) < 0 {
				sq.End = last
			}
		} else {
			next, ok := successor(last)
			if !ok {
				return sq, true
			}
			if sq.Start == nil || bytes.Compare(next, sq.Start) > 0 {
				sq.Start = next
			}
		}
	}
	return sq, sq.Start != nil && sq.End != nil && bytes.Compare(sq.Start, sq.End) >= 0
}

// successor returns the smallest valid key greater than k: k+0x00 when
// that fits in MaxKeyLen, else k's prefix successor (no longer key can
// extend k). ok is false when no valid key is greater.
func successor(k []byte) ([]byte, bool) {
	if len(k) < MaxKeyLen {
		return append(append(make([]byte, 0, len(k)+1), k...), 0), true
	}
	// Drop trailing 0xff bytes by hand: bytes.TrimRight reads its cutset
	// as UTF-8 and would trim every invalid byte, not just 0xff.
	n := len(k)
	for n > 0 && k[n-1] == 0xff {
		n--
	}
	if n == 0 {
		return nil, false
	}
	s := append([]byte{}, k[:n]...)
	s[len(s)-1]++
	return s, true
}

// decodeItem turns a Store item into a Client item: it strips the header
// and assembles a chunked value, re-reading the manifest when its chunks
// do not match (replaced and swept meanwhile). ok is false when the item
// was deleted under the read. size counts key, value and user metadata.
func (c *Client) decodeItem(ctx context.Context, ns, id string, it Item) (item Item, size int, ok bool, err error) {
	for attempt := 0; ; attempt++ {
		h, err := decodeHeader(it.Metadata)
		if err != nil {
			return Item{}, 0, false, fmt.Errorf("%w (item %s/%s/%q)", err, ns, id, it.Key)
		}
		item = Item{Key: it.Key, Value: it.Value, Metadata: h.user, Timestamp: it.Timestamp}
		if h.chunked {
			m := h.m // only chunked items pay for m escaping to the readers
			item.Value, err = c.readChunks(ctx, ns, &m)
			if errors.Is(err, errStaleManifest) && attempt < healAttempts {
				c.log.Debug("kv: chunks do not match manifest; re-reading", "ns", ns, "id", id, "err", err)
				prev := it.Metadata
				res, rerr := c.store.Read(ctx, ns, id, Query{Keys: [][]byte{it.Key}})
				if rerr != nil {
					return Item{}, 0, false, rerr
				}
				if len(res.Items) == 0 {
					return Item{}, 0, false, nil
				}
				it = res.Items[0]
				if !bytes.Equal(it.Metadata, prev) {
					continue
				}
			}
			if err != nil {
				if errors.Is(err, errStaleManifest) {
					err = fmt.Errorf("%w: item %s/%s/%q: %v", ErrCorrupt, ns, id, it.Key, err)
				}
				return Item{}, 0, false, err
			}
		}
		return item, len(item.Key) + len(item.Value) + len(item.Metadata), true, nil
	}
}
