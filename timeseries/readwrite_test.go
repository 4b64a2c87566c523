package timeseries_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/timeseries"
)

// TestReadAcrossSlicesAndBuckets writes events over three slices and reads
// ranges of them newest first in small pages, so pages end inside buckets
// and resume across bucket and slice boundaries.
func TestReadAcrossSlicesAndBuckets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store kv.Store) {
		rng := rand.New(rand.NewPCG(seed(t), 1))
		c := newClock()
		ns := open(t, store, "rw", testOpts(c))
		end := c.Now()
		evs := genEvents(rng, end, 3*time.Hour, 300)
		other := genEvents(rng, end, 3*time.Hour, 50) // another series must not leak in
		ctx := context.Background()
		for i := 0; i < len(evs); i += 37 {
			if err := ns.Write(ctx, "series/a", evs[i:min(i+37, len(evs))]...); err != nil {
				t.Fatal(err)
			}
		}
		if err := ns.Write(ctx, "series/b", other...); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name     string
			from, to time.Time
			limit    int
		}{
			{"all/page7", end.Add(-4 * time.Hour), end.Add(time.Second), 7},
			{"all/page1", end.Add(-4 * time.Hour), end.Add(time.Second), 1},
			{"all/page1000", end.Add(-4 * time.Hour), end.Add(time.Second), 1000},
			{"middle", end.Add(-130 * time.Minute), end.Add(-25 * time.Minute), 11},
			{"one-bucket", end.Add(-70 * time.Minute), end.Add(-61 * time.Minute), 3},
			{"empty", end.Add(-10 * time.Hour), end.Add(-9 * time.Hour), 5},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, pages := readAll(t, ns, "series/a", tc.from, tc.to, tc.limit)
				want := newestFirst(inRange(evs, tc.from, tc.to))
				sameEvents(t, tc.name, got, want)
				if len(want) > tc.limit && pages < 2 {
					t.Errorf("%d events in %d pages of %d", len(want), pages, tc.limit)
				}
			})
		}
		slices, err := ns.Slices(ctx)
		if err != nil || len(slices) < 3 {
			t.Errorf("Slices: got %v, %v; want at least 3", slices, err)
		}
	})
}

// TestIdempotentRewrite writes the same events again, whole and in part
// and in other batches: nothing is duplicated or changed.
func TestIdempotentRewrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store kv.Store) {
		rng := rand.New(rand.NewPCG(seed(t), 2))
		c := newClock()
		ns := open(t, store, "idem", testOpts(c))
		ctx := context.Background()
		evs := genEvents(rng, c.Now(), 90*time.Minute, 120)
		for round := range 3 {
			rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			n := len(evs)
			if round > 0 {
				n = 1 + rng.IntN(len(evs))
			}
			for i := 0; i < n; i += 13 {
				if err := ns.Write(ctx, "s", evs[i:min(i+13, n)]...); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := readAll(t, ns, "s", c.Now().Add(-2*time.Hour), c.Now().Add(time.Second), 50)
			sameEvents(t, "after round", got, newestFirst(evs))
		}
	})
}

// TestAcceptWindow refuses events outside the window with a *WindowError
// and writes nothing of the batch.
func TestAcceptWindow(t *testing.T) {
	c := newClock()
	o := testOpts(c)
	o.AcceptPast, o.AcceptFuture = 10*time.Minute, time.Minute
	ns := open(t, kvtestStore(), "window", o)
	ctx := context.Background()
	now := c.Now()
	ok := timeseries.Event{Time: now.Add(-5 * time.Minute), ID: "ok", Items: []timeseries.Item{{Key: "k", Value: []byte("v")}}}
	for _, tc := range []struct {
		name string
		at   time.Time
		want error
	}{
		{"inside-past", now.Add(-10 * time.Minute), nil},
		{"inside-future", now.Add(time.Minute), nil},
		{"too-old", now.Add(-10*time.Minute - time.Microsecond), timeseries.ErrOutsideWindow},
		{"too-new", now.Add(time.Minute + time.Microsecond), timeseries.ErrOutsideWindow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := timeseries.Event{Time: tc.at, ID: tc.name, Items: []timeseries.Item{{Key: "k", Value: []byte("v")}}}
			err := ns.Write(ctx, "w-"+tc.name, ok, e)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Write: got %v, want %v", err, tc.want)
			}
			got, _ := readAll(t, ns, "w-"+tc.name, now.Add(-time.Hour), now.Add(time.Hour), 10)
			wantN := 2
			if tc.want != nil {
				var we *timeseries.WindowError
				if !errors.As(err, &we) || !we.EventTime.Equal(tc.at) || !we.Now.Equal(now) {
					t.Errorf("error %v: want a *WindowError for %v at now %v", err, tc.at, now)
				}
				wantN = 0
			}
			if len(got) != wantN {
				t.Errorf("stored %d events, want %d (a refused batch writes nothing)", len(got), wantN)
			}
		})
	}
}

