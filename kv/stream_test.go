package kv_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/edgekit/edgekit/kv"
)

// countStore counts the value bytes Reads of the chunk namespace return.
type countStore struct {
	kv.Store
	chunkBytes atomic.Int64
}

func (s *countStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	res, err := s.Store.Read(ctx, ns, id, q)
	if ns == kv.ChunkNamespace("test") {
		for _, it := range res.Items {
			s.chunkBytes.Add(int64(len(it.Value)))
		}
	}
	return res, err
}

func TestOpenValueRoundTrip(t *testing.T) {
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) { openValueRoundTrip(t, path.wrap) })
	}
}

func openValueRoundTrip(t *testing.T, wrap func(kv.Store, *clock) kv.Store) {
	for _, mode := range readModes {
		for _, size := range []int{0, 1, 999, 1000, 1001, mode.size, mode.size2} {
			f := newFixture(t, wrap, mode.opts)
			v := bytesOf(size, 9)
			if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
				t.Fatal(err)
			}
			r, err := f.c.OpenValue(f.ctx, ns, "r", []byte("k"))
			if err != nil {
				t.Fatalf("%s/%d: OpenValue: %v", mode.name, size, err)
			}
			if r.Size() != int64(size) || len(r.Metadata()) != 0 || r.Timestamp() == 0 {
				t.Errorf("%s/%d: size %d, metadata %q, timestamp %d", mode.name, size, r.Size(), r.Metadata(), r.Timestamp())
			}
			// iotest.TestReader reads in odd sizes and checks io.Reader's
			// rules (EOF stays EOF, no data after it).
			if err := iotest.TestReader(r, v); err != nil {
				t.Errorf("%s/%d: %v", mode.name, size, err)
			}
			r.Close()
			if _, err := r.Read(make([]byte, 1)); !errors.Is(err, kv.ErrClosed) {
				t.Errorf("%s/%d: Read after Close: %v, want ErrClosed", mode.name, size, err)
			}
		}
	}
}

func TestOpenValueNotFound(t *testing.T) {
	f := newFixture(t, nil, nil)
	if _, err := f.c.OpenValue(f.ctx, ns, "r", []byte("nope")); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if _, err := f.c.OpenValue(f.ctx, ns, "", []byte("k")); !errors.Is(err, kv.ErrInvalid) {
		t.Fatalf("empty id: got %v, want ErrInvalid", err)
	}
}

// TestOpenValueIsLazy: after one byte of a 32 MiB value only the first
// window (4 MiB) has been fetched, and reading on fetches the rest.
func TestOpenValueIsLazy(t *testing.T) {
	var cs *countStore
	v, r := openLarge(t, func(s kv.Store, _ *clock) kv.Store { cs = &countStore{Store: s}; return cs })
	first := make([]byte, 1)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}
	if got := cs.chunkBytes.Load(); got > 4<<20 {
		t.Fatalf("fetched %d bytes of chunks for the first byte, want at most one 4 MiB window", got)
	}
	readRest(t, r, first, v)
	if got := cs.chunkBytes.Load(); got != int64(len(v)) {
		t.Errorf("fetched %d bytes of chunks in all, want each chunk once (%d)", got, len(v))
	}
}

// openLarge puts a 32 MiB value in 1 MiB chunks through a Client on
// wrap(store) and opens it; the reader is closed when the test ends.
func openLarge(t *testing.T, wrap func(kv.Store, *clock) kv.Store) ([]byte, *kv.ValueReader) {
	t.Helper()
	f := newFixture(t, wrap, &kv.Options{ChunkThreshold: 1000, ChunkSize: 1 << 20})
	v := bytesOf(32<<20+3, 4)
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
		t.Fatal(err)
	}
	r, err := f.c.OpenValue(f.ctx, ns, "r", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return v, r
}

// readRest reads r to the end and checks that first, then the rest of r,
// is v.
func readRest(t *testing.T, r io.Reader, first, v []byte) {
	t.Helper()
	var out bytes.Buffer
	out.Write(first)
	if _, err := io.Copy(&out, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), v) {
		t.Fatalf("streamed value differs (%d bytes, want %d)", out.Len(), len(v))
	}
}

// TestOpenValueCorrupt: a damaged, short or missing chunk ends the stream
// with ErrCorrupt, never io.EOF.
func TestOpenValueCorrupt(t *testing.T) {
	for _, path := range readPaths {
		t.Run(path.name, func(t *testing.T) { openValueCorrupt(t, path.wrap) })
	}
}

func openValueCorrupt(t *testing.T, wrap func(kv.Store, *clock) kv.Store) {
	for _, mode := range readModes {
		for _, damage := range []string{"garbage", "short", "missing"} {
			f := newFixture(t, wrap, mode.opts)
			v := bytesOf(mode.size, 3)
			if err := f.c.Put(f.ctx, ns, "r", []byte("k"), v); err != nil {
				t.Fatal(err)
			}
			ids, _, err := f.mem.IDs(f.ctx, kv.ChunkNamespace(ns), nil, 0)
			if err != nil || len(ids) != 1 {
				t.Fatalf("chunk writes: %q, %v", ids, err)
			}
			m := kv.Mutation{Op: kv.OpPut, Key: []byte{0, 0, 0, 5}, Value: bytes.Repeat([]byte{0xee}, mode.chunk), Timestamp: 1 << 60}
			switch damage {
			case "short":
				m.Value = m.Value[1:]
			case "missing":
				m = kv.Mutation{Op: kv.OpDelete, Key: m.Key, Timestamp: m.Timestamp}
			}
			if err := f.mem.Apply(f.ctx, kv.ChunkNamespace(ns), ids[0], []kv.Mutation{m}); err != nil {
				t.Fatal(err)
			}
			r, err := f.c.OpenValue(f.ctx, ns, "r", []byte("k"))
			if err == nil {
				_, err = io.Copy(io.Discard, r)
				r.Close()
			}
			if !errors.Is(err, kv.ErrCorrupt) {
				t.Errorf("%s/%s: got %v, want ErrCorrupt", mode.name, damage, err)
			}
		}
	}
}

func TestOpenValueContext(t *testing.T) {
	f := newFixture(t, nil, &kv.Options{ChunkThreshold: 1000, ChunkSize: 1 << 20})
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), bytesOf(9<<20, 1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(f.ctx)
	r, err := f.c.OpenValue(ctx, ns, "r", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cancel()
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: got %v, want context.Canceled", err)
	}
}
