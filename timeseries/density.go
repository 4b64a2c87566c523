package timeseries

import (
	"context"
	"errors"
	"slices"
	"strconv"

	"github.com/edgekit/edgekit/kv"
)

// Density: writers count the bytes each (series, time bucket) receives per
// slice; a new slice sizes its event buckets so that the 99th percentile of
// those totals spread over the buckets meets TargetPartitionBytes (the
// partition-histogram re-partitioning of Netflix's TimeSeries). Totals are
// persisted in the slice's layout record so other processes and restarts
// see them.

// recordDensity adds bytes written for (series, tb) in the slice at start.
func (n *Namespace) recordDensity(start int64, series string, tb int64, bytes int64) {
	key := series + "\x00" + strconv.FormatInt(tb, 10)
	n.densMu.Lock()
	defer n.densMu.Unlock()
	m := n.dens[start]
	if m == nil {
		m = make(map[string]int64)
		n.dens[start] = m
	}
	m[key] += bytes
}

// p99 returns the 99th percentile of the values of m (0 if empty).
func p99(m map[string]int64) int64 {
	if len(m) == 0 {
		return 0
	}
	v := make([]int64, 0, len(m))
	for _, x := range m {
		v = append(v, x)
	}
	slices.Sort(v)
	return v[(len(v)-1)*99/100]
}

// pickBuckets chooses the event-bucket count of the new slice at start
// from the density of the slice before it.
func (n *Namespace) pickBuckets(ctx context.Context, start int64) int {
	prev := start - n.sliceU
	n.densMu.Lock()
	d := p99(n.dens[prev])
	n.densMu.Unlock()
	if d == 0 {
		res, err := n.store.Read(ctx, n.sliceName(prev), sliceMetaID, kv.Query{Keys: [][]byte{[]byte("density")}})
		if err == nil && len(res.Items) == 1 {
			d, _ = strconv.ParseInt(string(res.Items[0].Value), 10, 64)
		}
	}
	return bucketsFor(d, n.opts.TargetPartitionBytes, n.opts.EventBuckets, n.opts.MaxEventBuckets)
}

// bucketsFor maps the p99 bytes per series and time bucket to a bucket
// count: ceil(d / target) within [1, max], or def without data.
func bucketsFor(d, target int64, def, max int) int {
	if d <= 0 {
		return def
	}
	b := (d + target - 1) / target
	return int(min(max64(b, 1), int64(max)))
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// saveDensity writes each tracked slice's p99 into its layout record and
// forgets all but the two newest slices.
func (n *Namespace) saveDensity(ctx context.Context) error {
	n.densMu.Lock()
	type sd struct {
		start, p int64
	}
	var todo []sd
	for s, m := range n.dens {
		todo = append(todo, sd{s, p99(m)})
	}
	slices.SortFunc(todo, func(a, b sd) int { return int(max64(-1, min(1, b.start-a.start))) })
	for _, x := range todo[min(2, len(todo)):] {
		delete(n.dens, x.start)
	}
	n.densMu.Unlock()
	ts := n.opts.Now().UnixMicro()
	var errs []error
	for _, x := range todo {
		err := n.store.Apply(ctx, n.sliceName(x.start), sliceMetaID, []kv.Mutation{{
			Op: kv.OpPut, Key: []byte("density"), Value: []byte(strconv.FormatInt(x.p, 10)), Timestamp: ts,
		}})
		if err != nil && !errors.Is(err, kv.ErrNoNamespace) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
