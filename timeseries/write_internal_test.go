package timeseries

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// TestForEach: forEach reports the caller's cancellation only when it kept
// a call from starting; once every call has run and succeeded, the batch
// is complete and a late cancellation must not make it look failed.
func TestForEach(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name         string
		count, limit int
		// fn is call i; cancel cancels the caller's ctx.
		fn        func(i int, cancel context.CancelFunc) error
		want      error
		wantCalls int64
	}{
		{"all-succeed", 5, 2, func(int, context.CancelFunc) error { return nil }, nil, 5},
		{"cancel-after-last-call", 5, 5, func(i int, cancel context.CancelFunc) error {
			if i == 4 {
				cancel() // every call has started; this one succeeds
			}
			return nil
		}, nil, 5},
		{"cancel-after-single-call", 1, 1, func(_ int, cancel context.CancelFunc) error { cancel(); return nil }, nil, 1},
		{"cancel-before-all-started", 3, 1, func(i int, cancel context.CancelFunc) error {
			if i == 0 {
				cancel() // calls 1 and 2 wait for the slot and must not start
			}
			return nil
		}, context.Canceled, 1},
		{"call-fails", 4, 1, func(i int, _ context.CancelFunc) error {
			if i == 1 {
				return boom
			}
			return nil
		}, boom, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int64
			err := forEach(ctx, tc.count, tc.limit, func(_ context.Context, i int) error {
				calls.Add(1)
				return tc.fn(i, cancel)
			})
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("forEach: got %v, want %v", err, tc.want)
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("calls: got %d, want %d", got, tc.wantCalls)
			}
		})
	}
}
