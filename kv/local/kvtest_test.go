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
// subtest with a fresh Store handle over the same file in turn.
func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	kvtest.Run(t, func(t *testing.T) kv.Store {
		s, err := local.Open(path, nil)
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
	})
}
