package local_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs"
)

// slowSyncFS makes every fsync take 4 ms, as a slow disk does, so the
// group commit has something to gather for on any machine.
type slowSyncFS struct{ *vfs.Mem }

type slowSyncFile struct{ vfs.File }

func (f slowSyncFile) Sync() error { time.Sleep(4 * time.Millisecond); return f.File.Sync() }

func (s slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := s.Mem.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return slowSyncFile{f}, nil
}

// TestGroupCommitGathersConcurrentApplies: a caller that issues four
// Applies at once (as a timeseries Write does, one per partition) gets
// one commit for them, not one for the first to arrive and one for the
// rest; and a lone writer still commits once per Apply.
func TestGroupCommitGathersConcurrentApplies(t *testing.T) {
	ctx := context.Background()
	s, err := local.Open("db", &local.Options{FS: slowSyncFS{vfs.NewMem()}, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateNamespace(ctx, "ns"); err != nil {
		t.Fatal(err)
	}
	put := func(id string, i int) error {
		return s.Apply(ctx, "ns", id, []kv.Mutation{{Op: kv.OpPut, Key: []byte(fmt.Sprint(i)), Value: []byte("v"), Timestamp: int64(i + 1)}})
	}
	const rounds, width = 20, 4
	before, _ := s.Stats()
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, width)
		for p := range width {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[p] = put(fmt.Sprintf("part%d", p), r)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	after, _ := s.Stats()
	commits := after.Commits - before.Commits
	t.Logf("%d rounds of %d concurrent Applies: %d commits", rounds, width, commits)
	// The first round cannot know to wait, and on a loaded machine a
	// goroutine may start too late for its round; the previous leader
	// made 2 commits every round (40).
	if commits > rounds*3/2 {
		t.Errorf("%d commits for %d rounds of %d concurrent Applies, want about one per round", commits, rounds, width)
	}
	// A lone writer: one commit per Apply, and no gather wait to speak of.
	before = after
	start := time.Now()
	for i := range 10 {
		if err := put("solo", i); err != nil {
			t.Fatal(err)
		}
	}
	after, _ = s.Stats()
	if got := after.Commits - before.Commits; got != 10 {
		t.Errorf("lone writer: %d commits for 10 Applies, want 10", got)
	}
	t.Logf("lone writer: 10 commits in %v (4 ms fsync each)", time.Since(start))
}
