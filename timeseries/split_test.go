package timeseries_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/timeseries"
)

// splitOpts put every event of a time bucket in one partition and call a
// partition wide past 4 KiB, so a few hundred events make one.
func splitOpts(c *clock) *timeseries.Options {
	o := testOpts(c)
	o.EventBuckets = 1
	o.WideBytes = 4 << 10
	o.MaxSplitBuckets = 8
	return o
}

// wideEvents makes count events inside one time bucket (the one holding
// at), plus a few in neighbouring buckets.
func wideEvents(rng *rand.Rand, at time.Time, count int) []timeseries.Event {
	bucket := at.Truncate(10 * time.Minute)
	evs := genEvents(rng, bucket.Add(10*time.Minute-time.Microsecond), 10*time.Minute-time.Microsecond, count)
	for i, e := range genEvents(rng, bucket.Add(30*time.Minute), time.Hour, count/10) {
		e.ID = fmt.Sprintf("other-%d", i)
		evs = append(evs, e)
	}
	return evs
}

// countingStore records the record ids read.
type countingStore struct {
	kv.Store
	mu  sync.Mutex // guards ids
	ids map[string]int
}

func (c *countingStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	c.mu.Lock()
	if c.ids == nil {
		c.ids = map[string]int{}
	}
	c.ids[id]++
	c.mu.Unlock()
	return c.Store.Read(ctx, ns, id, q)
}

func (c *countingStore) reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := c.ids
	c.ids = nil
	return ids
}

// TestSplitWidePartition: a read of a wide partition records a split
// request; RunSplits copies, verifies and publishes it; reads then go to
// the sub-buckets and return exactly the same events, also after reopening.
func TestSplitWidePartition(t *testing.T) {
	forEachBackend(t, func(t *testing.T, inner kv.Store) {
		rng := rand.New(rand.NewPCG(seed(t), 3))
		c := newClock()
		store := &countingStore{Store: inner}
		ns := open(t, store, "split", splitOpts(c))
		ctx := context.Background()
		evs := wideEvents(rng, c.Now().Add(-30*time.Minute), 400)
		if err := ns.Write(ctx, "wide", evs...); err != nil {
			t.Fatal(err)
		}
		from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
		want := newestFirst(evs)
		got, _ := readAll(t, ns, "wide", from, to, 50)
		sameEvents(t, "before split", got, want)
		if st := ns.Stats(); st.SplitRequests != 1 {
			t.Fatalf("SplitRequests = %d, want 1", st.SplitRequests)
		}
		published, err := ns.RunSplits(ctx)
		if err != nil || published != 1 {
			t.Fatalf("RunSplits = %d, %v; want 1, nil", published, err)
		}
		store.reset()
		got, _ = readAll(t, ns, "wide", from, to, 50)
		sameEvents(t, "after split", got, want)
		sub := 0
		for id := range store.reset() {
			if f := strings.SplitN(id, "/", 4); f[0] == "1" && strings.Count(f[2], ".") == 3 {
				sub++
			}
		}
		if sub < 2 {
			t.Errorf("reads after the split touched %d sub-bucket records, want >= 2", sub)
		}
		if again, err := ns.RunSplits(ctx); err != nil || again != 0 {
			t.Errorf("second RunSplits = %d, %v; want 0", again, err)
		}
		// A new handle learns the split from kv and routes the same way.
		ns2 := open(t, store, "split", splitOpts(c))
		got, _ = readAll(t, ns2, "wide", from, to, 33)
		sameEvents(t, "reopened", got, want)
		// Writes after the split reach the new layout (and the original).
		late := timeseries.Event{Time: evs[0].Time.Add(time.Microsecond), ID: "late", Items: []timeseries.Item{{Key: "k", Value: []byte("v")}}}
		if err := ns2.Write(ctx, "wide", late); err != nil {
			t.Fatal(err)
		}
		got, _ = readAll(t, ns, "wide", from, to, 50)
		sameEvents(t, "after late write", got, newestFirst(append(evs, late)))
	})
}

