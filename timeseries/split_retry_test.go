package timeseries_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/timeseries"
)

// isSubBucket reports whether a record id is a sub-bucket of a split
// ("1/<tb>/<eb>.<n>.<j>.<m>/<series>").
func isSubBucket(id string) bool {
	f := strings.SplitN(id, "/", 4)
	return len(f) == 4 && f[0] == "1" && strings.Count(f[2], ".") == 3
}

// splitFaults wraps a store and, while armed, makes the splitter's kv calls
// misbehave: failReads fails that many reads of partitions, dropCopies
// acknowledges writes to sub-buckets without storing them (a lost write the
// checksum must catch).
type splitFaults struct {
	kv.Store
	failReads  atomic.Int32
	dropCopies atomic.Bool
	dropped    atomic.Int32
}

var errReadFault = errors.New("injected read fault")

func (f *splitFaults) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if strings.HasPrefix(id, "1/") && f.failReads.Add(-1) >= 0 {
		return kv.Result{}, errReadFault
	}
	return f.Store.Read(ctx, ns, id, q)
}

func (f *splitFaults) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	if f.dropCopies.Load() && isSubBucket(id) {
		f.dropped.Add(1)
		return nil
	}
	return f.Store.Apply(ctx, ns, id, muts)
}

// logRecords is a slog.Handler that keeps records.
type logRecords struct {
	mu   sync.Mutex // guards recs
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// count returns how many records at level have a message containing msg.
func (l *logRecords) count(level slog.Level, msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.recs {
		if r.Level == level && strings.Contains(r.Message, msg) {
			n++
		}
	}
	return n
}

// TestSplitRetry: a split whose first attempt fails — a kv read error, a
// kv write error, or a copy that loses writes so its checksum disagrees —
// is not published, is logged and counted, waits out its backoff (also
// across a restart), and a later RunSplits publishes it exactly once, with
// reads returning exactly the events written before, during and after.
func TestSplitRetry(t *testing.T) {
	for _, b := range backends()[:2] {
		for _, fault := range []string{"read error", "apply error", "checksum mismatch"} {
			t.Run(b.name+"/"+fault, func(t *testing.T) { splitRetryCase(t, b.open(t), fault) })
		}
	}
}

func splitRetryCase(t *testing.T, inner kv.Store, fault string) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed(t), 12))
	c := newClock()
	logs := &logRecords{}
	o := splitOpts(c)
	o.Logger = slog.New(logs)
	faults := &splitFaults{Store: inner}
	applyFaults := kvtest.NewFaultStore(faults)
	ns := open(t, applyFaults, "retry", o)
	evs := wideEvents(rng, c.Now().Add(-30*time.Minute), 500)
	if err := ns.Write(ctx, "wide", evs...); err != nil {
		t.Fatal(err)
	}
	from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
	readAll(t, ns, "wide", from, to, 100) // requests the split

	switch fault {
	case "read error":
		faults.failReads.Store(1)
	case "apply error":
		applyFaults.FailAfter(2) // the copying mark and one page, then nothing
	case "checksum mismatch":
		faults.dropCopies.Store(true)
	}
	n, err := ns.RunSplits(ctx)
	applyFaults.FailAfter(-1)
	faults.failReads.Store(0)
	faults.dropCopies.Store(false)
	var se *timeseries.SplitError
	if n != 0 || !errors.As(err, &se) {
		t.Fatalf("faulty RunSplits = %d, %v; want 0 and a *SplitError", n, err)
	}
	wantRetry := c.Now().Add(timeseries.DefaultSplitInterval)
	if se.Attempt != 1 || !se.RetryAt.Equal(wantRetry) {
		t.Errorf("SplitError attempt %d retry %v; want 1, %v", se.Attempt, se.RetryAt, wantRetry)
	}
	if fault == "checksum mismatch" && (!errors.Is(err, timeseries.ErrSplitMismatch) || faults.dropped.Load() == 0) {
		t.Errorf("mismatch case: err %v, %d copies dropped; want ErrSplitMismatch", err, faults.dropped.Load())
	}
	if st := ns.Stats(); st.SplitsPublished != 0 || st.SplitRetries != 1 || st.SplitsAborted != 0 {
		t.Errorf("after the failed attempt: %+v; want 0 published, 1 retry, 0 aborted", st)
	}
	if got := logs.count(slog.LevelWarn, "split attempt failed"); got != 1 {
		t.Errorf("%d warnings about the failed attempt, want 1", got)
	}

	// Events written between the attempts go to both layouts.
	mid := wideEvents(rng, c.Now().Add(-30*time.Minute), 40)
	for i := range mid {
		mid[i].ID = fmt.Sprintf("mid-%d", i)
	}
	if err := ns.Write(ctx, "wide", mid...); err != nil {
		t.Fatal(err)
	}
	want := newestFirst(append(append([]timeseries.Event(nil), evs...), mid...))
	got, _ := readAll(t, ns, "wide", from, to, 64)
	sameEvents(t, "between attempts", got, want)

	// Within the backoff nothing runs, here or in a restarted process
	// (when the failure record could be written).
	if n, err := ns.RunSplits(ctx); n != 0 || err != nil {
		t.Fatalf("RunSplits within the backoff = %d, %v; want 0, nil", n, err)
	}
	ns.Close()
	ns = open(t, inner, "retry", o)
	if fault != "apply error" {
		if n, err := ns.RunSplits(ctx); n != 0 || err != nil {
			t.Fatalf("restarted RunSplits within the backoff = %d, %v; want 0, nil", n, err)
		}
	}
	c.Add(timeseries.DefaultSplitInterval)
	if n, err := ns.RunSplits(ctx); n != 1 || err != nil {
		t.Fatalf("RunSplits after the backoff = %d, %v; want 1, nil", n, err)
	}
	if n, err := ns.RunSplits(ctx); n != 0 || err != nil {
		t.Fatalf("RunSplits after publication = %d, %v; want 0, nil", n, err)
	}
	if st := ns.Stats(); st.SplitsPublished != 1 || st.SplitsAborted != 0 {
		t.Errorf("after the retry: %+v; want exactly one publication", st)
	}
	counted := &countingStore{Store: inner}
	got, _ = readAll(t, open(t, counted, "retry", o), "wide", from, to, 64)
	sameEvents(t, "after the retried split", got, want)
	sub := 0
	for id := range counted.reset() {
		if isSubBucket(id) {
			sub++
		}
	}
	if sub < 2 {
		t.Errorf("reads after the split touched %d sub-buckets, want >= 2", sub)
	}
}

