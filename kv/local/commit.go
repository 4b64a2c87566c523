package local

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// Group commit. Writers queue their change as a request; one of them (the
// leader) takes every queued request, runs them all in one write
// transaction and commits it with one fsync, then hands leadership to the
// first writer that queued meanwhile. Under load, many Apply calls share a
// commit; alone, a writer commits at once. Each request stays atomic: it is
// applied entirely inside one commit.

type request struct {
	fn   func(tx *btree.Tx) error
	then func()        // run once fn's changes are durable, before any waiter of the commit wakes; may be nil
	size int           // bytes the request writes, roughly; bounds a batch
	done chan error    // receives the outcome, once
	lead chan struct{} // closed when this request's goroutine must lead
}

// update runs fn in a write transaction and returns once it is durable (or
// failed). fn must return an error before it changes anything, or a fatal
// one (I/O, corruption); see runBatch.
func (s *Store) update(ctx context.Context, fn func(tx *btree.Tx) error) error {
	return s.updateSized(ctx, 0, fn)
}

// maxBatchBytes bounds the bytes one group commit carries (the WAL layer
// holds a transaction's pages in memory until it commits).
const maxBatchBytes = 8 << 20

// updateSized is update for a request that writes about size bytes.
func (s *Store) updateSized(ctx context.Context, size int, fn func(tx *btree.Tx) error) error {
	return s.enqueue(ctx, &request{fn: fn, size: size})
}

// updateThen is update that also runs then once fn's changes are durable,
// before the caller or any other request of the same group commit
// returns: what then records (a counter in Stats) is visible to everyone
// the commit wakes.
func (s *Store) updateThen(ctx context.Context, fn func(tx *btree.Tx) error, then func()) error {
	return s.enqueue(ctx, &request{fn: fn, then: then})
}

// enqueue queues req for a group commit and waits for its outcome.
func (s *Store) enqueue(ctx context.Context, req *request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req.done, req.lead = make(chan error, 1), make(chan struct{})
	s.qmu.Lock()
	s.queue = append(s.queue, req)
	if s.queued != nil {
		close(s.queued) // wake the gathering leader
		s.queued = nil
	}
	if s.leading {
		s.qmu.Unlock()
		// Once queued, the request is committed or failed by a leader; the
		// caller waits for that outcome rather than leave it unknown.
		select {
		case err := <-req.done:
			return err
		case <-req.lead:
		}
	} else {
		s.leading = true
		s.qmu.Unlock()
	}
	s.lead()
	return <-req.done
}

// minGather and maxGather bound a new leader's wait for the writers that
// the last commit suggests are coming; between them it waits half the
// recent commit time, so the wait never costs more than a fraction of the
// commit it saves.
const (
	minGather = 20 * time.Microsecond
	maxGather = 2 * time.Millisecond
)

// gatherLocked is a leader's wait before it takes the queue: when the
// recent group commits carried k requests, concurrent writers are about, and a
// leader who finds fewer than k queued waits briefly for the rest. Without
// it, a caller that issues k Applies at once (timeseries writes one per
// partition) pays two commits: the first Apply to arrive commits alone and
// the others share the next. The target decays by one per commit, so a
// lone writer waits only for its first few commits after a burst of
// others. s.qmu held.
func (s *Store) gatherLocked() {
	target := min(s.lastBatch, s.opts.MaxBatch)
	if len(s.queue) >= target {
		return
	}
	timer := time.NewTimer(min(max(s.commitAvg/2, minGather), maxGather))
	defer timer.Stop()
	for len(s.queue) < target {
		ch := make(chan struct{})
		s.queued = ch
		s.qmu.Unlock()
		select {
		case <-ch:
			s.qmu.Lock()
		case <-timer.C:
			s.qmu.Lock()
			s.queued = nil
			return
		}
	}
}

// lead runs one group commit, then passes leadership on.
func (s *Store) lead() {
	s.qmu.Lock()
	s.gatherLocked()
	n, bytes := 0, 0
	for n < len(s.queue) && n < s.opts.MaxBatch && (n == 0 || bytes+s.queue[n].size <= maxBatchBytes) {
		bytes += s.queue[n].size
		n++
	}
	batch := s.queue[:n:n]
	s.queue = s.queue[n:]
	s.qmu.Unlock()

	start := time.Now()
	s.runBatch(batch)
	took := time.Since(start)

	s.qmu.Lock()
	// The target decays one request per commit, so that one straggler
	// (a batch of 3 and then 1) does not make the next leader stop waiting.
	s.lastBatch = max(len(batch), s.lastBatch-1)
	s.commitAvg += (took - s.commitAvg) / 8
	if len(s.queue) > 0 {
		close(s.queue[0].lead)
	} else {
		s.leading = false
	}
	s.qmu.Unlock()
}

// runBatch commits batch in one transaction. A request whose fn fails
// without having changed anything just gets its error. If one fails after
// changing pages (an I/O or corruption error mid-way), its partial changes
// cannot be undone inside the shared transaction, so the whole transaction
// is rolled back and the requests are retried one commit each, which gives
// every other request its own outcome.
func (s *Store) runBatch(batch []*request) {
	errs, err := s.commit(batch)
	if errors.Is(err, errPartial) && len(batch) > 1 {
		for _, r := range batch {
			e, err := s.commit([]*request{r})
			if err == nil && e[0] == nil && r.then != nil {
				r.then()
			}
			if err != nil {
				r.done <- err
			} else {
				r.done <- e[0]
			}
		}
		return
	}
	if err == nil {
		for i, r := range batch {
			if errs[i] == nil && r.then != nil {
				r.then()
			}
		}
	}
	for i, r := range batch {
		if err != nil {
			r.done <- err
		} else {
			r.done <- errs[i]
		}
	}
}

// errPartial marks a batch abandoned because a request failed half-way.
var errPartial = errors.New("edgekit/kv/local: request failed after writing")

// commit runs the requests in one write transaction. It returns each
// request's own error, or an error for the whole transaction.
func (s *Store) commit(batch []*request) ([]error, error) {
	wtx, err := s.wal.Begin(context.Background())
	if err != nil {
		return nil, err
	}
	// Writers are serialized and each stores its meta before the next
	// begins, so s.meta is the last commit's: no need to read page 1.
	tx, err := btree.BeginWriteAt(wtx, s.cache, s.ps, s.meta.Load())
	if err != nil {
		wtx.Rollback()
		return nil, err
	}
	errs := make([]error, len(batch))
	ok := 0
	for i, r := range batch {
		before := tx.Mods()
		errs[i] = r.fn(tx)
		if errs[i] != nil && tx.Mods() != before {
			wtx.Rollback()
			if len(batch) == 1 {
				return nil, errs[i]
			}
			return nil, errPartial
		}
		if errs[i] == nil {
			ok++
		}
	}
	if ok == 0 {
		wtx.Rollback()
		return errs, nil
	}
	if _, err := tx.Commit(); err != nil {
		wtx.Rollback()
		return nil, err
	}
	s.metaSeq.Add(1) // odd: snapshots may now show a commit not yet in s.meta
	err = wtx.Commit(context.Background())
	if err == nil {
		tx.Publish()
		s.meta.Store(tx.Meta())
	}
	s.metaSeq.Add(1)
	if err != nil {
		// Not published. If the WAL says the outcome is unknown (a failed
		// fsync, wal.ErrFailed), the store refuses writes until reopened.
		return nil, fmt.Errorf("edgekit/kv/local: commit: %w", err)
	}
	return errs, nil
}
