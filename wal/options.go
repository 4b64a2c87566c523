package wal

import (
	"log/slog"

	"github.com/edgekit/edgekit/wal/vfs"
)

// DefaultPageSize is the page size of a new store when Options.PageSize is 0
// and neither an existing WAL nor a SQLite database header names one.
const DefaultPageSize = 4096

// DefaultAutoCheckpoint is the WAL size, in frames, above which a passive
// checkpoint runs in the background when Options.AutoCheckpoint is 0. It is
// SQLite's default.
const DefaultAutoCheckpoint = 1000

// SyncMode is the durability policy of Commit (a plain value).
type SyncMode int

const (
	// SyncFull fsyncs the WAL before every Commit returns (SQLite's
	// synchronous=FULL). Committers are serialized behind each fsync.
	SyncFull SyncMode = iota
	// SyncGroup makes every Commit durable before it returns, but the writer
	// lock is released before the fsync, so commits that arrive while one
	// fsync runs share the next one (group commit): their frames are
	// queued in memory and written by one committer with a single write
	// before that fsync. Snapshots see a commit only once it is durable.
	// A failed write of queued frames, like a failed fsync, makes every
	// later write fail with ErrFailed.
	SyncGroup
	// SyncNormal does not fsync at commit (SQLite's synchronous=NORMAL):
	// commits survive a crash of the process but may be lost on power
	// failure. Checkpoints still fsync the WAL before copying it and the
	// database after.
	SyncNormal
)

// String returns the mode's name.
func (m SyncMode) String() string {
	switch m {
	case SyncFull:
		return "full"
	case SyncGroup:
		return "group"
	case SyncNormal:
		return "normal"
	}
	return "SyncMode(?)"
}

// Options configures Open. A nil *Options means all defaults. Open copies
// it, so it may be reused or changed afterwards.
type Options struct {
	// PageSize is the size of every page: a power of two from 512 to 65536.
	// 0 means: the page size of the existing WAL if it has a valid header,
	// else the one in a SQLite database header at the start of the db file,
	// else DefaultPageSize. A non-zero value that contradicts an existing
	// WAL makes Open fail with ErrPageSize.
	PageSize int
	// FS is the file system; nil means vfs.OS(). Tests pass
	// vfs.NewMem() or a vfstest fault/crash file system.
	FS vfs.FS
	// Sync is the durability policy of Commit; the zero value is SyncFull.
	Sync SyncMode
	// AutoCheckpoint is the number of WAL frames not yet checkpointed above
	// which a PASSIVE checkpoint runs on a background goroutine, off the
	// commit path. 0 means DefaultAutoCheckpoint; negative disables it.
	AutoCheckpoint int
	// KeepWALOnClose skips the checkpoint that Close otherwise runs, leaving
	// the WAL as it is (SQLite's SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE).
	KeepWALOnClose bool
	// Logger receives background events (auto-checkpoint failures, recovery
	// summaries). nil discards them.
	Logger *slog.Logger

	// forceBigEndian makes new WAL generations use big-endian checksums
	// (magic 0x377f0683), to test the non-native order against SQLite.
	forceBigEndian bool
}
