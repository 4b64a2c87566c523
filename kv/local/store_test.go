package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
	"go.uber.org/goleak"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func openMem(t *testing.T, fs vfs.FS, o *local.Options) *local.Store {
	t.Helper()
	if o == nil {
		o = &local.Options{}
	}
	o.FS = fs
	s, err := local.Open("db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(key, val string, ts int64) kv.Mutation {
	return kv.Mutation{Op: kv.OpPut, Key: []byte(key), Value: []byte(val), Timestamp: ts}
}

func keysOf(items []kv.Item) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", it.Key, it.Value)
	}
	return b.String()
}

func mustVerify(t *testing.T, s *local.Store) local.VerifyStats {
	t.Helper()
	st, err := s.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return st
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, vfs.NewMem(), nil)
	if err := s.CreateNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	long := bytes.Repeat([]byte("k"), kv.MaxKeyLen+1)
	for _, c := range []struct {
		name string
		err  error
		call func() error
	}{
		{"empty id", kv.ErrInvalid, func() error { return s.Apply(ctx, "ns", "", []kv.Mutation{put("k", "v", 1)}) }},
		{"id too long", kv.ErrInvalid, func() error {
			return s.Apply(ctx, "ns", strings.Repeat("i", kv.MaxIDLen+1), []kv.Mutation{put("k", "v", 1)})
		}},
		{"id not utf-8", kv.ErrInvalid, func() error { return s.Apply(ctx, "ns", "\xff", []kv.Mutation{put("k", "v", 1)}) }},
		{"key too long", kv.ErrInvalid, func() error {
			return s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpPut, Key: long, Value: []byte{}, Timestamp: 1}})
		}},
		{"nil value", kv.ErrInvalid, func() error {
			return s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("k"), Timestamp: 1}})
		}},
		{"zero timestamp", kv.ErrInvalid, func() error { return s.Apply(ctx, "ns", "r", []kv.Mutation{put("k", "v", 0)}) }},
		{"value on delete", kv.ErrInvalid, func() error {
			return s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: kv.OpDelete, Key: []byte("k"), Value: []byte("x"), Timestamp: 1}})
		}},
		{"unknown op", kv.ErrInvalid, func() error { return s.Apply(ctx, "ns", "r", []kv.Mutation{{Op: 99, Timestamp: 1}}) }},
		{"bad namespace name", kv.ErrInvalid, func() error { return s.CreateNamespace(ctx, "Bad-Name") }},
		{"unknown namespace apply", kv.ErrNoNamespace, func() error { return s.Apply(ctx, "nope", "r", []kv.Mutation{put("k", "v", 1)}) }},
		{"unknown namespace read", kv.ErrNoNamespace, func() error { _, err := s.Read(ctx, "nope", "r", kv.Query{}); return err }},
		{"unknown namespace ids", kv.ErrNoNamespace, func() error { _, _, err := s.IDs(ctx, "nope", nil, 0); return err }},
		{"inverted range", kv.ErrInvalid, func() error {
			_, err := s.Read(ctx, "ns", "r", kv.Query{Start: []byte("b"), End: []byte("a")})
			return err
		}},
		{"forged cursor", kv.ErrBadCursor, func() error {
			_, err := s.Read(ctx, "ns", "r", kv.Query{Cursor: []byte("\x01\x01forgedforged")})
			return err
		}},
		{"short cursor", kv.ErrBadCursor, func() error { _, err := s.Read(ctx, "ns", "r", kv.Query{Cursor: []byte{1}}); return err }},
		{"forged ids cursor", kv.ErrBadCursor, func() error { _, _, err := s.IDs(ctx, "ns", []byte("xxxxxxxxxxxx"), 0); return err }},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
}

