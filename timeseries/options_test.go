package timeseries_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/timeseries"
)

// TestOptionsInvalid: options that would make the background goroutine
// panic (a non-positive ticker interval) or store an unusable layout are
// refused by Open with ErrInvalid naming the field, before anything is
// written to the store and before any goroutine starts.
func TestOptionsInvalid(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, tc := range []struct {
		name  string
		set   func(o *timeseries.Options)
		field string // the error must name it
	}{
		{"negative-refresh", func(o *timeseries.Options) { o.RefreshInterval = -time.Second }, "RefreshInterval"},
		{"negative-split-interval", func(o *timeseries.Options) { o.SplitInterval = -time.Second }, "SplitInterval"},
		{"negative-split-interval-splitter-off", func(o *timeseries.Options) {
			o.SplitInterval, o.DisableSplitter = -time.Second, true // still the RunSplits backoff
		}, "SplitInterval"},
		{"negative-retention-interval", func(o *timeseries.Options) {
			o.Retention, o.RetentionInterval = time.Hour, -time.Second
		}, "RetentionInterval"},
		{"negative-retention-interval-no-retention", func(o *timeseries.Options) { o.RetentionInterval = -time.Second }, "RetentionInterval"},
		{"negative-slice", func(o *timeseries.Options) { o.SliceLength = -24 * time.Hour }, "SliceLength"},
		{"negative-slice-one-bucket", func(o *timeseries.Options) { o.SliceLength, o.TimeBucket = -time.Hour, time.Hour }, "SliceLength"},
		{"slice-below-bucket", func(o *timeseries.Options) { o.SliceLength, o.TimeBucket = 30*time.Minute, time.Hour }, "SliceLength"},
		{"slice-below-second", func(o *timeseries.Options) { o.SliceLength = time.Millisecond }, "SliceLength"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := kvtest.NewMemStore()
			// The real background goroutine and time.NewTicker: the
			// failure this guards against is a panic there.
			o := &timeseries.Options{}
			tc.set(o)
			ns, err := timeseries.Open(context.Background(), store, "opts", o)
			if err == nil {
				ns.Close()
				t.Fatalf("Open: got nil error, want ErrInvalid naming %s", tc.field)
			}
			if !errors.Is(err, timeseries.ErrInvalid) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Open: got %v, want ErrInvalid naming %s", err, tc.field)
			}
			names, err := store.Namespaces(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(names) != 0 {
				t.Errorf("refused Open left namespaces %v in the store, want none", names)
			}
		})
	}
}

// TestOptionsValidEdges: the smallest documented values are accepted.
func TestOptionsValidEdges(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    timeseries.Options
	}{
		{"slice-equals-bucket", timeseries.Options{SliceLength: time.Second, TimeBucket: time.Second}},
		{"tiny-intervals", timeseries.Options{RefreshInterval: time.Nanosecond, SplitInterval: time.Nanosecond,
			Retention: time.Hour, RetentionInterval: time.Nanosecond, NoBackground: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, err := timeseries.Open(context.Background(), kvtest.NewMemStore(), "opts", &tc.o)
			if err != nil {
				t.Fatalf("Open: got %v, want nil", err)
			}
			if err := ns.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
