package local_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/kv/local"
)

// TestConformance runs the kv conformance suite on one file on disk, each
// subtest with a fresh Store handle over the same file in turn: with the
// defaults, and with 8 KiB pages and a cache of a few pages, so that reads
// go through eviction and the pager all the time.
func TestConformance(t *testing.T) {
	t.Run("default", func(t *testing.T) { conformance(t, nil) })
	t.Run("tiny-cache", func(t *testing.T) {
		conformance(t, &local.Options{PageSize: 8192, CacheSize: 1}, kvtest.MaxValueSize(4<<20))
	})
}

func conformance(t *testing.T, o *local.Options, opts ...kvtest.Option) {
	path := filepath.Join(t.TempDir(), "kv.db")
	kvtest.Run(t, func(t *testing.T) kv.Store {
		var oc *local.Options
		if o != nil {
			c := *o
			oc = &c
		}
		s, err := local.Open(path, oc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if _, err := s.Verify(context.Background()); err != nil && !errors.Is(err, kv.ErrClosed) {
				t.Errorf("after %s: %v", t.Name(), err)
			}
			s.Close()
		})
		return s
	}, opts...)
}