func TestNilAndEmpty(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, vfs.NewMem(), nil)
	s.CreateNamespace(ctx, "ns")
	err := s.Apply(ctx, "ns", "r", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte{}, Value: []byte{}, Timestamp: 1},
		{Op: kv.OpPut, Key: []byte("m"), Value: []byte("v"), Metadata: []byte("meta"), Timestamp: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Read(ctx, "ns", "r", kv.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 2 || res.Items[0].Key == nil || res.Items[0].Value == nil || len(res.Items[0].Value) != 0 {
		t.Fatalf("got %+v, want the empty key with a non-nil empty value first", res.Items)
	}
	if string(res.Items[1].Metadata) != "meta" || res.Items[1].Timestamp != 1 {
		t.Fatalf("got %+v, want metadata %q at timestamp 1", res.Items[1], "meta")
	}
}

// TestCursorBinding: a cursor works only for the query that made it, and
// survives a reopen (the MAC key lives in the file).
func TestCursorBinding(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	s, err := local.Open("db", &local.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	s.CreateNamespace(ctx, "ns")
	var muts []kv.Mutation
	for i := range 10 {
		muts = append(muts, put(fmt.Sprintf("k%d", i), "v", 1))
	}
	s.Apply(ctx, "ns", "r", muts)
	res, err := s.Read(ctx, "ns", "r", kv.Query{Limit: 3})
	if err != nil || res.Cursor == nil {
		t.Fatalf("got %v, %v; want a cursor", res, err)
	}
	if _, err := s.Read(ctx, "ns", "other", kv.Query{Limit: 3, Cursor: res.Cursor}); !errors.Is(err, kv.ErrBadCursor) {
		t.Fatalf("cursor on another record: got %v, want ErrBadCursor", err)
	}
	if _, err := s.Read(ctx, "ns", "r", kv.Query{Reverse: true, Cursor: res.Cursor}); !errors.Is(err, kv.ErrBadCursor) {
		t.Fatalf("cursor on a reversed query: got %v, want ErrBadCursor", err)
	}
	s.Close()
	s = openMem(t, fs, nil)
	res, err = s.Read(ctx, "ns", "r", kv.Query{Limit: 100, Cursor: res.Cursor})
	if err != nil || keysOf(res.Items) != "k3=v k4=v k5=v k6=v k7=v k8=v k9=v" || res.Cursor != nil {
		t.Fatalf("after reopen: got %q cursor %x err %v", keysOf(res.Items), res.Cursor, err)
	}
}

// TestTTLAndSweep drives TTL with an injected clock, then checks that the
// sweeper reclaims what record and range deletes hid.
func TestTTLAndSweep(t *testing.T) {
	ctx := context.Background()
	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s := openMem(t, vfs.NewMem(), &local.Options{Now: clk.now, SweepInterval: time.Millisecond})
	s.CreateNamespace(ctx, "ns")
	s.Apply(ctx, "ns", "r", []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("a"), Value: []byte("1"), TTL: time.Minute, Timestamp: 10},
		put("b", "2", 10),
	})
	read := func() string {
		res, err := s.Read(ctx, "ns", "r", kv.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return keysOf(res.Items)
	}
	if got := read(); got != "a=1 b=2" {
		t.Fatalf("before expiry: got %q", got)
	}
	clk.advance(time.Minute)
	if got := read(); got != "b=2" {
		t.Fatalf("after expiry: got %q, want b=2", got)
	}
	// An older write arriving late stays hidden by the expired cell.
	s.Apply(ctx, "ns", "r", []kv.Mutation{put("a", "old", 5)})
	if got := read(); got != "b=2" {
		t.Fatalf("late older write: got %q, want b=2", got)
	}

	// 500 items, then one record tombstone hides them; the sweeper deletes
	// them from the tree while the tombstone stays.
	var muts []kv.Mutation
	for i := range 500 {
		muts = append(muts, put(fmt.Sprintf("item%04d", i), strings.Repeat("x", 100), 20))
	}
	s.Apply(ctx, "ns", "big", muts)
	before := mustVerify(t, s)
	s.Apply(ctx, "ns", "big", []kv.Mutation{{Op: kv.OpDeleteRecord, Timestamp: 30}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := mustVerify(t, s)
		if st.Entries <= before.Entries-500+1 {
			t.Logf("entries %d -> %d, free pages %d -> %d", before.Entries, st.Entries, before.FreePages, st.FreePages)
			if st.FreePages <= before.FreePages {
				t.Errorf("free pages %d, want more than %d after sweeping", st.FreePages, before.FreePages)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("entries still %d (before delete %d) after 10s", st.Entries, before.Entries)
		}
		time.Sleep(10 * time.Millisecond)
	}
	res, _ := s.Read(ctx, "ns", "big", kv.Query{})
	if len(res.Items) != 0 {
		t.Fatalf("deleted record reads %d items", len(res.Items))
	}
	// The tombstone still hides a late write older than it.
	s.Apply(ctx, "ns", "big", []kv.Mutation{put("item0001", "late", 25)})
	if res, _ := s.Read(ctx, "ns", "big", kv.Query{}); len(res.Items) != 0 {
		t.Fatalf("late write under record tombstone visible: %q", keysOf(res.Items))
	}

	// An expired large value: the sweep turns it into a tombstone and its
	// overflow pages go back to the free list.
	s.Apply(ctx, "ns", "ttl", []kv.Mutation{{Op: kv.OpPut, Key: []byte("blob"), Value: bytes.Repeat([]byte("b"), 40000), TTL: time.Second, Timestamp: 40}})
	before = mustVerify(t, s)
	clk.advance(2 * time.Second)
	if err := s.SweepNow(ctx); err != nil {
		t.Fatal(err)
	}
	after := mustVerify(t, s)
	if after.OverflowPages >= before.OverflowPages || after.FreePages <= before.FreePages {
		t.Fatalf("after expiry and sweep: overflow pages %d -> %d, free %d -> %d; want the value's pages freed",
			before.OverflowPages, after.OverflowPages, before.FreePages, after.FreePages)
	}
	s.Apply(ctx, "ns", "ttl", []kv.Mutation{put("blob", "older", 39)})
	if res, _ := s.Read(ctx, "ns", "ttl", kv.Query{}); len(res.Items) != 0 {
		t.Fatalf("older write after an expired cell was swept: visible %q", keysOf(res.Items))
	}
}

// TestAtomicSnapshots: every Apply writes the same value to two keys of a
// record; concurrent readers must never see them differ (one Apply is one
// commit, one Read is one snapshot).
func TestAtomicSnapshots(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, vfs.NewMem(), &local.Options{CacheSize: 64 << 10})
	s.CreateNamespace(ctx, "ns")
	var wg sync.WaitGroup
	var stop atomic.Bool
	var ts atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 200; i++ {
				v := []byte(fmt.Sprintf("w%d-%d-%s", w, i, strings.Repeat("p", i*7)))
				n := ts.Add(1)
				if err := s.Apply(ctx, "ns", "pair", []kv.Mutation{
					{Op: kv.OpPut, Key: []byte("a"), Value: v, Timestamp: n},
					{Op: kv.OpPut, Key: []byte("b"), Value: v, Timestamp: n},
				}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				res, err := s.Read(ctx, "ns", "pair", kv.Query{})
				if err != nil {
					t.Error(err)
					return
				}
				if len(res.Items) == 2 && !bytes.Equal(res.Items[0].Value, res.Items[1].Value) {
					t.Errorf("torn read: %q vs %q", res.Items[0].Value, res.Items[1].Value)
					return
				}
			}
		})
	}
	go func() {
		for ts.Load() < 800 && !t.Failed() {
			time.Sleep(time.Millisecond)
		}
		stop.Store(true)
	}()
	wg.Wait()
	mustVerify(t, s)
}

