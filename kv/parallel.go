package kv

import (
	"context"
	"sync"
	"sync/atomic"
)

// parallel runs job(ctx, i) for i in [0, n) on up to workers goroutines and
// returns the first error, cancelling the context of the jobs still to run.
// With one worker (or one job) it runs them in order on the caller's
// goroutine. It returns only after every goroutine it started has ended.
func parallel(ctx context.Context, workers, n int, job func(ctx context.Context, i int) error) error {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			if err := job(ctx, i); err != nil {
				return err
			}
		}
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		next     atomic.Int64 // next job to claim
		done     atomic.Int64 // jobs finished without error
		errOnce  sync.Once
		firstErr error // written once under errOnce, read after wg.Wait
	)
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := job(ctx, i); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr == nil && int(done.Load()) < n {
		// Workers stopped early without an error of their own: the
		// caller's context ended.
		return ctx.Err()
	}
	return firstErr
}
