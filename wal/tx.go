package wal

import (
	"context"
	"fmt"
	"slices"
)

// Tx is the write transaction. There is at most one per Store at a time;
// Begin waits for it. A Tx is not safe for concurrent use: one goroutine
// drives it, and must end it with Commit or Rollback.
//
// The pages it writes are held in memory until Commit, so a transaction's
// size is bounded by memory.
type Tx struct {
	s     *Store
	dirty map[uint32][]byte // pages written, by page number
	nPage uint32            // database size as of this transaction
	low   uint32            // lowest size it had; pages above it not written must be zeroed
	done  bool
}

// Begin starts the write transaction, waiting (until ctx ends) while another
// one is open. The transaction sees every commit made before it, including
// group commits whose fsync is still in flight.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	if err := acquire(ctx, s.writer); err != nil {
		return nil, err
	}
	s.mu.Lock()
	err := s.failed
	if s.closed {
		err = ErrClosed
	}
	s.mu.Unlock()
	if err != nil {
		release(s.writer)
		return nil, err
	}
	dirty := s.w.dirty
	s.w.dirty = nil
	if dirty == nil {
		dirty = map[uint32][]byte{}
	}
	return &Tx{s: s, dirty: dirty, nPage: s.w.nPage, low: s.w.nPage}, nil
}

// PageCount returns the database size in pages as this transaction sees it.
func (tx *Tx) PageCount() uint32 { return tx.nPage }

// PageSize returns the store's page size.
func (tx *Tx) PageSize() int { return tx.s.pageSize }

// ReadPage copies page pgno (1-based) into dst, which must be PageSize bytes
// long. It sees the transaction's own writes. Pages inside the database size
// that were never written read as zeros.
func (tx *Tx) ReadPage(pgno uint32, dst []byte) error {
	if tx.done {
		return ErrTxDone
	}
	if len(dst) != tx.s.pageSize {
		return fmt.Errorf("%w: buffer of %d bytes for %d-byte pages", ErrPageSize, len(dst), tx.s.pageSize)
	}
	if pgno == 0 || pgno > tx.nPage {
		return fmt.Errorf("%w: page %d of %d", ErrPageNumber, pgno, tx.nPage)
	}
	if p, ok := tx.dirty[pgno]; ok {
		copy(dst, p)
		return nil
	}
	if pgno > tx.low {
		clear(dst) // added by this transaction and not written yet
		return nil
	}
	if tx.s.sync == SyncGroup {
		// The newest version may be in a commit still queued for the
		// group-commit leader to write.
		if err := tx.s.ensureOnFile(tx.s.gen.lookup(pgno, tx.s.w.mxFrame)); err != nil {
			return err
		}
	}
	return tx.s.readPage(tx.s.gen, tx.s.w.mxFrame, pgno, dst)
}

// WritePage sets page pgno to a copy of data, which must be PageSize bytes.
// Writing past the end grows the database to pgno pages; pages skipped over
// read as zeros.
func (tx *Tx) WritePage(pgno uint32, data []byte) error {
	if tx.done {
		return ErrTxDone
	}
	if len(data) != tx.s.pageSize {
		return fmt.Errorf("%w: %d bytes for %d-byte pages", ErrPageSize, len(data), tx.s.pageSize)
	}
	if pgno == 0 {
		return fmt.Errorf("%w: page 0", ErrPageNumber)
	}
	p, ok := tx.dirty[pgno]
	if !ok {
		p = tx.s.w.page(tx.s.pageSize)
		tx.dirty[pgno] = p
	}
	copy(p, data)
	tx.nPage = max(tx.nPage, pgno)
	return nil
}

// Truncate sets the database size to n pages (n ≥ 1), dropping any pages
// above it, as SQLite's VACUUM does. Checkpoints shrink the db file to match.
func (tx *Tx) Truncate(n uint32) error {
	if tx.done {
		return ErrTxDone
	}
	if n == 0 {
		return fmt.Errorf("%w: cannot truncate to 0 pages", ErrPageNumber)
	}
	for pg := range tx.dirty {
		if pg > n {
			delete(tx.dirty, pg)
		}
	}
	tx.nPage = n
	tx.low = min(tx.low, n)
	return nil
}

// Rollback discards the transaction. It returns ErrTxDone if the
// transaction had already ended.
func (tx *Tx) Rollback() error {
	if tx.done {
		return ErrTxDone
	}
	tx.end()
	return nil
}

// end finishes the transaction and releases the writer lock. The page
// buffers go back to the writer's spares first: once a commit's frames are
// written, or on rollback, nothing refers to them.
func (tx *Tx) end() {
	tx.done = true
	for _, p := range tx.dirty {
		tx.s.w.recycle(p)
	}
	if len(tx.dirty) <= maxSparePages {
		// Reuse the map for the next transaction; a large one's map is
		// left to the GC rather than kept at its size.
		clear(tx.dirty)
		tx.s.w.dirty = tx.dirty
	}
	tx.dirty = nil
	release(tx.s.writer)
}

// Commit appends the written pages to the WAL as frames, in page order, the
// last one marked as the commit frame carrying the database size, and makes
// them durable as the store's SyncMode says. ctx is checked before anything
// is written; once frames are written Commit waits for its fsync regardless,
// because returning early would leave the outcome unknown.
//
// On error the transaction is over either way. If the error wraps ErrFailed
// the WAL could not be synced: this commit may or may not survive a crash,
// and the store refuses further writes until it is reopened. Any other error
// means nothing of the transaction became visible.
func (tx *Tx) Commit(ctx context.Context) error {
	if tx.done {
		return ErrTxDone
	}
	s := tx.s
	if err := ctx.Err(); err != nil {
		tx.end()
		return err
	}
	// Pages that became part of the database without being written must
	// read as zeros, whatever stale bytes the db file holds there.
	for pg := tx.low + 1; pg <= tx.nPage; pg++ {
		if _, ok := tx.dirty[pg]; !ok {
			p := s.w.page(s.pageSize)
			clear(p)
			tx.dirty[pg] = p
		}
	}
	pages := s.w.pages[:0]
	for pg := range tx.dirty {
		pages = append(pages, pg)
	}
	slices.Sort(pages)
	if cap(pages) <= maxSparePages {
		s.w.pages = pages // reused by the next commit (writer only)
	}
	if len(pages) == 0 {
		if tx.nPage == s.w.nPage {
			tx.end() // nothing to do
			return nil
		}
		// A size change alone still needs a commit frame to carry it.
		p := make([]byte, s.pageSize)
		if err := tx.ReadPage(tx.nPage, p); err != nil {
			tx.end()
			return err
		}
		tx.dirty[tx.nPage] = p
		pages = append(pages, tx.nPage)
	}
	seq, err := s.appendLocked(pages, tx.dirty, tx.nPage)
	if err != nil {
		tx.end()
		return err
	}
	switch s.sync {
	case SyncGroup:
		tx.end() // let the next writer append while we wait for the fsync
		err = s.waitDurable(seq)
	case SyncFull:
		err = s.waitDurable(seq)
		tx.end()
	default:
		tx.end()
	}
	if err == nil {
		s.stats.commits.Add(1)
		s.kickAutoCheckpoint()
	}
	return err
}
