package timeseries

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/edgekit/edgekit/kv"
)

// Wide partitions (Netflix's dynamic splitting, on kv):
//
//  1. Detection: a read counts the bytes it reads from each base partition
//     (across the pages of one scan, through the page token); past
//     Options.WideBytes it records a split request in the slice's "m/splits"
//     record and wakes the splitter.
//  2. Copy: the splitter marks the split copying, durably and then in
//     memory under splitMu held exclusively (from then on every write to
//     the partition also goes to its new sub-bucket), reads the original
//     once in key order and writes each event to sub-bucket
//     subBucket(id, m), checkpointing the last key copied and a running
//     checksum after every page. A crash resumes from the checkpoint;
//     re-copying a page is harmless because copies keep each cell's
//     timestamp.
//  3. Verify and publish: the checksum (count and order-independent sum of
//     item hashes) of all sub-buckets must equal the original's; only then
//     is the split published. Reads route published partitions to the
//     sub-buckets, checking the Bloom filter first. The original stays (and
//     keeps receiving writes) until retention drops the slice.

const copyPage = 512 // items per copy step (one checkpoint each)

// detectWide records split requests for leaves read past the threshold.
func (n *Namespace) detectWide(ctx context.Context, lv []leaf, b []int64) {
	if n.opts.WideBytes < 0 {
		return
	}
	for i, l := range lv {
		if l.base != "" && b[i] > n.opts.WideBytes {
			n.requestSplit(ctx, l, b[i])
		}
	}
}