// TestSplitCrash kills the splitter after a random number of kv writes
// (a kvtest.FaultStore refuses every Apply past its budget), then reopens
// and resumes: the split completes or aborts cleanly, and reads during and
// after never lose or duplicate an event.
func TestSplitCrash(t *testing.T) {
	forEachTrial(t, map[string]int{"mem": 40, "local": 8}, func(t *testing.T, store kv.Store, s uint64) {
		splitCrashTrial(t, store, s)
	})
}

func splitCrashTrial(t *testing.T, inner kv.Store, s uint64) {
	rng := rand.New(rand.NewPCG(s, 4))
	c := newClock()
	ctx := context.Background()
	o := splitOpts(c)
	ns1, err := timeseries.Open(ctx, inner, "crash", o)
	if err != nil {
		t.Fatal(err)
	}
	evs := wideEvents(rng, c.Now().Add(-30*time.Minute), 600+rng.IntN(600))
	if err := ns1.Write(ctx, "wide", evs...); err != nil {
		t.Fatal(err)
	}
	from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
	want := newestFirst(evs)
	got, _ := readAll(t, ns1, "wide", from, to, 100) // records the request
	sameEvents(t, "before", got, want)
	ns1.Close()

	fault := kvtest.NewFaultStore(inner)
	ns2, err := timeseries.Open(ctx, fault, "crash", o)
	if err != nil {
		t.Fatal(err)
	}
	budget := rng.IntN(12)
	fault.FailAfter(budget)
	_, runErr := ns2.RunSplits(ctx)
	if runErr != nil && !errors.Is(runErr, kvtest.ErrInjected) {
		t.Fatalf("budget %d: RunSplits: %v", budget, runErr)
	}
	got, _ = readAll(t, ns2, "wide", from, to, 70) // reads work mid-split
	sameEvents(t, fmt.Sprintf("after crash at budget %d", budget), got, want)
	ns2.Close() // the "crash": this handle's memory is gone

	ns3, err := timeseries.Open(ctx, inner, "crash", o)
	if err != nil {
		t.Fatal(err)
	}
	defer ns3.Close()
	if _, err := ns3.RunSplits(ctx); err != nil {
		t.Fatalf("resume: %v", err)
	}
	got, _ = readAll(t, ns3, "wide", from, to, 70)
	sameEvents(t, "after resume", got, want)
	if st2, st3 := ns2.Stats(), ns3.Stats(); st2.SplitsPublished+st3.SplitsPublished != 1 || st3.SplitsAborted != 0 {
		t.Errorf("budget %d: published %d+%d, aborted %d; want exactly one publication", budget,
			st2.SplitsPublished, st3.SplitsPublished, st3.SplitsAborted)
	}
	if n, err := ns3.RunSplits(ctx); n != 0 || err != nil {
		t.Errorf("nothing should be left to split: %d, %v", n, err)
	}
}