func TestClosed(t *testing.T) {
	ctx := context.Background()
	s := openMem(t, vfs.NewMem(), nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.CreateNamespace(ctx, "ns"); !errors.Is(err, kv.ErrClosed) {
		t.Fatalf("after Close: got %v, want ErrClosed", err)
	}
}

func TestPageSizeOption(t *testing.T) {
	fs := vfs.NewMem()
	if _, err := local.Open("db", &local.Options{FS: fs, PageSize: 1000}); !errors.Is(err, local.ErrPageSize) {
		t.Fatalf("page size 1000: got %v, want ErrPageSize", err)
	}
	s := openMem(t, fs, &local.Options{PageSize: 16384})
	if st, _ := s.Stats(); st.PageSize != 16384 {
		t.Fatalf("page size %d, want 16384", st.PageSize)
	}
}

// TestGroupCommit: concurrent writers share commits (and fsyncs), and every
// Apply is still all-or-nothing and durable.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := local.Open(dir, &local.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.CreateNamespace(ctx, "ns")
	before, _ := s.Stats()
	const writers, each = 16, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%02d", w)
				if err := s.Apply(ctx, "ns", id, []kv.Mutation{put(fmt.Sprintf("k%03d", i), "v", int64(i+1)), put(fmt.Sprintf("x%03d", i), "v", int64(i+1))}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st, _ := s.Stats()
	applies, commits := st.Applies-before.Applies, st.Commits-before.Commits
	t.Logf("%d applies in %d commits (%.1f per commit), %d WAL fsyncs", applies, commits, float64(applies)/float64(commits), st.WALSyncs-before.WALSyncs)
	if applies != writers*each {
		t.Fatalf("applies %d, want %d", applies, writers*each)
	}
	if commits >= applies {
		t.Errorf("no group commit: %d commits for %d concurrent applies", commits, applies)
	}
	s.Close()
	s2, err := local.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for w := range writers {
		res, err := s2.Read(ctx, "ns", fmt.Sprintf("w%02d", w), kv.Query{})
		if err != nil || len(res.Items) != 2*each {
			t.Fatalf("writer %d after reopen: %d items (%v), want %d", w, len(res.Items), err, 2*each)
		}
	}
}

// TestNoGoroutineOutlivesStore: the sweeper and the WAL's background
// checkpointer stop with Close.
func TestNoGoroutineOutlivesStore(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	s, err := local.Open(t.TempDir(), &local.Options{AutoCheckpoint: 4, SweepInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s.CreateNamespace(ctx, "ns")
	for i := range 50 {
		s.Apply(ctx, "ns", "r", []kv.Mutation{put(fmt.Sprint(i), "v", int64(i+1)), {Op: kv.OpDeleteRange, Key: []byte("0"), End: []byte("1"), Timestamp: int64(i + 1)}})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