// requestSplit records, once, that base partition l is wide.
func (n *Namespace) requestSplit(ctx context.Context, l leaf, size int64) {
	r := &splitRec{ns: l.ns, state: stateRequested, bytes: uint64(size)}
	n.splitMu.Lock()
	if n.splits[l.base] != nil {
		n.splitMu.Unlock()
		return
	}
	n.splits[l.base] = r
	n.splitMu.Unlock()
	if err := n.persistSplit(context.WithoutCancel(ctx), l.base, r); err != nil {
		n.opts.Logger.Warn("timeseries: recording split request", "partition", l.base, "err", err)
		n.splitMu.Lock()
		if n.splits[l.base] == r {
			delete(n.splits, l.base) // a later read asks again
		}
		n.splitMu.Unlock()
		return
	}
	n.stats.splitRequests.Add(1)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// RunSplits carries every requested or interrupted split through to
// publication and returns how many it published. The background goroutine
// calls it; call it yourself with Options.NoBackground. Calls are
// serialized.
//
// A failed attempt — a kv error, or a copy whose checksum keeps disagreeing
// with the original's — is logged, counted in Stats.SplitRetries and
// retried by a later call once its backoff has passed (Options.SplitInterval,
// doubling per failure, at most an hour), up to Options.MaxSplitAttempts
// attempts; then the split is aborted (Stats.SplitsAborted) and reads keep
// using the original. A split is published only when its checksums agree.
// The error joins a *SplitError per failed attempt, or is ctx's error when
// ctx ended (the interrupted split resumes from its checkpoint next time,
// without counting as a failure).
func (n *Namespace) RunSplits(ctx context.Context) (int, error) {
	if err := n.checkOpen(); err != nil {
		return 0, err
	}
	n.runMu.Lock()
	defer n.runMu.Unlock()
	type job struct {
		pid string
		r   splitRec
	}
	var jobs []job
	now := n.opts.Now().UnixMicro()
	n.splitMu.RLock()
	for pid, r := range n.splits {
		if (r.state == stateRequested || r.state == stateCopying) && r.retryAt <= now {
			jobs = append(jobs, job{pid, *r})
		}
	}
	n.splitMu.RUnlock()
	slices.SortFunc(jobs, func(a, b job) int { return bytes.Compare([]byte(a.pid), []byte(b.pid)) })
	done := 0
	var errs []error
	for _, j := range jobs {
		p, err := parsePartition(j.pid)
		if err != nil {
			n.opts.Logger.Warn("timeseries: skipping split of malformed partition", "partition", j.pid, "err", err)
			continue
		}
		if n.opts.ImmutableSplitsOnly && !n.immutable(p.tb) {
			continue
		}
		ok, err := n.splitOne(ctx, j.pid, p, &j.r)
		if err != nil && ctx.Err() != nil {
			return done, errors.Join(append(errs, ctx.Err())...)
		}
		if err != nil {
			errs = append(errs, n.failSplit(ctx, j.pid, &j.r, err))
			continue
		}
		if ok {
			done++
		}
	}
	return done, errors.Join(errs...)
}

const (
	// maxSplitBackoff caps the pause between attempts of one split.
	maxSplitBackoff = time.Hour
	// maxSplitAttempts caps Options.MaxSplitAttempts (the split record
	// counts failed attempts in a u16).
	maxSplitAttempts = 1000
)

// failSplit records a failed attempt of split pid: it schedules the next
// attempt after a backoff, or aborts the split once the attempts are spent.
func (n *Namespace) failSplit(ctx context.Context, pid string, r *splitRec, cause error) error {
	r.failed++
	se := &SplitError{Partition: pid, Namespace: r.ns, Attempt: int(r.failed), Err: cause}
	if errors.Is(cause, ErrSplitMismatch) {
		// The copy cannot be trusted: the next attempt copies from the
		// start (re-copying is harmless, cells keep their timestamps).
		r.cursor, r.preN, r.preSum = nil, 0, 0
	}
	if int(r.failed) >= n.opts.MaxSplitAttempts {
		r.state, r.retryAt = stateAborted, 0
		n.stats.splitsAborted.Add(1)
		n.opts.Logger.Error("timeseries: split given up; reads keep using the original partition",
			"namespace", r.ns, "partition", pid, "attempts", r.failed, "err", cause)
	} else {
		delay := min(n.opts.SplitInterval<<(r.failed-1), maxSplitBackoff)
		if delay <= 0 { // shifted past int64
			delay = maxSplitBackoff
		}
		at := n.opts.Now().Add(delay)
		r.retryAt, se.RetryAt = at.UnixMicro(), at
		n.stats.splitRetries.Add(1)
		n.opts.Logger.Warn("timeseries: split attempt failed; retrying later",
			"namespace", r.ns, "partition", pid, "attempt", r.failed, "retry_at", at, "err", cause)
	}
	// Durably, so a restart keeps the count and the backoff; when the
	// store is what failed, memory still has them.
	if err := n.persistSplit(context.WithoutCancel(ctx), pid, r); err != nil {
		n.opts.Logger.Warn("timeseries: recording failed split attempt", "partition", pid, "err", err)
	}
	n.setSplit(pid, r, false)
	return se
}

// immutable reports whether time bucket tb has left the accept window.
func (n *Namespace) immutable(tb int64) bool {
	if n.opts.AcceptPast < 0 {
		return false
	}
	return (tb+1)*n.bktU <= n.opts.Now().Add(-n.opts.AcceptPast).UnixMicro()
}

// splitOne moves one split forward; it reports whether it published.
func (n *Namespace) splitOne(ctx context.Context, pid string, p partition, r *splitRec) (bool, error) {
	if r.state == stateRequested {
		target := min(n.opts.TargetPartitionBytes, max(n.opts.WideBytes/2, 1))
		m := int(min(max((int64(r.bytes)+target-1)/target, 2), int64(n.opts.MaxSplitBuckets)))
		*r = splitRec{ns: r.ns, state: stateCopying, m: m, bytes: r.bytes}
		if err := n.persistSplit(ctx, pid, r); err != nil {
			return false, err
		}
		n.setSplit(pid, r, false)
	}
	children := make([]string, r.m)
	for j := range children {
		c := p
		c.j, c.m = j, r.m
		children[j] = c.id()
	}
	// Concurrent writes can make a verification disagree; the later
	// passes verify with writers held off.
	for pass := 0; pass < 3; pass++ {
		if err := n.copySplit(ctx, pid, r, children); err != nil {
			return false, err
		}
		ok, err := n.verifyAndPublish(ctx, pid, r, children, pass > 0)
		if ok || err != nil {
			return ok, err
		}
		n.opts.Logger.Debug("timeseries: split checksum mismatch, copying again", "partition", pid,
			"original", r.preN, "copy", r.postN, "pass", pass+1)
		if pass < 2 {
			r.cursor, r.preN, r.preSum = nil, 0, 0
		}
	}
	return false, fmt.Errorf("%w: original %d items, copy %d", ErrSplitMismatch, r.preN, r.postN)
}

// verifyAndPublish compares the checksums of the original and the new
// layout and publishes the split when they agree. Without fence, writes may
// run meanwhile; a mismatch then recounts the original, since writes behind
// the copy cursor went to both layouts. With fence, writers are held off
// (splitMu exclusively) while both sides are counted and the split is
// published, so the comparison is exact however busy the partition is.
func (n *Namespace) verifyAndPublish(ctx context.Context, pid string, r *splitRec, children []string, fence bool) (bool, error) {
	if fence {
		n.splitMu.Lock()
		defer n.splitMu.Unlock()
	}
	var err error
	if r.postN, r.postSum, err = n.checksum(ctx, r.ns, children); err != nil {
		return false, err
	}
	if r.postN != r.preN || r.postSum != r.preSum {
		if r.preN, r.preSum, err = n.checksum(ctx, r.ns, []string{pid}); err != nil {
			return false, err
		}
	}
	if r.postN != r.preN || r.postSum != r.preSum {
		return false, nil
	}
	r.state = statePublished
	if err := n.persistSplit(ctx, pid, r); err != nil {
		r.state = stateCopying
		return false, err
	}
	if fence {
		n.setSplitLocked(pid, r, true)
	} else {
		n.setSplit(pid, r, true)
	}
	n.stats.splitsPublished.Add(1)
	return true, nil
}

// setSplit installs a copy of r in memory. Taking splitMu exclusively
// waits for writes in flight, which is what makes the copying switch safe.
func (n *Namespace) setSplit(pid string, r *splitRec, published bool) {
	n.splitMu.Lock()
	defer n.splitMu.Unlock()
	n.setSplitLocked(pid, r, published)
}

func (n *Namespace) setSplitLocked(pid string, r *splitRec, published bool) {
	c := *r
	n.splits[pid] = &c
	if published {
		n.rebuildBloomLocked()
	}
}

// copySplit copies the original from the checkpoint to its end.
func (n *Namespace) copySplit(ctx context.Context, pid string, r *splitRec, children []string) error {
	for {
		q := kv.Query{Limit: copyPage}
		if r.cursor != nil {
			q.Start = append(bytes.Clone(r.cursor), 0) // the first key after the checkpoint
		}
		res, err := n.store.Read(ctx, r.ns, pid, q)
		if err != nil {
			return err
		}
		if len(res.Items) == 0 {
			return nil
		}
		groups := make([][]kv.Mutation, len(children))
		var sum uint64
		for _, it := range res.Items {
			_, id, _, err := parseItemKey(it.Key)
			if err != nil {
				return err
			}
			j := subBucket(string(id), len(children))
			groups[j] = append(groups[j], kv.Mutation{Op: kv.OpPut, Key: it.Key, Value: it.Value, Metadata: it.Metadata, Timestamp: it.Timestamp})
			sum += itemHash(it.Key, it.Value)
		}
		err = forEach(ctx, len(children), n.opts.WriteParallelism, func(ctx context.Context, j int) error {
			if len(groups[j]) == 0 {
				return nil
			}
			return n.store.Apply(ctx, r.ns, children[j], groups[j])
		})
		if err != nil {
			return err
		}
		// The checkpoint moves only after the copies are durable.
		r.cursor = bytes.Clone(res.Items[len(res.Items)-1].Key)
		r.preN += uint64(len(res.Items))
		r.preSum += sum
		if err := n.persistSplit(ctx, pid, r); err != nil {
			return err
		}
		if res.Cursor == nil {
			return nil
		}
	}
}

// checksum returns the item count and the sum of item hashes of records.
func (n *Namespace) checksum(ctx context.Context, ns string, ids []string) (count, sum uint64, err error) {
	for _, id := range ids {
		var cursor []byte
		for {
			res, err := n.store.Read(ctx, ns, id, kv.Query{Limit: 1000, Cursor: cursor})
			if err != nil {
				return 0, 0, err
			}
			for _, it := range res.Items {
				count++
				sum += itemHash(it.Key, it.Value)
			}
			if cursor = res.Cursor; cursor == nil {
				break
			}
		}
	}
	return count, sum, nil
}

// itemHash hashes one item for the order-independent split checksum.
func itemHash(key, value []byte) uint64 {
	h := fnv.New64a()
	var l [4]byte
	binary.BigEndian.PutUint32(l[:], uint32(len(key)))
	h.Write(l[:])
	h.Write(key)
	h.Write(value)
	x := h.Sum64()
	// Finalize (splitmix64) so the sum does not cancel structure.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
