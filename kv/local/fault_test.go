package local_test

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// faultRun writes numbered items until the injected fault surfaces, then
// checks what the Store says and does afterwards.
type faultRun struct {
	t     *testing.T
	s     *local.Store
	acked map[string]int // key → value size of acknowledged writes
	ts    int64
}

func (f *faultRun) write(key string, n int) error {
	f.ts++
	err := f.s.Apply(context.Background(), "ns", "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte(key), Value: crashValue(key, n), Timestamp: f.ts}})
	if err == nil {
		f.acked[key] = n
	}
	return err
}

// check reads every acknowledged key back intact and verifies the tree.
func (f *faultRun) check(s *local.Store, what string) {
	f.t.Helper()
	if _, err := s.Verify(context.Background()); err != nil {
		f.t.Fatalf("%s: Verify: %v", what, err)
	}
	for key, n := range f.acked {
		res, err := s.Read(context.Background(), "ns", "r", kv.Query{Keys: [][]byte{[]byte(key)}})
		if err != nil {
			f.t.Fatalf("%s: read %s: %v", what, key, err)
		}
		if len(res.Items) != 1 || len(res.Items[0].Value) != n || !intact(key, res.Items[0].Value) {
			f.t.Fatalf("%s: %s: got %d items, want one intact %d-byte value", what, key, len(res.Items), n)
		}
	}
}

func TestFaults(t *testing.T) {
	for _, c := range []struct {
		name  string
		rule  vfstest.Rule
		fatal bool // the store refuses writes until reopened
	}{
		{"wal fsync fails", vfstest.Rule{Op: vfstest.OpSync, Suffix: "-wal", After: 30}, true},
		{"wal write fails (disk full)", vfstest.Rule{Op: vfstest.OpWrite, Suffix: "-wal", After: 30, Err: syscall.ENOSPC}, false},
		{"wal short write", vfstest.Rule{Op: vfstest.OpWrite, Suffix: "-wal", After: 25, Short: true}, false},
		{"db write fails in checkpoint", vfstest.Rule{Op: vfstest.OpWrite, Suffix: "db", After: 3, Persistent: true}, false},
		{"db fsync fails in checkpoint", vfstest.Rule{Op: vfstest.OpSync, Suffix: "db", After: 1}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			base := vfs.NewMem()
			ffs := vfstest.NewFaultFS(base)
			s, err := local.Open("db", &local.Options{FS: ffs, AutoCheckpoint: 20, SweepInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CreateNamespace(ctx, "ns"); err != nil {
				t.Fatal(err)
			}
			f := &faultRun{t: t, s: s, acked: map[string]int{}}
			ffs.Inject(c.rule)
			var failed error
			for i := 0; i < 150; i++ {
				n := 10 + i%7*100
				if i%9 == 0 {
					n = 9000 // overflow pages
				}
				if err := f.write(fmt.Sprintf("k%03d", i%60), n); err != nil {
					failed = err
					break
				}
				if c.rule.Suffix == "db" && i%10 == 9 {
					// Background checkpoints may lag on a loaded machine,
					// and one may write many pages in one call: checkpoint
					// often, so the db sees enough writes for the rule.
					if err := s.Checkpoint(ctx); err != nil {
						t.Logf("checkpoint after write %d: %v", i, err)
					}
				}
			}
			if c.rule.Suffix == "-wal" && failed == nil {
				t.Fatalf("fault %+v never surfaced from Apply (fired %d)", c.rule, ffs.Fired())
			}
			if ffs.Fired() == 0 {
				t.Fatalf("rule %+v never fired", c.rule)
			}
			t.Logf("Apply error: %v", failed)
			if c.fatal && !errors.Is(failed, wal.ErrFailed) {
				t.Fatalf("got %v, want an error wrapping wal.ErrFailed", failed)
			}
			// Reads keep working on what was acknowledged.
			f.check(s, "after the fault")
			ffs.Clear()
			err = f.write("after", 50)
			switch {
			case c.fatal && err == nil:
				t.Fatal("write after a failed fsync succeeded; want the store to refuse until reopened")
			case !c.fatal && err != nil:
				t.Fatalf("write after a transient fault: %v", err)
			}
			s.Close()
			// Reopen on the underlying files: consistent, nothing acked lost.
			s2, err := local.Open("db", &local.Options{FS: base})
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			defer s2.Close()
			f.check(s2, "after reopen")
			f.s = s2
			if err := f.write("post-reopen", 70); err != nil {
				t.Fatalf("write after reopen: %v", err)
			}
		})
	}
}

// TestReadFault: a failing read surfaces as an error, not a panic or a
// wrong answer, and the store recovers when the disk does.
func TestReadFault(t *testing.T) {
	ctx := context.Background()
	ffs := vfstest.NewFaultFS(vfs.NewMem())
	s, err := local.Open("db", &local.Options{FS: ffs, CacheSize: 1, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CreateNamespace(ctx, "ns")
	f := &faultRun{t: t, s: s, acked: map[string]int{}}
	for i := range 300 {
		if err := f.write(fmt.Sprintf("k%03d", i), 200); err != nil {
			t.Fatal(err)
		}
	}
	s.Checkpoint(ctx)
	ffs.Inject(vfstest.Rule{Op: vfstest.OpRead, Persistent: true})
	if _, err := s.Read(ctx, "ns", "r", kv.Query{}); err == nil {
		t.Fatal("Read with every disk read failing: got nil error")
	}
	ffs.Clear()
	f.check(s, "after the read fault")
}
