package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/cespare/xxhash/v2"
)

// OpenValue returns a reader of the value at key in record id of ns, or
// ErrNotFound. Unlike GetValue, which assembles a chunked value in memory,
// the reader fetches a chunked value one Store read at a time (up to 4 MiB
// of chunks), so a server can relay a value of many gigabytes with a
// bounded buffer. An inline value is read from the one item.
//
// The checksum in the manifest covers the whole value, so the reader can
// only vouch for the bytes at the end: the Read that would return io.EOF
// returns an error wrapping ErrCorrupt instead when the value fails it, or
// when a chunk is missing or has the wrong size. A caller that relays the
// bytes as it reads them must treat any error other than io.EOF as "what
// was sent is not the value". If the value is replaced and its old chunks
// swept before the reader reaches them, Read fails the same way; before
// the first byte has been returned, OpenValue retries on the new value.
//
// ctx bounds every Store read the reader makes. A ValueReader is not safe
// for concurrent use; Close releases its buffer and is safe to call twice.
func (c *Client) OpenValue(ctx context.Context, ns, id string, key []byte) (*ValueReader, error) {
	if key == nil {
		key = []byte{}
	}
	if err := firstErr(checkNamespace(ns), CheckID(id), CheckKey(key)); err != nil {
		return nil, err
	}
	var prev []byte
	for attempt := 0; ; attempt++ {
		res, err := c.store.Read(ctx, ns, id, Query{Keys: [][]byte{key}})
		if err != nil {
			return nil, err
		}
		if len(res.Items) == 0 {
			return nil, fmt.Errorf("%w: %s/%s/%q", ErrNotFound, ns, id, key)
		}
		it := res.Items[0]
		h, err := decodeHeader(it.Metadata)
		if err != nil {
			return nil, fmt.Errorf("%w (item %s/%s/%q)", err, ns, id, key)
		}
		r := &ValueReader{c: c, ctx: ctx, ns: ns, what: fmt.Sprintf("%s/%s/%q", ns, id, key),
			meta: h.user, ts: it.Timestamp}
		if !h.chunked {
			r.buf, r.size, r.done = it.Value, int64(len(it.Value)), true
			return r, nil
		}
		r.m, r.chunked, r.size = h.m, true, int64(h.m.size)
		r.d = xxhash.New()
		// Fetch the first window now: a value replaced and swept between
		// the manifest read and the chunk read is retried here, before
		// the caller has seen a byte of it.
		err = r.fill()
		if errors.Is(err, errStaleManifest) && attempt < healAttempts && !bytes.Equal(it.Metadata, prev) {
			prev = it.Metadata
			continue
		}
		if err != nil {
			return nil, r.fail(err)
		}
		return r, nil
	}
}

// ValueReader reads one value; see Client.OpenValue. Not safe for
// concurrent use.
type ValueReader struct {
	c    *Client
	ctx  context.Context
	ns   string
	what string // ns/id/key, for errors
	meta []byte
	ts   int64
	size int64

	chunked bool
	m       manifest
	d       *xxhash.Digest // hash of the chunks fetched so far
	next    uint32         // first chunk not yet fetched
	win     []byte         // the fetched window, reused
	buf     []byte         // the part of win not yet returned
	done    bool           // every chunk fetched (and, if chunked, verified)
	err     error          // sticky error
}

// Size returns the value's length in bytes, as its manifest states it.
func (r *ValueReader) Size() int64 { return r.size }

// Metadata returns the caller's metadata stored with the value.
func (r *ValueReader) Metadata() []byte { return r.meta }

// Timestamp returns the value's write timestamp.
func (r *ValueReader) Timestamp() int64 { return r.ts }

// Read reads the next bytes of the value. It returns io.EOF after the last
// byte only when the whole value has passed its checksum.
func (r *ValueReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			return 0, r.fail(err)
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// Close drops the reader's buffer; later Reads return ErrClosed.
func (r *ValueReader) Close() error {
	r.win, r.buf, r.done = nil, nil, true
	if r.err == nil {
		r.err = ErrClosed
	}
	return nil
}

// fill fetches the next window of chunks (as many as one staging call
// writes, at least one) and, after the last, checks the checksum.
func (r *ValueReader) fill() error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	per := uint32(max(1, stageBytes/int(r.m.chunkSize)))
	hi := min(r.m.chunks, r.next+per)
	var buf []byte
	if off, end := chunkSpan(&r.m, r.next, hi); r.c.into != nil && end-off <= maxParallelRead {
		// The Store reads the window's chunks straight into win, which
		// every later window reuses. (The bound keeps a corrupt
		// manifest's chunk size from allocating more than readChunks
		// would.)
		if n := int(end - off); cap(r.win) < n {
			r.win = make([]byte, n)
		}
		buf = r.win[:end-off]
		if err := readInto(r.ctx, r.c.into, r.ns, &r.m, r.next, hi, buf); err != nil {
			return err
		}
		r.d.Write(buf)
	} else {
		buf = r.win[:0]
		err := r.c.readRange(r.ctx, r.ns, &r.m, r.next, hi, func(_ uint32, b []byte) {
			r.d.Write(b)
			buf = append(buf, b...)
		})
		if err != nil {
			return err
		}
	}
	r.win, r.buf, r.next = buf, buf, hi
	if r.next == r.m.chunks {
		r.done = true
		if r.d.Sum64() != r.m.checksum {
			r.buf = nil
			return fmt.Errorf("%w: write %s fails its checksum", errStaleManifest, r.m.id.recordID())
		}
	}
	return nil
}

// fail makes err sticky, reporting a chunk mismatch as ErrCorrupt.
func (r *ValueReader) fail(err error) error {
	if errors.Is(err, errStaleManifest) {
		err = fmt.Errorf("%w: item %s: %v", ErrCorrupt, r.what, err)
	}
	r.err, r.buf = err, nil
	return err
}
