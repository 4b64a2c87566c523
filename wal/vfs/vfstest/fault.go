// Package vfstest provides file systems for testing code that runs on
// wal/vfs: FaultFS injects I/O errors (failing fsync, short writes, ENOSPC)
// into another FS, and CrashFS simulates a power loss by keeping only what
// was synced plus a random fate for every unsynced write.
//
// Both are safe for concurrent use. They are test fakes: they keep every
// byte in memory and are not meant for production.
package vfstest

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/edgekit/edgekit/wal/vfs"
)

// Op is a kind of file operation that a Rule can fail (a plain value).
type Op uint8

const (
	OpWrite    Op = iota + 1 // File.WriteAt
	OpSync                   // File.Sync
	OpTruncate               // File.Truncate
	OpRead                   // File.ReadAt
	OpOpen                   // FS.OpenFile
)

func (o Op) String() string {
	switch o {
	case OpWrite:
		return "write"
	case OpSync:
		return "sync"
	case OpTruncate:
		return "truncate"
	case OpRead:
		return "read"
	case OpOpen:
		return "open"
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Rule says which operation fails and how. FaultFS.Inject copies it.
type Rule struct {
	Op Op
	// Suffix restricts the rule to files whose name ends with it ("-wal");
	// empty matches every file.
	Suffix string
	// After is how many matching operations succeed before the rule fires.
	After int
	// Err is the error returned; nil means syscall.EIO. Use syscall.ENOSPC
	// for a full disk.
	Err error
	// Short makes a failing write store the first half of its bytes first,
	// as a short write does.
	Short bool
	// Persistent keeps failing every later matching operation; otherwise
	// the rule fires once (a transient fault).
	Persistent bool
}

// FaultFS wraps an FS and fails operations according to its rules.
type FaultFS struct {
	base vfs.FS

	mu    sync.Mutex // guards rules, seen, fired
	rules []*ruleState
	fired int
}

type ruleState struct {
	Rule
	seen  int
	spent bool
}

// NewFaultFS returns a FaultFS over base with no rules.
func NewFaultFS(base vfs.FS) *FaultFS { return &FaultFS{base: base} }

// Inject adds a rule.
func (f *FaultFS) Inject(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &ruleState{Rule: r})
}

// Clear removes every rule.
func (f *FaultFS) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Fired returns how many operations the rules have failed so far.
func (f *FaultFS) Fired() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fired
}

// check returns the rule that fails this operation, if any.
func (f *FaultFS) check(op Op, name string) *Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if r.Op != op || r.spent || !strings.HasSuffix(name, r.Suffix) {
			continue
		}
		r.seen++
		if r.seen <= r.After {
			continue
		}
		if !r.Persistent {
			r.spent = true
		}
		f.fired++
		rule := r.Rule
		if rule.Err == nil {
			rule.Err = syscall.EIO
		}
		return &rule
	}
	return nil
}

// OpenFile opens name in the base FS; the returned File applies the rules.
func (f *FaultFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if r := f.check(OpOpen, name); r != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: r.Err}
	}
	file, err := f.base.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

// Remove, SyncDir and Lock pass through to the base FS unchanged.
func (f *FaultFS) Remove(name string) error            { return f.base.Remove(name) }
func (f *FaultFS) SyncDir(dir string) error            { return f.base.SyncDir(dir) }
func (f *FaultFS) Lock(name string) (io.Closer, error) { return f.base.Lock(name) }

type faultFile struct {
	vfs.File
	fs   *FaultFS
	name string
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if r := f.fs.check(OpWrite, f.name); r != nil {
		n := 0
		if r.Short && len(p) > 1 {
			n, _ = f.File.WriteAt(p[:len(p)/2], off)
		}
		return n, &os.PathError{Op: "write", Path: f.name, Err: r.Err}
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if r := f.fs.check(OpRead, f.name); r != nil {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: r.Err}
	}
	return f.File.ReadAt(p, off)
}

func (f *faultFile) Sync() error {
	if r := f.fs.check(OpSync, f.name); r != nil {
		return &os.PathError{Op: "fsync", Path: f.name, Err: r.Err}
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	if r := f.fs.check(OpTruncate, f.name); r != nil {
		return &os.PathError{Op: "truncate", Path: f.name, Err: r.Err}
	}
	return f.File.Truncate(size)
}
