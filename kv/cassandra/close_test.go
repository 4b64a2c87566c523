package cassandra_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/edgekit/edgekit/kv"
)

// TestCloseUnderLoad closes a Store while goroutines write and read: every
// call either completes or fails with kv.ErrClosed, Close returns only
// after the calls in progress, and no goroutine of the Store or of its
// driver session outlives it.
func TestCloseUnderLoad(t *testing.T) {
	hosts(t) // skip before goleak looks, when there is no cluster
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	s := open(t, nil)
	newNamespace(t, s, "closing")
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	started := make(chan struct{}, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				var err error
				if i%2 == 0 {
					err = s.Apply(ctx, "closing", "r", []kv.Mutation{put("k", "v", int64(g*1_000_000+i+1))})
				} else {
					_, err = s.Read(ctx, "closing", "r", kv.Query{})
				}
				if i == 3 {
					started <- struct{}{}
				}
				if errors.Is(err, kv.ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 8 {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call during Close: got %v, want success or ErrClosed", err)
	}
}
