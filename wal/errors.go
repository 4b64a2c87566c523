package wal

import "errors"

// Sentinel errors. Test with errors.Is: returned errors often wrap one of
// these together with the underlying I/O error.
var (
	// ErrClosed is returned by every method after Store.Close, and by the
	// read methods of a Snapshot after its own Close.
	ErrClosed = errors.New("edgekit/wal: store closed")
	// ErrTxDone is returned when a transaction is used after Commit, Rollback
	// or Close.
	ErrTxDone = errors.New("edgekit/wal: transaction already finished")
	// ErrPageSize reports a page size that is not a power of two in
	// [512, 65536], a page buffer of the wrong length, or a page size that
	// differs from the one the existing WAL was written with.
	ErrPageSize = errors.New("edgekit/wal: invalid page size")
	// ErrPageNumber reports page number 0 or a page beyond the database size.
	ErrPageNumber = errors.New("edgekit/wal: page number out of range")
	// ErrBusy is returned by a checkpoint that could not do everything its
	// mode asks (another checkpoint is running, or live readers or the
	// context stopped it); the work it could do safely is done.
	ErrBusy = errors.New("edgekit/wal: busy")
	// ErrVersion reports a WAL whose header is intact but whose format
	// version is not 3007000; as SQLite does, the store refuses to open it.
	ErrVersion = errors.New("edgekit/wal: unsupported WAL format version")
	// ErrLocked is returned by Open when another Store (in this or another
	// process) has the database open. Only on Unix: elsewhere Open takes no
	// lock.
	ErrLocked = errors.New("edgekit/wal: database is locked")
	// ErrFailed is wrapped by every write after the WAL could not be made
	// durable (a failed fsync, or in SyncGroup a failed write of the queued
	// frames of a batch). As PostgreSQL learned, a failed fsync cannot
	// be retried: the kernel may have dropped the dirty pages and a later
	// fsync would report success for data that is gone. The store keeps
	// serving existing snapshots; Close it and Open it again to recover
	// from what actually reached the disk.
	ErrFailed = errors.New("edgekit/wal: WAL sync failed; reopen the store to recover")
)