// TestSplitConcurrentWrites writes into the partition while it is being
// split and reads it meanwhile: no write is lost, no event duplicated.
func TestSplitConcurrentWrites(t *testing.T) {
	for _, b := range backends()[:2] {
		t.Run(b.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed(t), 5))
			c := newClock()
			ctx := context.Background()
			ns := open(t, b.open(t), "conc", splitOpts(c))
			at := c.Now().Add(-30 * time.Minute)
			evs := wideEvents(rng, at, 1500)
			if err := ns.Write(ctx, "wide", evs...); err != nil {
				t.Fatal(err)
			}
			from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
			readAll(t, ns, "wide", from, to, 200) // request the split

			var (
				mu      sync.Mutex // guards written
				written = append([]timeseries.Event(nil), evs...)
				stop    atomic.Bool
				wg      sync.WaitGroup
				errs    = make(chan error, 2)
			)
			wg.Add(2)
			go func() { // writer into the partition being split
				defer wg.Done()
				bucket := at.Truncate(10 * time.Minute)
				for i := 0; !stop.Load(); i++ {
					e := timeseries.Event{Time: bucket.Add(time.Duration(i%600) * time.Second), ID: fmt.Sprintf("during-%d", i),
						Items: []timeseries.Item{{Key: "k", Value: []byte("during")}}}
					if err := ns.Write(ctx, "wide", e); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					written = append(written, e)
					mu.Unlock()
				}
			}()
			go func() { // reader: sees at least what was written before it began, never twice
				defer wg.Done()
				for !stop.Load() {
					mu.Lock()
					before := len(written)
					mu.Unlock()
					p, err := ns.Read(ctx, "wide", from, to, &timeseries.ReadOptions{Limit: timeseries.MaxPageEvents})
					if err != nil {
						errs <- err
						return
					}
					seen := map[string]bool{}
					for _, e := range p.Events {
						if seen[e.ID] {
							errs <- fmt.Errorf("event %s read twice", e.ID)
							return
						}
						seen[e.ID] = true
					}
					if len(p.Events) < before && p.Next == nil {
						errs <- fmt.Errorf("read %d events, %d were written before the read", len(p.Events), before)
						return
					}
				}
			}()
			n, err := ns.RunSplits(ctx)
			stop.Store(true)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if err != nil || n != 1 {
				t.Fatalf("RunSplits = %d, %v; want 1", n, err)
			}
			got, _ := readAll(t, ns, "wide", from, to, 500)
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d events written during the split", len(written)-len(evs))
			sameEvents(t, "after concurrent split", got, newestFirst(written))
		})
	}
}

// TestBackgroundSplitter: with the background goroutine on, a read that
// finds a wide partition wakes the splitter, which publishes on its own;
// Close stops the goroutine.
func TestBackgroundSplitter(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c := newClock()
	ctx := context.Background()
	o := splitOpts(c)
	o.NoBackground = false
	ns, err := timeseries.Open(ctx, kvtest.NewMemStore(), "bgsplit", o)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	evs := wideEvents(rand.New(rand.NewPCG(seed(t), 10)), c.Now().Add(-30*time.Minute), 400)
	if err := ns.Write(ctx, "wide", evs...); err != nil {
		t.Fatal(err)
	}
	from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
	readAll(t, ns, "wide", from, to, 50)
	for deadline := time.Now().Add(30 * time.Second); ns.Stats().SplitsPublished == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("background splitter never published: %+v", ns.Stats())
		}
	}
	got, _ := readAll(t, ns, "wide", from, to, 50)
	sameEvents(t, "after background split", got, newestFirst(evs))
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestImmutableSplitsOnly: with the option, a partition still inside the
// accept window waits; once its bucket has left the window it is split.
func TestImmutableSplitsOnly(t *testing.T) {
	c := newClock()
	ctx := context.Background()
	o := splitOpts(c)
	o.AcceptPast, o.ImmutableSplitsOnly = 20*time.Minute, true
	ns := open(t, kvtest.NewMemStore(), "immut", o)
	bucket := c.Now().Truncate(10 * time.Minute) // the bucket holding now
	var evs []timeseries.Event
	for i := range 300 {
		evs = append(evs, ev(bucket.Add(time.Duration(i)*time.Second), fmt.Sprint(i), "k", "some value to make it wide"))
	}
	c.Set(bucket.Add(9 * time.Minute))
	if err := ns.Write(ctx, "s", evs...); err != nil {
		t.Fatal(err)
	}
	readAll(t, ns, "s", bucket, bucket.Add(10*time.Minute), 50)
	if n, err := ns.RunSplits(ctx); n != 0 || err != nil {
		t.Fatalf("split of a writable bucket: %d, %v; want 0", n, err)
	}
	c.Set(bucket.Add(30*time.Minute + time.Second)) // bucket end + AcceptPast has passed
	if n, err := ns.RunSplits(ctx); n != 1 || err != nil {
		t.Fatalf("split after the window: %d, %v; want 1", n, err)
	}
	got, _ := readAll(t, ns, "s", bucket, bucket.Add(10*time.Minute), 50)
	sameEvents(t, "after immutable split", got, newestFirst(evs))
}