// TestInvalid covers argument checks.
func TestInvalid(t *testing.T) {
	c := newClock()
	ns := open(t, kvtestStore(), "inval", testOpts(c))
	ctx := context.Background()
	now := c.Now()
	item := []timeseries.Item{{Key: "k", Value: []byte("v")}}
	long := string(make([]byte, timeseries.MaxEventIDLen+1))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"empty-series", ns.Write(ctx, "", timeseries.Event{Time: now, ID: "x", Items: item})},
		{"empty-id", ns.Write(ctx, "s", timeseries.Event{Time: now, ID: "", Items: item})},
		{"long-id", ns.Write(ctx, "s", timeseries.Event{Time: now, ID: long, Items: item})},
		{"no-items", ns.Write(ctx, "s", timeseries.Event{Time: now, ID: "x"})},
		{"bad-series-utf8", ns.Write(ctx, "\xff", timeseries.Event{Time: now, ID: "x", Items: item})},
		{"empty-range", func() error { _, err := ns.Read(ctx, "s", now, now, nil); return err }()},
		{"limit", func() error {
			_, err := ns.Read(ctx, "s", now.Add(-time.Hour), now, &timeseries.ReadOptions{Limit: timeseries.MaxPageEvents + 1})
			return err
		}()},
	} {
		if !errors.Is(tc.err, timeseries.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", tc.name, tc.err)
		}
	}
	for _, name := range []string{"", "Upper", "a-b", "a_very_long_namespace_name_x"} {
		if _, err := timeseries.Open(ctx, kvtestStore(), name, nil); !errors.Is(err, timeseries.ErrInvalid) {
			t.Errorf("Open(%q): got %v, want ErrInvalid", name, err)
		}
	}
}

// TestBadPageToken: tokens of another query, or damaged, are ErrBadToken.
func TestBadPageToken(t *testing.T) {
	c := newClock()
	ns := open(t, kvtestStore(), "tok", testOpts(c))
	ctx := context.Background()
	now := c.Now()
	evs := genEvents(rand.New(rand.NewPCG(1, 1)), now, time.Hour, 30)
	if err := ns.Write(ctx, "s", evs...); err != nil {
		t.Fatal(err)
	}
	from, to := now.Add(-2*time.Hour), now.Add(time.Second)
	p, err := ns.Read(ctx, "s", from, to, &timeseries.ReadOptions{Limit: 5})
	if err != nil || p.Next == nil {
		t.Fatalf("first page: %v, next %x", err, p.Next)
	}
	flipped := append([]byte(nil), p.Next...)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name          string
		series        string
		from, to      time.Time
		token         []byte
		search, valid bool
	}{
		{"same", "s", from, to, p.Next, false, true},
		{"other-series", "t", from, to, p.Next, false, false},
		{"other-range", "s", from.Add(time.Second), to, p.Next, false, false},
		{"search", "s", from, to, p.Next, true, false},
		{"flipped", "s", from, to, flipped, false, false},
		{"truncated", "s", from, to, p.Next[:len(p.Next)-1], false, false},
		{"garbage", "s", from, to, []byte("hello"), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := &timeseries.ReadOptions{Limit: 5, PageToken: tc.token}
			var err error
			if tc.search {
				_, err = ns.Search(ctx, tc.series, tc.from, tc.to, func(string, []byte) bool { return true }, opts)
			} else {
				_, err = ns.Read(ctx, tc.series, tc.from, tc.to, opts)
			}
			if tc.valid != (err == nil) || (!tc.valid && !errors.Is(err, timeseries.ErrBadToken)) {
				t.Errorf("got %v, want valid=%v (else ErrBadToken)", err, tc.valid)
			}
		})
	}
}

// TestLongRangeSkipsEmptySlices: a range reaching back years returns the
// same events, without probing every empty bucket (the store is asked
// only a handful of times).
func TestLongRangeSkipsEmptySlices(t *testing.T) {
	c := newClock()
	store := &countingStore{Store: kvtestStore()}
	ns := open(t, store, "longr", testOpts(c))
	ctx := context.Background()
	evs := genEvents(rand.New(rand.NewPCG(9, 9)), c.Now(), 3*time.Hour, 50)
	if err := ns.Write(ctx, "s", evs...); err != nil {
		t.Fatal(err)
	}
	store.reset()
	got, _ := readAll(t, ns, "s", time.Unix(0, 0), c.Now().Add(time.Hour), 1000)
	sameEvents(t, "long range", got, newestFirst(evs))
	reads := 0
	for _, n := range store.reset() {
		reads += n
	}
	if reads > 200 {
		t.Errorf("%d kv reads for 4 slices of data over 56 years; empty slices should be skipped", reads)
	}
}

