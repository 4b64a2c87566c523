package timeseries

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/edgekit/edgekit/kv"
)

// splitsID is the record of a slice that holds the split state of its
// partitions, one item per split base partition (never a partition id).
const splitsID = "m/splits"

type splitState uint8

// Split states (frozen values). A split moves requested → copying →
// published; a failed attempt leaves it copying with a retry time, and
// after Options.MaxSplitAttempts failed attempts it is aborted.
const (
	stateRequested splitState = 1
	stateCopying   splitState = 2
	statePublished splitState = 3
	stateAborted   splitState = 4
)

// splitRec is the durable state of one split.
type splitRec struct {
	ns      string // slice namespace (not encoded: it is where the record lives)
	state   splitState
	m       int    // sub-buckets of the new layout (0 while requested)
	bytes   uint64 // bytes observed when the split was requested
	preN    uint64 // items and checksum of the original, copied so far
	preSum  uint64
	postN   uint64 // items and checksum of the new layout at publication
	postSum uint64
	cursor  []byte // last item key copied (the checkpoint)
	// failed counts attempts that failed; the next may start at retryAt
	// (µs). Both zero until an attempt fails.
	failed  uint16
	retryAt int64
}

const (
	splitRecFixed = 1 + 2 + 8*5 + 2
	splitRecRetry = 2 + 8 // the optional trailer: failed u16 | retryAt i64
)

// encode (frozen):
//
//	state u8 | m u16 | bytes u64 | preN u64 | preSum u64 | postN u64 | postSum u64 | cursor len u16 | cursor
//	[ failed u16 | retryAt i64 ]   only when an attempt has failed
func (r *splitRec) encode() []byte {
	b := make([]byte, 0, splitRecFixed+len(r.cursor)+splitRecRetry)
	b = append(b, byte(r.state))
	b = binary.BigEndian.AppendUint16(b, uint16(r.m))
	for _, x := range []uint64{r.bytes, r.preN, r.preSum, r.postN, r.postSum} {
		b = binary.BigEndian.AppendUint64(b, x)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.cursor)))
	b = append(b, r.cursor...)
	if r.failed != 0 || r.retryAt != 0 {
		b = binary.BigEndian.AppendUint16(b, r.failed)
		b = binary.BigEndian.AppendUint64(b, uint64(r.retryAt))
	}
	return b
}

func decodeSplitRec(b []byte) (*splitRec, error) {
	if len(b) < splitRecFixed {
		return nil, fmt.Errorf("%w: split record of %d bytes", ErrInvalid, len(b))
	}
	r := &splitRec{state: splitState(b[0]), m: int(binary.BigEndian.Uint16(b[1:]))}
	v := make([]uint64, 5)
	for i := range v {
		v[i] = binary.BigEndian.Uint64(b[3+8*i:])
	}
	r.bytes, r.preN, r.preSum, r.postN, r.postSum = v[0], v[1], v[2], v[3], v[4]
	cl := int(binary.BigEndian.Uint16(b[splitRecFixed-2:]))
	trailer := len(b) - splitRecFixed - cl
	if (trailer != 0 && trailer != splitRecRetry) || r.state < stateRequested || r.state > stateAborted ||
		r.m > maxBuckets || (r.state != stateRequested && r.m < 2) {
		return nil, fmt.Errorf("%w: malformed split record", ErrInvalid)
	}
	if cl > 0 {
		r.cursor = append([]byte(nil), b[splitRecFixed:splitRecFixed+cl]...)
	}
	if trailer > 0 {
		t := b[splitRecFixed+cl:]
		r.failed, r.retryAt = binary.BigEndian.Uint16(t), int64(binary.BigEndian.Uint64(t[2:]))
		if r.failed == 0 && r.retryAt == 0 {
			return nil, fmt.Errorf("%w: split record with an empty retry trailer", ErrInvalid)
		}
	}
	return r, nil
}

