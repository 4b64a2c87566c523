package hashring_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/edgekit/edgekit/hashring"
	"go.uber.org/goleak"
)

// TestSwapWhileLocating is the edge's pattern: readers LocateN through an
// atomic.Pointer while a writer publishes new rings. Under -race it shows
// that a published Ring is never written again.
func TestSwapWhileLocating(t *testing.T) {
	defer goleak.VerifyNone(t)
	ids := make([]string, 12)
	for i := range ids {
		ids[i] = "edge-" + strconv.Itoa(i)
	}
	first, err := hashring.New(hashring.Uniform(ids[:8]...), &hashring.Options{PointsPerWeight: 64})
	if err != nil {
		t.Fatal(err)
	}
	var cur atomic.Pointer[hashring.Ring]
	cur.Store(first)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			dst := make([]string, 0, 3)
			buf := make([]byte, 0, 32)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := cur.Load()
				buf = strconv.AppendInt(append(buf[:0], "/seg/"...), int64(w*1_000_000+i), 10)
				dst = r.AppendN(dst[:0], buf, 3)
				if len(dst) != 3 || dst[0] != r.Locate(buf) {
					t.Errorf("got %q from a ring of %d", dst, r.Len())
					return
				}
			}
		})
	}
	r := first
	for i := range 40 {
		var err error
		if i%2 == 0 {
			r, err = r.Add(hashring.Member{ID: ids[8+i/2%4], Weight: 1})
		} else {
			r, err = r.Remove(ids[8+i/2%4])
		}
		if err != nil {
			t.Fatal(err)
		}
		cur.Store(r)
	}
	close(stop)
	wg.Wait()
}
