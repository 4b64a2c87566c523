package local_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
)

// The child of TestKillDuringPurge runs with a grace of a millisecond and
// a timed sweep every millisecond, so the background sweeper purges
// tombstones all the time while the child writes and deletes.
const (
	killGrace = time.Millisecond
	killTTL   = time.Millisecond
)

// TestKillDuringPurge runs writes, deletes and expiring puts in a
// subprocess on a real file while its background sweeper purges what the
// (tiny) grace lets go, kills it with SIGKILL at a random moment, and
// checks the file: Verify passes, every write the child acknowledged and
// no acknowledged delete removed is present and intact, and nothing
// deleted or expired is visible, before and after a SweepNow. The same
// file carries over several kills. The parent replays the child's random
// operations from its seed and follows "try"/"ack" lines to know which
// were attempted and acknowledged.
func TestKillDuringPurge(t *testing.T) {
	if dir := os.Getenv("KVLOCAL_PURGE_CHILD"); dir != "" {
		purgeChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns subprocesses")
	}
	trials := 30
	if longMode() {
		trials = 300
	}
	seed := testSeed(t, "KVLOCAL_PURGE_KILL_SEED")
	r := rand.New(rand.NewPCG(seed, 0))
	ctx := context.Background()
	var (
		dir   string
		model purgeModel
	)
	var purgedTotal, childTotal uint64
	for trial := range trials {
		if trial%10 == 0 {
			dir, model = t.TempDir(), purgeModel{}
		}
		childSeed := r.Uint64()
		tries, acks := 0, 0
		var childPurged uint64 // the child's Stats.Purged, last reported
		env := []string{"KVLOCAL_PURGE_CHILD=" + dir, fmt.Sprintf("KVLOCAL_PURGE_CHILD_SEED=%d", childSeed)}
		killed := runAndKill(t, "TestKillDuringPurge", env, time.Duration(5+r.IntN(120))*time.Millisecond, func(l string) bool {
			if n, ok := strings.CutPrefix(l, "purged "); ok {
				childPurged, _ = strconv.ParseUint(n, 10, 64)
			}
			switch l {
			case "try":
				tries++
			case "ack":
				acks++
				return true
			}
			return false
		})
		childTotal += childPurged
		if !killed {
			t.Fatalf("trial %d: the child exited by itself after %d acknowledged operations", trial, acks)
		}
		// Replay the child's operations: acknowledged ones in order, and
		// the one it may have been in the middle of.
		cr := rand.New(rand.NewPCG(childSeed, 1))
		before := model.clone()
		var inFlight []purgeOp
		for i := range tries {
			id, m := randomPurgeOp(cr, 1, killTTL)
			op := purgeOp{id: id, m: m} // now 0: a TTL put has expired by the check
			if i < acks {
				before.apply(op)
			} else {
				inFlight = append(inFlight, op)
			}
		}
		if len(inFlight) > 1 {
			t.Fatalf("trial %d: %d operations in flight, want at most 1", trial, len(inFlight))
		}
		after := before.clone()
		for _, op := range inFlight {
			after.apply(op)
		}
		time.Sleep(2 * killTTL) // every TTL the child wrote has run out
		s, err := local.Open(dir, &local.Options{SweepInterval: -1, TombstoneGrace: killGrace})
		if err != nil {
			t.Fatalf("trial %d: reopen after kill: %v", trial, err)
		}
		what := fmt.Sprintf("trial %d (%d operations acknowledged)", trial, acks)
		now := time.Now().UnixNano()
		model = checkPurgeImage(t, s, what, now, before, after)
		if err := s.SweepNow(ctx); err != nil {
			t.Fatalf("%s: SweepNow: %v", what, err)
		}
		checkPurgeImage(t, s, what+", swept after reopen", now, model, model)
		st, _ := s.Stats()
		purgedTotal += st.Purged
		s.Close()
	}
	t.Logf("%d trials; the children's sweepers purged at least %d tombstones, the parent's sweeps after reopening %d", trials, childTotal, purgedTotal)
	if childTotal == 0 {
		t.Errorf("the children's background sweepers purged nothing: the kills did not hit purging")
	}
}

// purgeChild writes and deletes until killed, printing "try" before each
// Apply and "ack" after it returns, and now and then "purged <n>", its
// Stats.Purged.
func purgeChild(dir string) {
	seed, _ := strconv.ParseUint(os.Getenv("KVLOCAL_PURGE_CHILD_SEED"), 10, 64)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	s, err := local.Open(dir, &local.Options{AutoCheckpoint: 64, SweepInterval: time.Millisecond, TombstoneGrace: killGrace})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	if err := s.CreateNamespace(ctx, "ns"); err != nil {
		fmt.Fprintln(os.Stderr, "child create:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	// Timestamps keep increasing across children on the same file: each
	// starts from the wall clock.
	ts := time.Now().UnixMicro()
	for {
		ts++
		id, m := randomPurgeOp(r, ts, killTTL)
		fmt.Fprintln(w, "try")
		w.Flush()
		if err := s.Apply(ctx, "ns", id, []kv.Mutation{m}); err != nil {
			fmt.Fprintln(os.Stderr, "child apply:", err)
			os.Exit(2)
		}
		fmt.Fprintln(w, "ack")
		if ts%20 == 0 {
			if st, err := s.Stats(); err == nil {
				fmt.Fprintln(w, "purged", st.Purged)
			}
		}
		w.Flush()
		if ts%50 == 0 {
			// Let the sweeper in now and then (not from r: the parent
			// replays r's draws).
			time.Sleep(time.Millisecond)
		}
	}
}
