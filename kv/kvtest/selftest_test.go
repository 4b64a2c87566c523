package kvtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// brokenEnv selects, in a child test process, which defect brokenStore has.
const brokenEnv = "KVTEST_BROKEN"

// brokenStore is a MemStore with one deliberate defect, to prove that the
// suite catches it.
type brokenStore struct {
	*kvtest.MemStore
	defect string
	arrive int64 // guarded by the single-goroutine subtests that use it
}

func (b *brokenStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	out := make([]kv.Mutation, 0, len(muts))
	for _, m := range muts {
		switch {
		case b.defect == "drops-key-deletes" && m.Op == kv.OpDelete:
			continue
		case b.defect == "arrival-order-wins":
			b.arrive++
			m.Timestamp = 1<<50 + b.arrive
		}
		out = append(out, m)
	}
	return b.MemStore.Apply(ctx, ns, id, out)
}

func (b *brokenStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	switch b.defect {
	case "ignores-reverse":
		q.Reverse = false
	case "drops-cursor":
		q.Cursor = nil
	}
	return b.MemStore.Read(ctx, ns, id, q)
}

// TestBrokenStoreChild runs the suite on a broken store; it only runs as
// the child of TestSuiteCatchesDefects.
func TestBrokenStoreChild(t *testing.T) {
	defect := os.Getenv(brokenEnv)
	if defect == "" {
		t.Skip("child of TestSuiteCatchesDefects")
	}
	kvtest.Run(t, func(t *testing.T) kv.Store {
		return &brokenStore{MemStore: kvtest.NewMemStore(), defect: defect}
	})
}

// TestSuiteCatchesDefects runs the suite on stores with known defects, each
// in a child process limited to the subtest that must catch it, and checks
// that the child fails there.
func TestSuiteCatchesDefects(t *testing.T) {
	for _, c := range []struct{ defect, subtest string }{
		{"drops-key-deletes", "Tombstones"},
		{"arrival-order-wins", "LWW"},
		{"ignores-reverse", "Order"},
		{"drops-cursor", "Pagination"},
	} {
		t.Run(c.defect, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStoreChild$/^"+c.subtest+"$", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+c.defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("suite passed a store that %s:\n%s", c.defect, out)
			}
			if want := "--- FAIL: TestBrokenStoreChild/" + c.subtest; !strings.Contains(string(out), want) {
				t.Errorf("child output lacks %q:\n%s", want, out)
			}
		})
	}
}