// TestSplitGivesUp: a split whose copy never verifies is retried with a
// doubling backoff, never published, and aborted after MaxSplitAttempts;
// reads stay exact throughout, and the aborted split is not run again.
func TestSplitGivesUp(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	logs := &logRecords{}
	o := splitOpts(c)
	o.Logger = slog.New(logs)
	o.MaxSplitAttempts = 3
	o.SplitInterval = time.Minute
	faults := &splitFaults{Store: kvtestStore()}
	faults.dropCopies.Store(true)
	ns := open(t, faults, "giveup", o)
	evs := wideEvents(rand.New(rand.NewPCG(seed(t), 13)), c.Now().Add(-30*time.Minute), 400)
	if err := ns.Write(ctx, "wide", evs...); err != nil {
		t.Fatal(err)
	}
	from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
	want := newestFirst(evs)
	readAll(t, ns, "wide", from, to, 100)
	for attempt, backoff := range []time.Duration{time.Minute, 2 * time.Minute, 0} {
		n, err := ns.RunSplits(ctx)
		var se *timeseries.SplitError
		if n != 0 || !errors.As(err, &se) || !errors.Is(err, timeseries.ErrSplitMismatch) {
			t.Fatalf("attempt %d: RunSplits = %d, %v; want 0 and a mismatch", attempt+1, n, err)
		}
		wantAt := time.Time{}
		if backoff > 0 {
			wantAt = c.Now().Add(backoff)
		}
		if se.Attempt != attempt+1 || !se.RetryAt.Equal(wantAt) {
			t.Errorf("attempt %d: got attempt %d retry %v; want retry %v", attempt+1, se.Attempt, se.RetryAt, wantAt)
		}
		got, _ := readAll(t, ns, "wide", from, to, 77)
		sameEvents(t, fmt.Sprintf("after attempt %d", attempt+1), got, want)
		c.Add(backoff + time.Second)
	}
	if st := ns.Stats(); st.SplitsPublished != 0 || st.SplitRetries != 2 || st.SplitsAborted != 1 {
		t.Errorf("stats %+v; want 0 published, 2 retries, 1 aborted", st)
	}
	if got := logs.count(slog.LevelError, "split given up"); got != 1 {
		t.Errorf("%d errors logged about giving up, want 1", got)
	}
	c.Add(24 * time.Hour)
	faults.dropCopies.Store(false)
	if n, err := ns.RunSplits(ctx); n != 0 || err != nil {
		t.Errorf("RunSplits after abort = %d, %v; want 0, nil", n, err)
	}
	// The abort is durable: a new process does not try again either.
	if n, err := open(t, faults, "giveup", o).RunSplits(ctx); n != 0 || err != nil {
		t.Errorf("restarted RunSplits after abort = %d, %v; want 0, nil", n, err)
	}
}

// TestSplitCancelIsNotAFailure: a RunSplits whose context ends mid-copy
// counts no failed attempt; the next call resumes and publishes.
func TestSplitCancelIsNotAFailure(t *testing.T) {
	c := newClock()
	o := splitOpts(c)
	store := &cancelOnCopy{Store: kvtestStore()}
	ns := open(t, store, "cancel", o)
	evs := wideEvents(rand.New(rand.NewPCG(seed(t), 14)), c.Now().Add(-30*time.Minute), 1200)
	ctx := context.Background()
	if err := ns.Write(ctx, "wide", evs...); err != nil {
		t.Fatal(err)
	}
	from, to := c.Now().Add(-3*time.Hour), c.Now().Add(time.Hour)
	readAll(t, ns, "wide", from, to, 100)
	cctx, cancel := context.WithCancel(ctx)
	store.cancel.Store(&cancel)
	n, err := ns.RunSplits(cctx)
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled RunSplits = %d, %v; want 0, context.Canceled", n, err)
	}
	var se *timeseries.SplitError
	if errors.As(err, &se) || ns.Stats().SplitRetries != 0 {
		t.Errorf("a cancellation counted as a failed attempt: %v, %+v", err, ns.Stats())
	}
	if n, err := ns.RunSplits(ctx); n != 1 || err != nil {
		t.Fatalf("resumed RunSplits = %d, %v; want 1, nil", n, err)
	}
	got, _ := readAll(t, ns, "wide", from, to, 100)
	sameEvents(t, "after the resumed split", got, newestFirst(evs))
}

// cancelOnCopy cancels a context (once) right after the first write of a
// sub-bucket, as a Close or deadline would mid-copy.
type cancelOnCopy struct {
	kv.Store
	cancel atomic.Pointer[context.CancelFunc]
}

func (s *cancelOnCopy) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	err := s.Store.Apply(ctx, ns, id, muts)
	if isSubBucket(id) {
		if f := s.cancel.Swap(nil); f != nil {
			(*f)()
		}
	}
	return err
}
