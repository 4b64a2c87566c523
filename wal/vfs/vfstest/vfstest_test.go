package vfstest_test

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/edgekit/edgekit/wal/vfs"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

func TestFaultFSRules(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rule       vfstest.Rule
		wantFails  []bool // outcome of five writes to "/d/x-wal"
		wantStored string
	}{
		{"transient after 2", vfstest.Rule{Op: vfstest.OpWrite, After: 2}, []bool{false, false, true, false, false}, "ab\x00de"},
		{"persistent after 3", vfstest.Rule{Op: vfstest.OpWrite, After: 3, Persistent: true}, []bool{false, false, false, true, true}, "abc"},
		{"other suffix", vfstest.Rule{Op: vfstest.OpWrite, Suffix: ".db"}, []bool{false, false, false, false, false}, "abcde"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			ffs := vfstest.NewFaultFS(mem)
			ffs.Inject(tc.rule)
			f, _ := ffs.OpenFile("/d/x-wal", os.O_RDWR|os.O_CREATE, 0o644)
			for i, want := range tc.wantFails {
				_, err := f.WriteAt([]byte{"abcde"[i]}, int64(i))
				if (err != nil) != want {
					t.Errorf("write %d: got err %v, want failure=%v", i, err, want)
				}
				if err != nil && !errors.Is(err, syscall.EIO) {
					t.Errorf("write %d: got %v want EIO", i, err)
				}
			}
			b, _ := mem.ReadFile("/d/x-wal")
			if got := string(bytes.TrimRight(b, "\x00")); got != tc.wantStored {
				t.Errorf("stored %q want %q", got, tc.wantStored)
			}
		})
	}
}

func TestFaultFSShortWrite(t *testing.T) {
	mem := vfs.NewMem()
	ffs := vfstest.NewFaultFS(mem)
	ffs.Inject(vfstest.Rule{Op: vfstest.OpWrite, Short: true, Err: syscall.ENOSPC})
	f, _ := ffs.OpenFile("/x", os.O_RDWR|os.O_CREATE, 0o644)
	n, err := f.WriteAt([]byte("abcdef"), 0)
	if n != 3 || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("got %d, %v want 3, ENOSPC", n, err)
	}
	if b, _ := mem.ReadFile("/x"); string(b) != "abc" {
		t.Errorf("stored %q want \"abc\"", b)
	}
}

func TestCrashFSKeepsSyncedData(t *testing.T) {
	c := vfstest.NewCrashFS()
	f, _ := c.OpenFile("/x", os.O_RDWR|os.O_CREATE, 0o644)
	synced := bytes.Repeat([]byte{'s'}, 2048)
	f.WriteAt(synced, 0)
	f.Sync()
	f.WriteAt(bytes.Repeat([]byte{'u'}, 4096), 1024) // unsynced
	sawDrop, sawKeep := false, false
	for seed := range uint64(64) {
		b, _ := c.Crash(seed, 512).ReadFile("/x")
		if len(b) < 1024 || !bytes.Equal(b[:1024], synced[:1024]) {
			t.Fatalf("seed %d: synced prefix lost", seed)
		}
		switch {
		case len(b) == 2048 && bytes.Equal(b, synced):
			sawDrop = true
		case len(b) == 5120 && bytes.Equal(b[1024:], bytes.Repeat([]byte{'u'}, 4096)):
			sawKeep = true
		}
	}
	if !sawDrop || !sawKeep {
		t.Errorf("over 64 seeds: saw drop=%v keep=%v; want both fates", sawDrop, sawKeep)
	}
	// The live file is untouched by Crash.
	if b, _ := c.ReadFile("/x"); len(b) != 5120 {
		t.Errorf("live file is %d bytes", len(b))
	}
}

func TestCrashFSFailNextSync(t *testing.T) {
	c := vfstest.NewCrashFS()
	f, _ := c.OpenFile("/d/a.db", os.O_RDWR|os.O_CREATE, 0o644)
	f.WriteAt([]byte("old"), 0)
	f.Sync()
	f.WriteAt([]byte("new"), 0)
	c.FailNextSync(".db")
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync: got %v want EIO", err)
	}
	if err := f.Sync(); err != nil {
		t.Fatalf("second Sync: %v", err)
	}
	if b, _ := c.ReadFile("/d/a.db"); string(b) != "old" {
		t.Errorf("after failed writeback the file holds %q, want \"old\"", b)
	}
}
