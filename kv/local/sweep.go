package local

import (
	"bytes"
	"context"
	"sync"
	"time"

	"github.com/edgekit/edgekit/kv/local/internal/btree"
)

// The sweeper reclaims space off the commit path. A record or range delete
// writes one tombstone and returns; the items it hides stay on disk until
// the sweeper deletes them. Expired items become item tombstones (they must
// keep hiding older writes that arrive late, as an expired Cassandra cell
// does). Tombstones themselves are kept: dropping one would let an older
// write that arrives later come back to life.
//
// Records that received a record or range delete are swept soon after (the
// queue below); a timed pass walks every namespace a slice at a time to
// find expired items nobody deletes.

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
		for from != nil && !w.stopping() {
			var next []byte
			err := w.s.update(context.Background(), func(tx *btree.Tx) error {
				root, ok, err := lookupNS(tx, ns)
				if err != nil || !ok {
					return err
				}
				next, err = sweepRange(tx, root, from, stop, w.s.now().UnixNano())
				return err
			})
			if err != nil {
				w.s.opts.Logger.Warn("kv/local: sweep failed", "namespace", ns, "id", id, "err", err)
				break
			}
			from = next
		}
	}
}

// sweepSlice advances the timed pass by one batch.
func (w *sweeper) sweepSlice() {
	err := w.s.update(context.Background(), func(tx *btree.Tx) error {
		c := tx.Cursor(tx.Catalog())
		c.Seek([]byte(w.posNS))
		if !c.Valid() {
			w.posNS, w.posKey = "", nil // wrap around
			return c.Err()
		}
		ns := string(c.Key())
		if ns != w.posNS {
			w.posNS, w.posKey = ns, nil
		}
		root, ok, err := lookupNS(tx, ns)
		if err != nil || !ok {
			return err
		}
		next, err := sweepRange(tx, root, w.posKey, nil, w.s.now().UnixNano())
		if err != nil {
			return err
		}
		if next == nil {
			w.posNS, w.posKey = ns+"\x00", nil // the next namespace
		} else {
			w.posKey = next
		}
		return nil
	})
	if err != nil {
		w.s.opts.Logger.Warn("kv/local: timed sweep failed", "namespace", w.posNS, "err", err)
	}
}

// sweepRange examines up to sweepBatch entries of the namespace tree from
// key `from` (up to `stop`, nil for the end), deletes the items hidden by
// record and range tombstones, and turns expired items into tombstones. It
// returns where to continue, nil when the range is done. Changes are
// collected first and made after the walk, since the cursor must not see
// the tree change under it.
func sweepRange(tx *btree.Tx, root uint32, from, stop []byte, now int64) ([]byte, error) {
	type change struct {
		key  []byte
		cell *cellData // nil: delete
	}
	var (
		changes []change
		curID   []byte
		t       tombs
		next    []byte
	)
	c := tx.Cursor(root)
	n := 0
	for c.Seek(from); c.Valid(); c.Next() {
		k := c.Key()
		if stop != nil && bytes.Compare(k, stop) >= 0 {
			break
		}
		if n == sweepBatch {
			next = bytes.Clone(k)
			break
		}
		n++
		id, kind, suffix, ok := splitKey(k)
		if !ok {
			return nil, errBadCell
		}
		if !bytes.Equal(id, curID) {
			curID = bytes.Clone(id)
			var err error
			if t, err = loadTombs(tx, root, string(id)); err != nil {
				return nil, err
			}
		}
		if kind != kindItem {
			continue
		}
		v, err := c.Value()
		if err != nil {
			return nil, err
		}
		cell, err := decodeCell(v)
		if err != nil {
			return nil, err
		}
		switch {
		case t.covers(suffix, cell.ts):
			changes = append(changes, change{key: bytes.Clone(k)})
		case !cell.tombstone() && cell.expiry != 0 && cell.expiry <= now:
			changes = append(changes, change{key: bytes.Clone(k), cell: &cellData{flags: cellTombstone, ts: cell.ts}})
		}
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	for _, ch := range changes {
		var err error
		if ch.cell == nil {
			_, err = tx.Delete(root, ch.key)
		} else {
			err = tx.Put(root, ch.key, encodeCell(ch.cell))
		}
		if err != nil {
			return nil, err
		}
	}
	return next, nil
}

// SweepNow sweeps every namespace to its end in the calling goroutine:
// items hidden by record and range tombstones are deleted and expired items
// become tombstones, so their pages return to the free list. The
// background sweeper does the same a slice at a time; SweepNow is for tests
// and for reclaiming space at a moment of the caller's choosing.
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
		var from []byte
		for first := true; first || from != nil; first = false {
			if err := ctx.Err(); err != nil {
				return err
			}
			err := s.update(ctx, func(tx *btree.Tx) error {
				root, ok, err := lookupNS(tx, ns)
				if err != nil || !ok {
					from = nil
					return err
				}
				from, err = sweepRange(tx, root, from, nil, s.now().UnixNano())
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
