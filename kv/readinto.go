package kv

import (
	"context"
	"fmt"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// Reading a chunked value through a Store's IntoReader. Each chunk is read
// by the Store straight into its place in the one buffer returned, so the
// value is written once (kv/local: by the read system calls) instead of
// once into a chunk buffer and again into the value. Chunks are read in
// jobs of about intoJobBytes, claimed in order by up to StageParallelism
// goroutines; each job is hashed as soon as it and every job before it
// have landed, by the reader that completes that prefix, so the checksum
// of the value runs alongside the reads instead of after them, and the
// value is verified the moment its last chunk lands.

// intoJobBytes is the chunk data one ReadInto call asks for: small enough
// that the hash can follow the reads closely, large enough that the
// Store's per-call work (a snapshot, a descent) stays negligible.
const intoJobBytes = 1 << 20

// readChunksInto is readChunks on a Store with IntoReader.
func (c *Client) readChunksInto(ctx context.Context, ns string, m *manifest, r IntoReader) ([]byte, error) {
	buf := make([]byte, m.size)
	per := uint32(max(1, intoJobBytes/int(m.chunkSize))) // chunks per job
	jobs := int((m.chunks + per - 1) / per)
	// span returns the bytes of buf that job j fills.
	span := func(j int) []byte {
		lo := uint32(j) * per
		off, end := chunkSpan(m, lo, min(m.chunks, lo+per))
		return buf[off:end:end]
	}
	read := func(ctx context.Context, j int) error {
		lo := uint32(j) * per
		return readInto(ctx, r, ns, m, lo, min(m.chunks, lo+per), span(j))
	}

	h := xxhash.New()
	workers := min(c.opts.StageParallelism, jobs)
	if workers <= 1 {
		for j := range jobs {
			if err := read(ctx, j); err != nil {
				return nil, err
			}
			h.Write(span(j))
		}
		return c.checkSum(m, buf, h.Sum64())
	}

	// Whichever reader lands the next job to hash hashes it, and every
	// job after it that has landed meanwhile, while the others read on:
	// the hash follows the reads in value order, on the data they just
	// wrote, with no goroutine of its own.
	var (
		mu      sync.Mutex // guards landed, hashing, next
		landed  = make([]bool, jobs)
		hashing bool // a reader is hashing; only it touches h and advances next
		next    int  // the first job not yet hashed
	)
	err := parallel(ctx, workers, jobs, func(ctx context.Context, j int) error {
		if err := read(ctx, j); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		landed[j] = true
		if hashing {
			return nil // the hashing reader will see it
		}
		hashing = true
		for next < jobs && landed[next] {
			k := next
			mu.Unlock()
			h.Write(span(k))
			mu.Lock()
			next++
		}
		hashing = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	// parallel has returned, so every reader has ended and the last job to
	// land was hashed by the reader that landed it (or the one hashing).
	return c.checkSum(m, buf, h.Sum64())
}

// readInto reads chunks [lo, hi) of m into buf, which holds exactly their
// bytes, and checks that each one is there and of its manifest size.
func readInto(ctx context.Context, r IntoReader, ns string, m *manifest, lo, hi uint32, buf []byte) error {
	keys := make([][]byte, 0, hi-lo)
	dsts := make([][]byte, 0, hi-lo)
	for i := lo; i < hi; i++ {
		n := min(uint64(len(buf)), uint64(m.chunkSize))
		keys = append(keys, chunkKey(i))
		dsts = append(dsts, buf[:n:n])
		buf = buf[n:]
	}
	rec := m.id.recordID()
	lens, err := r.ReadInto(ctx, ChunkNamespace(ns), rec, keys, dsts)
	if err != nil {
		return err
	}
	if len(lens) != len(keys) {
		return fmt.Errorf("edgekit/kv: ReadInto returned %d lengths for %d keys", len(lens), len(keys))
	}
	for k, n := range lens {
		if n != len(dsts[k]) {
			// -1: missing (never staged, swept, or the write was
			// replaced); another length: not this manifest's chunk.
			return fmt.Errorf("%w: chunk %d of write %s: %d bytes (want %d)", errStaleManifest, lo+uint32(k), rec, n, len(dsts[k]))
		}
	}
	return nil
}

// chunkSpan returns the byte offsets in the value of chunks [lo, hi).
func chunkSpan(m *manifest, lo, hi uint32) (off, end uint64) {
	return uint64(lo) * uint64(m.chunkSize), min(m.size, uint64(hi)*uint64(m.chunkSize))
}

// checkSum returns val if sum is the manifest's checksum.
func (c *Client) checkSum(m *manifest, val []byte, sum uint64) ([]byte, error) {
	if sum != m.checksum {
		return nil, fmt.Errorf("%w: write %s fails its checksum", errStaleManifest, m.id.recordID())
	}
	return val, nil
}
