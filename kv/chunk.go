package kv

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	if err := c.applyAll(ctx, chunkNS, rec, batches); err != nil {
		return nil, fmt.Errorf("edgekit/kv: staging chunks of %q/%q: %w", id, m.Key, err)
	}
	return h, nil
}

// applyAll applies batches to one record with up to StageParallelism calls
// in flight (so a group-committing Store can share commits between them and
// a remote one overlaps round trips), and returns the first error. Order
// does not matter: nothing reads the chunks before the manifest commits.
func (c *Client) applyAll(ctx context.Context, ns, rec string, batches [][]Mutation) error {
	workers := min(c.opts.StageParallelism, len(batches))
	if workers <= 1 {
		for _, b := range batches {
			if err := c.store.Apply(ctx, ns, rec, b); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		next     atomic.Int64 // next batch to claim
		done     atomic.Int64 // batches applied
		errOnce  sync.Once
		firstErr error // written once under errOnce, read after wg.Wait
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(batches) {
					return
				}
				if err := c.store.Apply(ctx, ns, rec, batches[i]); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && int(done.Load()) < len(batches) {
		// Workers stopped early without an error of their own: the
		// caller's context ended.
		return ctx.Err()
	}
	return firstErr
}

// errStaleManifest: the chunks a manifest names are gone or do not match;
// the caller re-reads the manifest, which has most likely been replaced.
var errStaleManifest = errors.New("edgekit/kv: chunks do not match manifest")

// readChunks assembles the value a manifest describes and verifies every
// chunk's index and size and the whole value's checksum.
func (c *Client) readChunks(ctx context.Context, ns string, m *manifest) ([]byte, error) {
	// The manifest's size is trusted only as a capacity hint, and only up
	// to a bound, so a corrupt manifest cannot force a huge allocation.
	val := make([]byte, 0, min(m.size, 256<<20))
	q := Query{Start: chunkKey(0), End: chunkKey(m.chunks), MaxBytes: stageBytes}
	next := uint32(0)
	for {
		res, err := c.store.Read(ctx, ChunkNamespace(ns), m.id.recordID(), q)
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			want := uint64(m.chunkSize)
			if next == m.chunks-1 {
				want = m.size - uint64(next)*uint64(m.chunkSize)
			}
			if !bytes.Equal(it.Key, chunkKey(next)) || uint64(len(it.Value)) != want {
				return nil, fmt.Errorf("%w: chunk %d of write %s: key %x, %d bytes (want %d)", errStaleManifest, next, m.id.recordID(), it.Key, len(it.Value), want)
			}
			val = append(val, it.Value...)
			next++
		}
		if res.Cursor == nil {
			break
		}
		q.Cursor = res.Cursor
	}
	if next != m.chunks {
		return nil, fmt.Errorf("%w: write %s has %d of %d chunks", errStaleManifest, m.id.recordID(), next, m.chunks)
	}
	if xxhash.Sum64(val) != m.checksum {
		return nil, fmt.Errorf("%w: write %s fails its checksum", errStaleManifest, m.id.recordID())
	}
	return val, nil
}

// SweepStats counts what one Sweep did (a plain value).
type SweepStats struct {
	Writes  int // chunk writes examined
	Young   int // kept: inside the token window, may still commit
	Live    int // kept: their item still references them
	Deleted int // reclaimed with one record tombstone each
}

// Sweep reclaims orphaned chunks of ns: writes whose item no longer names
// them (overwritten, deleted, expired) or never did (the writer died before
// its commit). Only writes older than MaxTokenAge+MaxTokenSkew+SweepMargin
// are considered: younger ones may still commit, and none older can, since
// a commit checks its token's age first. Each orphan goes with one record
// tombstone. Run it periodically (e.g. hourly) from one process; running
// it from several at once is safe but wasteful.
//
// A reader that fetched a manifest just before its chunks are swept
// re-reads the item and serves its new value, or ErrCorrupt if the old
// manifest is still current (which Sweep never causes).
func (c *Client) Sweep(ctx context.Context, ns string) (SweepStats, error) {
	var st SweepStats
	if err := checkNamespace(ns); err != nil {
		return st, err
	}
	horizon := c.now().Add(-(c.opts.MaxTokenAge + c.opts.MaxTokenSkew + SweepMargin)).UnixMicro()
	chunkNS := ChunkNamespace(ns)
	var cursor []byte
	for {
		recs, next, err := c.store.IDs(ctx, chunkNS, cursor, 256)
		if err != nil {
			return st, err
		}
		for _, rec := range recs {
			st.Writes++
			wid, ok := parseWriteID(rec)
			if ok && wid.micros() > horizon {
				st.Young++
				continue
			}
			live := false
			if ok {
				if live, err = c.referenced(ctx, ns, chunkNS, rec, wid); err != nil {
					return st, err
				}
			}
			if live {
				st.Live++
				continue
			}
			del := []Mutation{{Op: OpDeleteRecord, Timestamp: c.now().UnixMicro()}}
			if err := c.store.Apply(ctx, chunkNS, rec, del); err != nil {
				return st, err
			}
			st.Deleted++
			c.log.Debug("kv: swept orphaned chunks", "ns", ns, "write", rec)
		}
		if next == nil {
			return st, nil
		}
		cursor = next
	}
}

// referenced reports whether the item that staged write wid still names it.
func (c *Client) referenced(ctx context.Context, ns, chunkNS, rec string, wid writeID) (bool, error) {
	res, err := c.store.Read(ctx, chunkNS, rec, Query{Keys: [][]byte{{}}})
	if err != nil || len(res.Items) == 0 {
		return false, err
	}
	id, key, ok := decodeOwner(res.Items[0].Value)
	if !ok || CheckID(id) != nil || CheckKey(key) != nil {
		return false, nil
	}
	res, err = c.store.Read(ctx, ns, id, Query{Keys: [][]byte{key}})
	if err != nil || len(res.Items) == 0 {
		return false, err
	}
	h, err := decodeHeader(res.Items[0].Metadata)
	return err == nil && h.chunked && h.m.id == wid, nil
}
