package kv

import (
	"context"
	"fmt"
	"runtime"

	"github.com/cespare/xxhash/v2"
)

// Reading a chunked value through a Store's IntoReader. Each chunk is read
// by the Store straight into its place in the one buffer returned, so the
// value is written once (kv/local: by the read system calls) instead of
// once into a chunk buffer and again into the value. Chunks are read in
// jobs of about intoJobBytes, claimed in order by reader goroutines, while
// the calling goroutine hashes each job as soon as it and every job before
// it have landed: the checksum of the value runs alongside the reads
// instead of after them, and the value is verified the moment its last
// chunk lands.
//
// The readers are fewer than GOMAXPROCS (none on one processor: the
// caller reads and hashes in turn): an IntoReader's reads copy into
// the caller's memory, bound by the CPU and memory bandwidth rather than
// by waiting, so readers beyond the processors left over by the hasher
// only fight it and each other. On two processors one reader and the
// hasher read a 16 MiB value from kv/local in about 0.65 of the time four
// readers took (docs/bench/kv.md).

// intoJobBytes is the chunk data one ReadInto call asks for: small enough
// that the hash can follow the reads closely, large enough that the
// Store's per-call work (a snapshot, a descent) stays negligible.
const intoJobBytes = 1 << 20

// readChunksInto is readChunks on a Store with IntoReader.
func (c *Client) readChunksInto(ctx context.Context, ns string, m *manifest, r IntoReader) ([]byte, error) {
	// Every byte of buf is written by a successful read before the value
	// is returned (readInto checks each chunk's length), so it need not be
	// zeroed first.
	buf := makeNoZero(int(m.size))
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
	// With one processor (or one job) there is nothing to overlap: read
	// and hash in turn, without a reader goroutine.
	readers := min(c.opts.StageParallelism, jobs, runtime.GOMAXPROCS(0)-1)
	if readers < 1 || jobs == 1 {
		for j := range jobs {
			if err := read(ctx, j); err != nil {
				return nil, err
			}
			h.Write(span(j))
		}
		return c.checkSum(m, buf, h.Sum64())
	}

	landed := make([]chan struct{}, jobs) // closed when job j is in buf
	for j := range landed {
		landed[j] = make(chan struct{})
	}
	done := make(chan error, 1) // the readers' result, once all have ended
	go func() {
		done <- parallel(ctx, readers, jobs, func(ctx context.Context, j int) error {
			if err := read(ctx, j); err != nil {
				return err
			}
			close(landed[j])
			return nil
		})
	}()
	for j := range jobs {
		select {
		case <-landed[j]:
		case err := <-done:
			if err != nil {
				return nil, err // every reader has ended
			}
			done <- nil // all jobs landed; job j among them
		}
		h.Write(span(j))
	}
	if err := <-done; err != nil {
		return nil, err
	}
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
