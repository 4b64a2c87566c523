package local_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// clientOn opens a Store at "db" on fsys with a Client over it and the
// namespace "ns" created.
func clientOn(t *testing.T, fsys vfs.FS) (*local.Store, *kv.Client) {
	t.Helper()
	s, err := local.Open("db", &local.Options{FS: fsys, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kv.NewClient(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreateNamespace(context.Background(), "ns"); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// TestClientLargeValueCorruptPage: a byte flipped on disk inside a chunk
// of a 5 MiB value (the Client reads it through ReadInto, straight from the
// page file into the value) fails the value's checksum: the read is
// kv.ErrCorrupt, never the damaged bytes. The undamaged value next to it
// still reads back whole.
func TestClientLargeValueCorruptPage(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewMem()
	s, c := clientOn(t, mem)
	bad, good := crashValue("bad", 5<<20+17), crashValue("good", 3<<20+5)
	if err := c.Put(ctx, "ns", "r", []byte("bad"), bad); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, "ns", "r", []byte("good"), good); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpoints everything into the page file
		t.Fatal(err)
	}
	// Flip one byte of the bad value's chunk 3 in the page file: find a
	// page holding the 64 bytes at offset 3 MiB + 1000 of the value.
	file, err := mem.ReadFile("db")
	if err != nil {
		t.Fatal(err)
	}
	probe := bad[3<<20+1000 : 3<<20+1064]
	at := bytes.Index(file, probe)
	if at < 0 || bytes.Contains(file[at+1:], probe) {
		t.Fatalf("chunk bytes found at %d in the page file; want them exactly once", at)
	}
	file[at+10] ^= 0x40
	mem.WriteFile("db", file)

	s, c = clientOn(t, mem)
	defer s.Close()
	if _, ok := kv.Store(s).(kv.IntoReader); !ok {
		t.Fatal("local.Store does not implement kv.IntoReader; the test would not take the path it names")
	}
	got, err := c.GetValue(ctx, "ns", "r", []byte("bad"))
	if !errors.Is(err, kv.ErrCorrupt) {
		t.Fatalf("damaged value: got %d bytes, err %v; want kv.ErrCorrupt", len(got), err)
	}
	if got, err := c.GetValue(ctx, "ns", "r", []byte("good")); err != nil || !bytes.Equal(got, good) {
		t.Fatalf("undamaged value: got %d bytes (%v), want the %d written", len(got), err, len(good))
	}
}

// TestClientLargeValueReadFault: a disk read failing while the Client
// reads a chunked value through ReadInto is an error, not a panic or
// wrong bytes; once the disk recovers the value reads back whole.
func TestClientLargeValueReadFault(t *testing.T) {
	ctx := context.Background()
	ffs := vfstest.NewFaultFS(vfs.NewMem())
	s, c := clientOn(t, ffs)
	defer s.Close()
	v := crashValue("v", 6<<20+3)
	if err := c.Put(ctx, "ns", "r", []byte("v"), v); err != nil {
		t.Fatal(err)
	}
	if err := s.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	for _, after := range []int{0, 3, 20} {
		fired := ffs.Fired()
		ffs.Inject(vfstest.Rule{Op: vfstest.OpRead, Suffix: "db", After: after, Persistent: true})
		got, err := c.GetValue(ctx, "ns", "r", []byte("v"))
		if err == nil {
			t.Fatalf("reads failing after %d: got %d bytes and no error", after, len(got))
		}
		if ffs.Fired() == fired {
			t.Fatalf("reads failing after %d: the rule never fired", after)
		}
		ffs.Clear()
		if got, err := c.GetValue(ctx, "ns", "r", []byte("v")); err != nil || !bytes.Equal(got, v) {
			t.Fatalf("after the fault: got %d bytes (%v), want the %d written", len(got), err, len(v))
		}
	}
}
