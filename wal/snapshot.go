package wal

import (
	"fmt"
	"io"
	"sync/atomic"
)

// Snapshot is a read transaction: it sees the database exactly as of the
// last commit visible when it began, however many commits and checkpoints
// happen meanwhile. Taking one never waits for the writer or a checkpoint,
// and an open Snapshot never blocks the writer; it does hold back
// checkpoints, which never copy frames newer than the oldest live snapshot,
// and keeps the WAL from being restarted. Close it promptly.
//
// A Snapshot is safe for concurrent use: several goroutines may read pages
// from it at once. Reads after Close return ErrClosed: once closed, the
// snapshot no longer holds checkpoints back, so the frames it would read
// may have been overwritten.
type Snapshot struct {
	s *Store
	// idx and mark select the WAL frames this snapshot reads; dbOnly
	// snapshots began when every frame was already in the db file and read
	// only the db file (SQLite's read-mark 0).
	idx    *index
	mark   uint32
	dbOnly bool
	nPage  uint32
	// ckptMark is the checkpoint limit this snapshot imposes, in frames of
	// the current generation; guarded by s.mu (a restart resets it to 0).
	ckptMark uint32
	closed   atomic.Bool // set under s.mu; read without it by the read methods
}

// Snapshot begins a read transaction at the latest visible commit.
func (s *Store) Snapshot() (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r := &Snapshot{s: s, idx: s.gen, mark: s.published, nPage: s.pubPages, ckptMark: s.published}
	r.dbOnly = s.published == s.nBackfill
	s.readers[r] = struct{}{}
	return r, nil
}

// PageCount returns the database size in pages as of the snapshot.
func (r *Snapshot) PageCount() uint32 { return r.nPage }

// PageSize returns the store's page size.
func (r *Snapshot) PageSize() int { return r.s.pageSize }

// ReadPage copies page pgno (1-based) as of the snapshot into dst, which
// must be PageSize bytes long. Pages within the database size that were
// never written read as zeros.
func (r *Snapshot) ReadPage(pgno uint32, dst []byte) error {
	if len(dst) != r.s.pageSize {
		return fmt.Errorf("%w: buffer of %d bytes for %d-byte pages", ErrPageSize, len(dst), r.s.pageSize)
	}
	if pgno == 0 || pgno > r.nPage {
		return fmt.Errorf("%w: page %d of %d", ErrPageNumber, pgno, r.nPage)
	}
	if r.closed.Load() {
		return errSnapshotClosed
	}
	mark := r.mark
	if r.dbOnly {
		mark = 0
	}
	return r.s.readPage(r.idx, mark, pgno, dst)
}

// Close ends the read transaction, releasing what it held back. Closing
// twice is harmless.
func (r *Snapshot) Close() error {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !r.closed.Load() {
		r.closed.Store(true)
		delete(s.readers, r)
		s.broadcastLocked()
	}
	return nil
}

// errSnapshotClosed is ErrClosed for a read of a closed Snapshot.
var errSnapshotClosed = fmt.Errorf("%w: snapshot closed", ErrClosed)

// readPage reads pgno as of frame mark of the WAL generation idx: from the
// newest frame at or below mark, else from the db file.
func (s *Store) readPage(idx *index, mark, pgno uint32, dst []byte) error {
	if s.closedF.Load() {
		return ErrClosed
	}
	if f := idx.lookup(pgno, mark); f != 0 {
		if _, err := s.wal.ReadAt(dst, frameOffset(f, s.pageSize)+frameHeaderSize); err != nil {
			return fmt.Errorf("edgekit/wal: reading frame %d: %w", f, err)
		}
		return nil
	}
	n, err := s.db.ReadAt(dst, int64(pgno-1)*int64(s.pageSize))
	if err == io.EOF {
		clear(dst[n:]) // inside the db size but past the file's end: zeros
		err = nil
	}
	if err != nil {
		return fmt.Errorf("edgekit/wal: reading page %d: %w", pgno, err)
	}
	return nil
}

// minMarkLocked returns the lowest checkpoint limit of the live snapshots,
// or limit if none is lower. s.mu held.
func (s *Store) minMarkLocked(limit uint32) uint32 {
	for r := range s.readers {
		limit = min(limit, r.ckptMark)
	}
	return limit
}

// walReadersLocked counts live snapshots that read WAL frames. s.mu held.
func (s *Store) walReadersLocked() int {
	n := 0
	for r := range s.readers {
		if !r.dbOnly {
			n++
		}
	}
	return n
}