// TestWriteFaultRetry: a Write that dies part-way (the store refuses
// Applies after a random budget) leaves some partitions written; retrying
// the same Write completes it with no event lost or doubled.
func TestWriteFaultRetry(t *testing.T) {
	for _, b := range backends()[:2] {
		t.Run(b.name, func(t *testing.T) {
			base := seed(t)
			for trial := range 10 {
				s := base + uint64(trial)
				rng := rand.New(rand.NewPCG(s, 11))
				c := newClock()
				fault := kvtest.NewFaultStore(b.open(t))
				ns := open(t, fault, "wfault"+strconv.Itoa(trial), testOpts(c))
				evs := genEvents(rng, c.Now(), 3*time.Hour, 200)
				budget := rng.IntN(20)
				fault.FailAfter(budget)
				err := ns.Write(context.Background(), "s", evs...)
				if err != nil && !errors.Is(err, kvtest.ErrInjected) {
					t.Fatalf("seed %d: Write: %v", s, err)
				}
				fault.FailAfter(-1)
				if err := ns.Write(context.Background(), "s", evs...); err != nil {
					t.Fatalf("seed %d: retry: %v", s, err)
				}
				got, _ := readAll(t, ns, "s", c.Now().Add(-4*time.Hour), c.Now().Add(time.Second), 64)
				sameEvents(t, fmt.Sprintf("seed %d budget %d", s, budget), got, newestFirst(evs))
			}
		})
	}
}

// TestPartialAtContextDeadline: with ReadOptions.Partial, the caller's own
// deadline returns what was gathered instead of an error.
func TestPartialAtContextDeadline(t *testing.T) {
	c := newClock()
	inner := kvtestStore()
	w := open(t, inner, "ctxdl", testOpts(c))
	evs := genEvents(rand.New(rand.NewPCG(5, 5)), c.Now(), time.Hour, 100)
	if err := w.Write(context.Background(), "s", evs...); err != nil {
		t.Fatal(err)
	}
	ns := open(t, slowStore{inner, 20 * time.Millisecond}, "ctxdl", testOpts(c))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	p, err := ns.Read(ctx, "s", c.Now().Add(-2*time.Hour), c.Now().Add(time.Second), &timeseries.ReadOptions{Limit: 1000, Partial: true})
	if err != nil || !p.Partial || p.Next == nil {
		t.Fatalf("got %v, partial=%v; want a partial page", err, p != nil && p.Partial)
	}
	sameEvents(t, "prefix", p.Events, newestFirst(evs)[:len(p.Events)])
}

// applyCounter counts Apply calls and their largest batch.
type applyCounter struct {
	kv.Store
	mu       sync.Mutex // guards calls, maxItems
	calls    int
	maxItems int
}

func (a *applyCounter) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	a.mu.Lock()
	a.calls++
	a.maxItems = max(a.maxItems, len(muts))
	a.mu.Unlock()
	return a.Store.Apply(ctx, ns, id, muts)
}

// TestWriteBatchesByPartition: one Apply per partition, cut at
// MaxApplyItems without splitting an event.
func TestWriteBatchesByPartition(t *testing.T) {
	c := newClock()
	store := &applyCounter{Store: kvtestStore()}
	o := testOpts(c)
	o.EventBuckets, o.MaxApplyItems = 1, 100
	ns := open(t, store, "batching", o)
	warm := ev(c.Now().Add(-time.Minute), "warm", "a", "1") // creates the slice
	if err := ns.Write(context.Background(), "s", warm); err != nil {
		t.Fatal(err)
	}
	evs := []timeseries.Event{warm}
	var batch []timeseries.Event
	for i := range 150 { // 3 items each: 450 items in one partition
		batch = append(batch, ev(c.Now().Add(-time.Minute-time.Duration(i+1)*time.Millisecond), fmt.Sprint(i), "a", "1", "b", "2", "c", "3"))
	}
	evs = append(evs, batch...)
	store.mu.Lock()
	store.calls, store.maxItems = 0, 0
	store.mu.Unlock()
	if err := ns.Write(context.Background(), "s", batch...); err != nil {
		t.Fatal(err)
	}
	store.mu.Lock()
	calls, maxItems := store.calls, store.maxItems
	store.mu.Unlock()
	// 450 items in cuts of 100 rounded up to whole events (102): 5 Applies.
	if calls != 5 || maxItems != 102 {
		t.Errorf("got %d Applies of at most %d items; want 5 of at most 102", calls, maxItems)
	}
	got, _ := readAll(t, ns, "s", c.Now().Add(-time.Hour), c.Now().Add(time.Second), 1000)
	sameEvents(t, "batched", got, newestFirst(evs))
}

// TestDuplicateInOneWrite: the same event twice in one Write (a caller's
// retry buffer replayed into one batch) is stored once.
func TestDuplicateInOneWrite(t *testing.T) {
	forEachBackend(t, func(t *testing.T, store kv.Store) {
		c := newClock()
		ns := open(t, store, "dup", testOpts(c))
		e := ev(c.Now().Add(-time.Minute), "same", "k", "v", "j", "w")
		if err := ns.Write(context.Background(), "s", e, e, e); err != nil {
			t.Fatal(err)
		}
		got, _ := readAll(t, ns, "s", c.Now().Add(-time.Hour), c.Now(), 10)
		sameEvents(t, "duplicates", got, []timeseries.Event{e})
	})
}
