package timeseries_test

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/timeseries"
)

// Record segment publications of a live stream and read them back newest
// first, a page at a time.
func Example() {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts, err := timeseries.Open(ctx, kvtest.NewMemStore(), "origin", &timeseries.Options{
		Now:          func() time.Time { return now },
		NoBackground: true,
	})
	if err != nil {
		panic(err)
	}
	defer ts.Close()

	for seg := 1; seg <= 5; seg++ {
		err := ts.Write(ctx, "live/ch1", timeseries.Event{
			Time:  now.Add(time.Duration(seg-6) * 2 * time.Second),
			ID:    "seg-" + strconv.Itoa(seg),
			Items: []timeseries.Item{{Key: "bytes", Value: []byte(strconv.Itoa(180000 + seg))}},
		})
		if err != nil {
			panic(err)
		}
	}
	opts := &timeseries.ReadOptions{Limit: 2}
	for page := 1; ; page++ {
		p, err := ts.Read(ctx, "live/ch1", now.Add(-time.Minute), now, opts)
		if err != nil {
			panic(err)
		}
		for _, e := range p.Events {
			v, _ := e.Item("bytes")
			fmt.Printf("page %d: %s %s %s\n", page, e.Time.UTC().Format("15:04:05"), e.ID, v)
		}
		if p.Next == nil {
			break
		}
		opts.PageToken = p.Next
	}
	// Output:
	// page 1: 11:59:58 seg-5 180005
	// page 1: 11:59:56 seg-4 180004
	// page 2: 11:59:54 seg-3 180003
	// page 2: 11:59:52 seg-2 180002
	// page 3: 11:59:50 seg-1 180001
}

// A distributed-counter rollup: every increment is an event whose id is
// its idempotency token, so a retried increment counts once; Aggregate
// sums the deltas per minute.
func ExampleNamespace_Aggregate() {
	ctx := context.Background()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts, err := timeseries.Open(ctx, kvtest.NewMemStore(), "counters", &timeseries.Options{
		Now: func() time.Time { return now }, NoBackground: true,
	})
	if err != nil {
		panic(err)
	}
	defer ts.Close()
	add := func(at time.Duration, token string, delta int) {
		e := timeseries.Event{Time: now.Add(-at), ID: token,
			Items: []timeseries.Item{{Key: "delta", Value: []byte(strconv.Itoa(delta))}}}
		if err := ts.Write(ctx, "views:movie42", e); err != nil {
			panic(err)
		}
	}
	add(150*time.Second, "tok-a", 1)
	add(140*time.Second, "tok-b", 5)
	add(140*time.Second, "tok-b", 5) // retry: same token, counted once
	add(30*time.Second, "tok-c", -2)
	windows, err := ts.Aggregate(ctx, "views:movie42", now.Add(-5*time.Minute), now, time.Minute, timeseries.ItemInt("delta"))
	if err != nil {
		panic(err)
	}
	for _, w := range windows {
		fmt.Printf("%s count=%d sum=%d min=%d max=%d\n", w.Start.Format("15:04"), w.Count, w.Sum, w.Min, w.Max)
	}
	// Output:
	// 11:57 count=2 sum=6 min=1 max=5
	// 11:59 count=1 sum=-2 min=-2 max=-2
}
