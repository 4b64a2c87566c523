package vfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"testing"

	"github.com/edgekit/edgekit/wal/vfs"
)

func TestMemFile(t *testing.T) {
	m := vfs.NewMem()
	if _, err := m.OpenFile("/a", os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open missing: got %v want ErrNotExist", err)
	}
	f, err := m.OpenFile("/a", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("world"), 6)
	f.WriteAt([]byte("hello"), 0)
	buf := make([]byte, 11)
	if n, err := f.ReadAt(buf, 0); n != 11 || err != nil || !bytes.Equal(buf, []byte("hello\x00world")) {
		t.Errorf("ReadAt got %q, %d, %v", buf, n, err)
	}
	if n, err := f.ReadAt(buf, 5); n != 6 || err != io.EOF {
		t.Errorf("short ReadAt got %d, %v want 6, EOF", n, err)
	}
	f.Truncate(5)
	f.Truncate(8)
	if b, _ := m.ReadFile("/a"); !bytes.Equal(b, []byte("hello\x00\x00\x00")) {
		t.Errorf("after shrink+grow got %q: grown bytes must be zero", b)
	}
	if sz, _ := f.Size(); sz != 8 {
		t.Errorf("Size got %d want 8", sz)
	}
	g, _ := m.OpenFile("/a", os.O_RDWR, 0) // second handle shares the data
	if n, _ := g.ReadAt(buf[:5], 0); n != 5 || string(buf[:5]) != "hello" {
		t.Errorf("second handle read %q", buf[:5])
	}
	f.Close()
	if _, err := f.ReadAt(buf, 0); err == nil {
		t.Error("read after Close succeeded")
	}
	if _, err := m.OpenFile("/a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0); !errors.Is(err, fs.ErrExist) {
		t.Errorf("O_EXCL on existing: got %v", err)
	}
	if err := m.Remove("/a"); err != nil {
		t.Fatal(err)
	}
	if got := m.Names(); len(got) != 0 {
		t.Errorf("Names after Remove: %v", got)
	}
}

func TestMemLock(t *testing.T) {
	m := vfs.NewMem()
	l, err := m.Lock("/x")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Lock("/x"); !errors.Is(err, vfs.ErrLocked) {
		t.Errorf("second Lock: got %v want ErrLocked", err)
	}
	l.Close()
	l2, err := m.Lock("/x")
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	l2.Close()
}

func TestOSFileSyncAndLock(t *testing.T) {
	dir := t.TempDir()
	f, err := vfs.OS().OpenFile(dir+"/f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteAt([]byte("abc"), 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if sz, _ := f.Size(); sz != 3 {
		t.Errorf("Size got %d want 3", sz)
	}
	if err := vfs.OS().SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	l, err := vfs.OS().Lock(dir + "/f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vfs.OS().Lock(dir + "/f"); !errors.Is(err, vfs.ErrLocked) {
		t.Errorf("second Lock: got %v want ErrLocked", err)
	}
	l.Close()
}