// nextTSLocked returns a timestamp for a split record above every earlier
// one of this process, so state only moves forward under last-writer-wins.
func (n *Namespace) nextTSLocked() int64 {
	ts := max(n.opts.Now().UnixMicro(), n.lastTS+1)
	n.lastTS = ts
	return ts
}

// persistSplit writes r durably under base partition id pid.
func (n *Namespace) persistSplit(ctx context.Context, pid string, r *splitRec) error {
	n.tsMu.Lock()
	ts := n.nextTSLocked()
	n.tsMu.Unlock()
	return n.store.Apply(ctx, r.ns, splitsID, []kv.Mutation{{Op: kv.OpPut, Key: []byte(pid), Value: r.encode(), Timestamp: ts}})
}

// loadSplits reads the split records of every slice and merges them into
// memory: a state only moves forward, so a stale store never undoes a
// split this process has advanced.
func (n *Namespace) loadSplits(ctx context.Context) error {
	names, err := n.store.Namespaces(ctx)
	if err != nil {
		return err
	}
	found := make(map[string]*splitRec)
	var newest int64 // highest record timestamp seen
	for _, ns := range names {
		if _, ok := n.parseSliceName(ns); !ok {
			continue
		}
		var cursor []byte
		for {
			res, err := n.store.Read(ctx, ns, splitsID, kv.Query{Cursor: cursor, Limit: 1000})
			if errors.Is(err, kv.ErrNoNamespace) {
				break // dropped by retention meanwhile
			}
			if err != nil {
				return err
			}
			for _, it := range res.Items {
				r, err := decodeSplitRec(it.Value)
				if err != nil {
					n.opts.Logger.Warn("timeseries: skipping bad split record", "namespace", ns, "partition", string(it.Key), "err", err)
					continue
				}
				r.ns = ns
				found[string(it.Key)] = r
				newest = max(newest, it.Timestamp)
			}
			if cursor = res.Cursor; cursor == nil {
				break
			}
		}
	}
	// Our next record must outrank every stored one under last-writer-wins,
	// even if our clock is behind the writer's.
	n.tsMu.Lock()
	n.lastTS = max(n.lastTS, newest)
	n.tsMu.Unlock()
	n.splitMu.Lock()
	defer n.splitMu.Unlock()
	for pid, r := range found {
		if cur := n.splits[pid]; cur == nil || r.state > cur.state {
			n.splits[pid] = r
		}
	}
	n.rebuildBloomLocked()
	return nil
}

// rebuildBloomLocked rebuilds the filter of published splits.
func (n *Namespace) rebuildBloomLocked() {
	count := 0
	for _, r := range n.splits {
		if r.state == statePublished {
			count++
		}
	}
	b := newBloom(count)
	for pid, r := range n.splits {
		if r.state == statePublished {
			b.add(pid)
		}
	}
	n.bloom = b
}

// bloom is a Bloom filter of partition ids: a read asks it before looking
// up split metadata, so unsplit partitions (nearly all) cost a few hashes.
type bloom struct {
	bits []uint64
	k    int
}

func newBloom(count int) *bloom {
	words := max(16, (count*10+63)/64) // ~10 bits per entry: ~1% false positives with k=7
	return &bloom{bits: make([]uint64, words), k: 7}
}

func (b *bloom) hashes(s string) (uint64, uint64) {
	x := fnv1a(s)
	return x, (x >> 33) | (x << 31) | 1
}

func (b *bloom) add(s string) {
	h1, h2 := b.hashes(s)
	m := uint64(len(b.bits) * 64)
	for i := range b.k {
		bit := (h1 + uint64(i)*h2) % m
		b.bits[bit/64] |= 1 << (bit % 64)
	}
}

func (b *bloom) has(s string) bool {
	h1, h2 := b.hashes(s)
	m := uint64(len(b.bits) * 64)
	for i := range b.k {
		bit := (h1 + uint64(i)*h2) % m
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}
