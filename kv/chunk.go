package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
)

// stage writes the chunks of put m (stamped, TTL jittered) to the chunk
// namespace under a write id derived from the token and the item, and
// returns the header that will make them visible. Everything staged is a
// function of (token, id, key, value), so a retry restages identical cells.
func (c *Client) stage(ctx context.Context, ns, id string, tok Token, m *Mutation) (*header, error) {
	size := len(m.Value)
	cs := c.opts.ChunkSize
	n := (size + cs - 1) / cs
	if uint64(n) > 1<<32-1 {
		return nil, fmt.Errorf("%w: value of %d bytes needs more than 2^32 chunks", ErrInvalid, size)
	}
	sum := xxhash.Sum64(m.Value)
	var sb [8]byte
	binary.BigEndian.PutUint64(sb[:], sum)
	d := digest(tok.Random[:], []byte(id), m.Key, sb[:], binary.BigEndian.AppendUint64(nil, uint64(size)))
	var wid writeID
	binary.BigEndian.PutUint64(wid[:8], uint64(m.Timestamp))
	copy(wid[8:], d[:16])
	h := &header{
		chunked: true,
		m:       manifest{size: uint64(size), chunkSize: uint32(cs), chunks: uint32(n), checksum: sum, id: wid},
		user:    m.Metadata,
	}

	// Chunks of an item with a TTL expire too, but strictly after the
	// manifest: they were written earlier, and the manifest must commit
	// within MaxTokenAge of the token (checked again before the commit).
	var ttl time.Duration
	if m.TTL > 0 {
		ttl = m.TTL + c.opts.MaxTokenAge + c.opts.MaxTokenSkew
	}
	chunkNS, rec := ChunkNamespace(ns), wid.recordID()
	perCall := max(1, c.opts.StageBytes/cs)
	var batches [][]Mutation
	batch := []Mutation{{Op: OpPut, Key: []byte{}, Value: encodeOwner(id, m.Key), TTL: ttl, Timestamp: m.Timestamp}}
	for i := 0; i < n; i++ {
		chunk := m.Value[i*cs : min(size, (i+1)*cs)]
		batch = append(batch, Mutation{Op: OpPut, Key: chunkKey(uint32(i)), Value: chunk, TTL: ttl, Timestamp: m.Timestamp})
		if len(batch) >= perCall || i == n-1 {
			batches = append(batches, batch)
			batch = nil
		}
	}
	err := parallel(ctx, c.opts.StageParallelism, len(batches), func(ctx context.Context, i int) error {
		return c.store.Apply(ctx, chunkNS, rec, batches[i])
	})
	if err != nil {
		return nil, fmt.Errorf("edgekit/kv: staging chunks of %q/%q: %w", id, m.Key, err)
	}
	return h, nil
}

// errStaleManifest: the chunks a manifest names are gone or do not match;
// the caller re-reads the manifest, which has most likely been replaced.
var errStaleManifest = errors.New("edgekit/kv: chunks do not match manifest")

// readChunks assembles the value a manifest describes and verifies every
// chunk's index and size and the whole value's checksum. A value of many
// chunks is read in up to StageParallelism contiguous parts at once, each
// part into its place in one buffer, so a remote Store's round trips and a
// local one's page reads overlap.
//
// On a Store with IntoReader, the chunks of a value up to maxParallelRead
// land in the value without an intermediate copy instead (readChunksInto).
func (c *Client) readChunks(ctx context.Context, ns string, m *manifest) ([]byte, error) {
	if c.into != nil && m.size <= maxParallelRead {
		return c.readChunksInto(ctx, ns, m, c.into)
	}
	perRead := uint32(max(1, stageBytes/int(m.chunkSize)))
	parts := min(uint32(c.opts.StageParallelism), (m.chunks+perRead-1)/perRead)
	if parts <= 1 || m.size > maxParallelRead {
		// Sequential: the manifest's size is only a capacity hint, bounded
		// so a corrupt manifest cannot force a huge allocation.
		val := make([]byte, 0, min(m.size, 256<<20))
		err := c.readRange(ctx, ns, m, 0, m.chunks, func(_ uint32, b []byte) { val = append(val, b...) })
		return c.verify(m, val, err)
	}
	// readRange checks every chunk's size against the manifest before
	// the sink copies it, so the copies stay inside buf, and a part that
	// ends without error has filled all of its span, so buf is whole
	// before verify sees it and need not be zeroed first.
	buf := makeNoZero(int(m.size))
	span := (m.chunks + parts - 1) / parts
	err := parallel(ctx, int(parts), int(parts), func(ctx context.Context, p int) error {
		lo := uint32(p) * span
		hi := min(m.chunks, lo+span)
		return c.readRange(ctx, ns, m, lo, hi, func(i uint32, b []byte) {
			copy(buf[uint64(i)*uint64(m.chunkSize):], b)
		})
	})
	return c.verify(m, buf, err)
}

// maxParallelRead is the largest value readChunks allocates up front on the
// manifest's word; larger ones are read sequentially and grow as verified.
const maxParallelRead = 1 << 30

// readRange reads chunks [lo, hi) of m in order, checks each one's index
// and size, and hands it to sink.
func (c *Client) readRange(ctx context.Context, ns string, m *manifest, lo, hi uint32, sink func(uint32, []byte)) error {
	q := Query{Start: chunkKey(lo), End: chunkKey(hi), MaxBytes: stageBytes}
	next := lo
	for {
		res, err := c.store.Read(ctx, ChunkNamespace(ns), m.id.recordID(), q)
		if err != nil {
			return err
		}
		for _, it := range res.Items {
			want := uint64(m.chunkSize)
			if next == m.chunks-1 {
				want = m.size - uint64(next)*uint64(m.chunkSize)
			}
			if next >= hi || !bytes.Equal(it.Key, chunkKey(next)) || uint64(len(it.Value)) != want {
				return fmt.Errorf("%w: chunk %d of write %s: key %x, %d bytes (want %d)", errStaleManifest, next, m.id.recordID(), it.Key, len(it.Value), want)
			}
			sink(next, it.Value)
			next++
		}
		if res.Cursor == nil {
			break
		}
		q.Cursor = res.Cursor
	}
	if next != hi {
		return fmt.Errorf("%w: write %s has chunks %d..%d of %d..%d", errStaleManifest, m.id.recordID(), lo, next, lo, hi)
	}
	return nil
}

// verify passes on a read error, else checks val against the manifest's
// checksum.
func (c *Client) verify(m *manifest, val []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	return c.checkSum(m, val, xxhash.Sum64(val))
}
