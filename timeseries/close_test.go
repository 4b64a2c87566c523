package timeseries_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/timeseries"
)

// TestCloseRacesWrites: writers keep writing to a Coalesce namespace while
// Close runs. Every Write that returned nil must be in the store once Close
// has returned (Close flushes it, or a flush it waited for did), none may
// be counted as dropped, and every Write begun after Close returned must
// fail with ErrClosed. The seed picks the writer count, when Close comes,
// and whether inline (small BufferBytes) and background flushes race it.
func TestCloseRacesWrites(t *testing.T) {
	forEachTrial(t, map[string]int{"mem": 20, "local": 5}, func(t *testing.T, store kv.Store, seed uint64) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(seed, 21))
		c := newClock()
		o := testOpts(c)
		o.Coalesce = time.Second
		inline, background := rng.IntN(2) == 0, rng.IntN(2) == 0
		if inline {
			o.BufferBytes = 200 + rng.IntN(2000) // Writes flush inline while Close runs
		}
		if background {
			o.NoBackground, o.Coalesce = false, time.Millisecond // and so does the goroutine
		}
		ns, err := timeseries.Open(ctx, store, "closerace", o)
		if err != nil {
			t.Fatal(err)
		}
		writers, closeAfter := 2+rng.IntN(6), int64(rng.IntN(300))
		t.Logf("writers %d, Close after %d acknowledged Writes, inline flushes %v, background %v",
			writers, closeAfter, inline, background)

		var (
			acks      atomic.Int64 // Writes that returned nil
			closeDone atomic.Bool  // Close has returned
			mu        sync.Mutex   // guards acked
			acked     []string     // ids of events whose Write returned nil
			wg        sync.WaitGroup
		)
		for w := range writers {
			wr := rand.New(rand.NewPCG(seed, uint64(w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for seq := 0; ; seq++ {
					evs := make([]timeseries.Event, 1+wr.IntN(4))
					for i := range evs {
						at := c.Now().Add(-time.Duration(wr.Int64N(int64(2 * time.Hour)))).Truncate(time.Microsecond)
						evs[i] = ev(at, fmt.Sprintf("w%d-%d-%d", w, seq, i), "k", "v")
					}
					after := closeDone.Load()
					err := ns.Write(ctx, "s", evs...)
					switch {
					case err == nil && after:
						t.Errorf("writer %d: Write begun after Close returned nil, want ErrClosed", w)
						return
					case err == nil:
						mu.Lock()
						for _, e := range evs {
							acked = append(acked, e.ID)
						}
						mu.Unlock()
						acks.Add(1)
					case errors.Is(err, timeseries.ErrClosed):
						return
					default:
						t.Errorf("writer %d: Write: %v", w, err)
						return
					}
				}
			}()
		}
		for acks.Load() < closeAfter {
			runtime.Gosched()
		}
		if err := ns.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		closeDone.Store(true)
		wg.Wait()

		st := ns.Stats()
		if st.EventsDropped != 0 {
			t.Errorf("EventsDropped = %d, want 0", st.EventsDropped)
		}
		ns2 := open(t, store, "closerace", testOpts(c))
		got, _ := readAll(t, ns2, "s", c.Now().Add(-3*time.Hour), c.Now().Add(time.Second), 1000)
		stored := make([]string, len(got))
		for i, e := range got {
			stored[i] = e.ID
		}
		slices.Sort(stored)
		slices.Sort(acked)
		if !slices.Equal(stored, acked) {
			lost, extra := diff(acked, stored), diff(stored, acked)
			t.Fatalf("stored %d events, acknowledged %d: %d acknowledged but not stored (e.g. %v), %d stored but not acknowledged (e.g. %v)",
				len(stored), len(acked), len(lost), lost[:min(3, len(lost))], len(extra), extra[:min(3, len(extra))])
		}
		if st.EventsWritten != int64(len(acked)) {
			t.Errorf("EventsWritten = %d, want %d (the acknowledged events)", st.EventsWritten, len(acked))
		}
	})
}

// diff returns the elements of sorted a that are not in sorted b.
func diff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}
