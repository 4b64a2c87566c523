package local

import (
	"context"
	"sync"
	"time"

	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// The sweeper reclaims space off the commit path. A record or range delete
// writes one tombstone and returns; the items it hides stay on disk until
// the sweeper deletes them. Expired items become item tombstones: like an
// expired Cassandra cell, they must keep hiding older writes that arrive
// late. Tombstones of every kind are kept for Options.TombstoneGrace after
// their deletion time and then purged, together with what they hide (see
// sweeprange.go): only then may an older write that arrives late come back
// to life, as after Cassandra's gc_grace_seconds.
//
// Records that received a record or range delete are swept soon after (the
// queue below, in memory only); a timed pass walks every namespace a slice
// at a time to find expired items nobody deletes and tombstones whose
// grace has passed, so nothing depends on the queue surviving a restart.

const (
	sweepBatch    = 1000  // entries examined per sweep commit
	sweepQueueCap = 10000 // records queued for sweeping; more are left to the timed pass
)

type sweeper struct {
	s    *Store
	kick chan struct{} // 1-buffered: records were queued
	quit chan struct{} // closed by stop
	done sync.WaitGroup

	mu      sync.Mutex         // guards pending, stopped
	pending map[[2]string]bool // (namespace, id) to sweep
	stopped bool

	// Position of the timed pass; only the sweeper goroutine uses them.
	posNS  string
	posKey []byte
	walk   recordWalk
}

func newSweeper(s *Store) *sweeper {
	w := &sweeper{s: s, kick: make(chan struct{}, 1), quit: make(chan struct{}), pending: map[[2]string]bool{}}
	w.done.Add(1)
	go w.loop()
	return w
}

// stop ends the sweeper goroutine and waits for it.
func (w *sweeper) stop() {
	w.mu.Lock()
	if !w.stopped {
		w.stopped = true
		close(w.quit)
	}
	w.mu.Unlock()
	w.done.Wait()
}

// record queues a record for sweeping.
func (w *sweeper) record(ns, id string) {
	w.mu.Lock()
	if len(w.pending) < sweepQueueCap {
		w.pending[[2]string{ns, id}] = true
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

func (w *sweeper) loop() {
	defer w.done.Done()
	var tick <-chan time.Time
	if iv := w.s.opts.SweepInterval; iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-w.quit:
			return
		case <-w.kick:
			w.sweepQueued()
		case <-tick:
			w.sweepSlice()
		}
	}
}

func (w *sweeper) stopping() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// sweepQueued sweeps every queued record to its end.
func (w *sweeper) sweepQueued() {
	w.mu.Lock()
	recs := w.pending
	w.pending = map[[2]string]bool{}
	w.mu.Unlock()
	for rec := range recs {
		ns, id := rec[0], rec[1]
		from := kindKey(id, kindRecordTomb)
		stop := kindKey(id, kindPastEnd)
		var walk recordWalk
		for from != nil && !w.stopping() {
			var err error
			if from, err = w.s.sweepStep(context.Background(), ns, from, stop, &walk); err != nil {
				w.s.opts.Logger.Warn("kv/local: sweep failed", "namespace", ns, "id", id, "err", err)
				break
			}
		}
	}
}

// sweepSlice advances the timed pass by one batch.
func (w *sweeper) sweepSlice() {
	var ns string
	err := w.s.view(func(tx *btree.Tx) error {
		c := tx.Cursor(tx.Catalog())
		c.Seek([]byte(w.posNS))
		if c.Valid() {
			ns = string(c.Key())
		}
		return c.Err()
	})
	if err != nil {
		w.s.opts.Logger.Warn("kv/local: timed sweep failed", "namespace", w.posNS, "err", err)
		return
	}
	if ns == "" {
		w.posNS, w.posKey, w.walk = "", nil, recordWalk{} // wrap around
		return
	}
	if ns != w.posNS {
		w.posNS, w.posKey, w.walk = ns, nil, recordWalk{}
	}
	next, err := w.s.sweepStep(context.Background(), ns, w.posKey, nil, &w.walk)
	switch {
	case err != nil:
		w.s.opts.Logger.Warn("kv/local: timed sweep failed", "namespace", ns, "err", err)
	case next == nil:
		w.posNS, w.posKey = ns+"\x00", nil // the next namespace
	default:
		w.posKey = next
	}
}

// sweepStep runs sweepRange on namespace ns as one commit and returns
// where to continue (nil: the range is done, or ns is gone). walk is
// updated only if the commit succeeds: the group commit may run the
// function twice, and a failed commit deleted nothing. After a failure
// walk is reset, which is merely cautious: the walk then purges no record
// or range tombstone of the record it was in.
func (s *Store) sweepStep(ctx context.Context, ns string, from, stop []byte, walk *recordWalk) ([]byte, error) {
	var (
		next   []byte
		purged int
		w      recordWalk
	)
	err := s.updateThen(ctx, func(tx *btree.Tx) error {
		// The group commit may run this twice: start from the same state.
		w, next, purged = *walk, nil, 0
		if d := s.drops.Load(); d != w.drops {
			w = recordWalk{drops: d}
		}
		root, ok, err := lookupNS(tx, ns)
		if err != nil || !ok {
			w = recordWalk{drops: w.drops}
			return err
		}
		next, purged, err = sweepRange(tx, root, from, stop, s.sweepTime(), &w)
		return err
	}, func() {
		// Counted before the commit wakes anyone: a SweepNow whose step
		// shared this commit sees the count when it returns.
		s.purged.Add(uint64(purged))
	})
	if err != nil {
		*walk = recordWalk{}
		return nil, err
	}
	*walk = w
	return next, nil
}

// SweepNow sweeps every namespace to its end in the calling goroutine:
// items hidden by record and range tombstones are deleted, expired items
// become tombstones, and tombstones and expired items whose
// Options.TombstoneGrace has passed are purged, so their pages return to
// the free list. The background sweeper does the same a slice at a time;
// SweepNow is for tests and for reclaiming space at a moment of the
// caller's choosing. It may run concurrently with the background sweeper
// and with writes.
func (s *Store) SweepNow(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	var names []string
	err := s.view(func(tx *btree.Tx) error {
		c := tx.Cursor(tx.Catalog())
		for c.First(); c.Valid(); c.Next() {
			names = append(names, string(c.Key()))
		}
		return c.Err()
	})
	if err != nil {
		return err
	}
	for _, ns := range names {
		var (
			from []byte
			walk recordWalk
		)
		for first := true; first || from != nil; first = false {
			if err := ctx.Err(); err != nil {
				return err
			}
			if from, err = s.sweepStep(ctx, ns, from, nil, &walk); err != nil {
				return err
			}
		}
	}
	return nil
}
