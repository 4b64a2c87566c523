package local_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/edgekit/edgekit/wal/vfs"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal/vfs/vfstest"
)

// Crash tests. A value is derived from (key, size) so that a reader can
// tell a complete value from a partial or mixed one without a log: its
// last 4 bytes are a CRC of the rest, and the rest is a pattern seeded by
// the key.

func crashValue(key string, n int) []byte {
	v := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(crc32.ChecksumIEEE([]byte(key))), uint64(n)))
	for i := range v {
		v[i] = byte(r.Uint32())
	}
	if n >= 4 {
		c := crc32.ChecksumIEEE(v[:n-4])
		v[n-4], v[n-3], v[n-2], v[n-1] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	}
	return v
}

func intact(key string, v []byte) bool { return bytes.Equal(v, crashValue(key, len(v))) }

// longMode reports whether the long (slow) variants of the crash tests run.
func longMode() bool { return os.Getenv("KVLOCAL_LONG") == "1" }

func testSeed(t *testing.T, env string) uint64 {
	t.Helper()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(env); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seed %d (replay with %s=%d)", seed, env, seed)
	return seed
}

// TestPowerLoss simulates a power cut at a random file operation: the
// crash file system keeps what was synced and gives every unsynced write a
// random fate (kept, dropped or torn). After reopening, every acknowledged
// write is present and intact, no value is partial, and the tree passes
// Verify. Small auto-checkpoints put checkpoints inside the crash window.
func TestPowerLoss(t *testing.T) {
	trials := 100
	if longMode() {
		trials = 2000
	}
	seed := testSeed(t, "KVLOCAL_CRASH_SEED")
	ctx := context.Background()
	crashed := 0
	defer func() { t.Logf("%d of %d trials crashed mid-run", crashed, trials) }()
	for trial := range trials {
		r := rand.New(rand.NewPCG(seed, uint64(trial)))
		fs := vfstest.NewCrashFS()
		s, err := local.Open("db", &local.Options{FS: fs, AutoCheckpoint: 8 + r.IntN(40), CacheSize: 64 << 12, SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateNamespace(ctx, "ns"); err != nil {
			t.Fatal(err)
		}
		type write struct {
			name string
			n    int
		}
		var (
			mu     sync.Mutex // guards writes, nAcked, image, atCrash
			writes []write    // every write attempted, in order
			nAcked int        // writes[:nAcked] were acknowledged
			image  *vfs.Mem
			// atCrash: writes attempted and acknowledged when the power went.
			atCrash, ackedAtCrash int
		)
		crashAt := 10 + r.IntN(110)
		fs.OnOp(func(op int) {
			if op != crashAt {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			image = fs.Crash(seed^uint64(trial), 512)
			atCrash, ackedAtCrash = len(writes), nAcked
		})
		for i := 0; i < 50; i++ {
			key := fmt.Sprintf("k%03d", r.IntN(100))
			n := 4 + r.IntN(200)
			switch r.IntN(24) {
			case 0, 1, 2:
				n = 5000 + r.IntN(30000) // overflow chains
			case 3:
				// Long chains, read in runs: a crash may tear one
				// mid-run, and its pages are reused by later chains.
				n = 100000 + r.IntN(200000)
			}
			id := fmt.Sprintf("r%d", r.IntN(4))
			mu.Lock()
			writes = append(writes, write{id + "/" + key, n})
			mu.Unlock()
			if err := s.Apply(ctx, "ns", id, []kv.Mutation{{Op: kv.OpPut, Key: []byte(key), Value: crashValue(key, n), Timestamp: int64(i + 1)}}); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			nAcked++
			mu.Unlock()
		}
		s.Close()
		mu.Lock()
		img := image
		exp := newExpect()
		for i, w := range writes[:atCrash] {
			exp.try(w.name, w.n)
			if i < ackedAtCrash {
				exp.ack(w.name, w.n)
			}
		}
		mu.Unlock()
		if img == nil {
			continue // the run ended before the crash point
		}
		crashed++
		s2, err := local.Open("db", &local.Options{FS: img})
		if err != nil {
			t.Fatalf("trial %d: reopen after crash: %v", trial, err)
		}
		checkCrashImage(t, s2, fmt.Sprintf("trial %d", trial), []string{"r0", "r1", "r2", "r3"}, exp, nil)
		s2.Close()
	}
}

// expect tracks, per id/key, which value sizes may be visible after a
// crash: the last acknowledged write's, and those of writes attempted after
// it (they may or may not have reached the disk).
type expect struct {
	allowed map[string]map[int]bool
	must    map[string]bool // acknowledged at least once: must be present
}

func newExpect() *expect {
	return &expect{allowed: map[string]map[int]bool{}, must: map[string]bool{}}
}

func (e *expect) try(name string, n int) {
	if e.allowed[name] == nil {
		e.allowed[name] = map[int]bool{}
	}
	e.allowed[name][n] = true
}

func (e *expect) ack(name string, n int) {
	e.allowed[name] = map[int]bool{n: true}
	e.must[name] = true
}

// checkCrashImage verifies an image after a crash: the tree is sound,
// every acknowledged write is present or superseded by a later attempted
// write, nothing appears that was never written, and every value present is
// intact. get, if set, reads values of names the Store scan does not cover.
func checkCrashImage(t *testing.T, s *local.Store, what string, ids []string, exp *expect, get func(name string) ([]byte, error)) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("%s: Verify after crash: %v", what, err)
	}
	got, err := readIntact(s, ids, 0)
	if errors.Is(err, kv.ErrNoNamespace) && len(exp.must) == 0 {
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if get != nil {
		for name := range exp.allowed {
			if _, scanned := got[name]; scanned || !strings.HasPrefix(name, "c/") {
				continue
			}
			v, err := get(name)
			if errors.Is(err, kv.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", what, name, err)
			}
			if !intact(strings.TrimPrefix(name, "c/"), v) {
				t.Fatalf("%s: %s: chunked value of %d bytes is partial or mixed", what, name, len(v))
			}
			got[name] = len(v)
		}
	}
	for name, n := range got {
		if !exp.allowed[name][n] {
			t.Fatalf("%s: %s holds a %d-byte value; allowed sizes %v (a lost or invented write)", what, name, n, exp.allowed[name])
		}
	}
	for name := range exp.must {
		if _, ok := got[name]; !ok {
			t.Fatalf("%s: acknowledged write %s lost (%d names present, %d acknowledged)", what, name, len(got), len(exp.must))
		}
	}
}

// TestKillDuringWrites runs a writer in a subprocess on a real file, kills
// it with SIGKILL at a random moment, and checks the file: every write the
// child acknowledged (printed after Apply or Client.Put returned) is present
// and intact, including values chunked by the kv Client, and the tree
// passes Verify.
func TestKillDuringWrites(t *testing.T) {
	if dir := os.Getenv("KVLOCAL_CRASH_CHILD"); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns subprocesses")
	}
	trials := 100
	if longMode() {
		trials = 500
	}
	seed := testSeed(t, "KVLOCAL_KILL_SEED")
	r := rand.New(rand.NewPCG(seed, 0))
	var dir string
	var exp *expect
	var tChild, tCheck time.Duration
	for trial := range trials {
		if trial%10 == 0 {
			// A fresh file every few trials keeps the checks quick; within
			// a run of trials the file carries over kill after kill.
			dir, exp = t.TempDir(), newExpect()
		}
		t0 := time.Now()
		// Kill at a random moment after the child is writing.
		killAfter := time.Duration(5+r.IntN(120)) * time.Millisecond
		env := []string{"KVLOCAL_CRASH_CHILD=" + dir, fmt.Sprintf("KVLOCAL_CHILD_SEED=%d", r.Uint64())}
		runAndKill(t, "TestKillDuringWrites", env, killAfter, func(l string) bool {
			f := strings.Fields(l)
			if len(f) != 3 {
				return false
			}
			n, _ := strconv.Atoi(f[2])
			switch f[0] {
			case "try":
				exp.try(f[1], n)
			case "ack":
				exp.ack(f[1], n)
				return true
			}
			return false
		})
		t1 := time.Now()
		tChild += t1.Sub(t0)
		s, err := local.Open(dir, nil)
		if err != nil {
			t.Fatalf("trial %d: reopen after kill: %v", trial, err)
		}
		c, err := kv.NewClient(s, &kv.Options{ChunkThreshold: 8 << 10, ChunkSize: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		get := func(name string) ([]byte, error) {
			return c.GetValue(context.Background(), "ns", "chunked", []byte(strings.TrimPrefix(name, "c/")))
		}
		checkCrashImage(t, s, fmt.Sprintf("trial %d", trial), []string{"r0", "r1"}, exp, get)
		s.Close()
		tCheck += time.Since(t1)
	}
	t.Logf("%d trials, %d acknowledged names checked in the last one; child time %v, check time %v", trials, len(exp.must), tChild, tCheck)
}

// runAndKill runs the test named test of this test binary as a child
// process with env added, passes each line of its stdout to line, and
// kills it with SIGKILL killAfter after line first returns true (the
// child acknowledged a write). It returns once the child is gone and
// reports whether it was killed (false: it exited by itself).
func runAndKill(t *testing.T, test string, env []string, killAfter time.Duration, line func(string) bool) bool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var timer <-chan time.Time
	killed := false
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				cmd.Wait()
				return killed
			}
			if line(l) && timer == nil && !killed {
				timer = time.After(killAfter)
			}
		case <-timer:
			cmd.Process.Signal(syscall.SIGKILL)
			killed, timer = true, nil
		}
	}
}

// readIntact reads every item of the records ids of namespace "ns", limit
// items a page, and returns the size of each by "id/key". A value that
// is not intact (see crashValue) is an error.
func readIntact(s *local.Store, ids []string, limit int) (map[string]int, error) {
	got := map[string]int{}
	for _, id := range ids {
		q := kv.Query{Limit: limit}
		for {
			res, err := s.Read(context.Background(), "ns", id, q)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", id, err)
			}
			for _, it := range res.Items {
				if !intact(string(it.Key), it.Value) {
					return nil, fmt.Errorf("%s/%s: value of %d bytes is partial or mixed", id, it.Key, len(it.Value))
				}
				got[id+"/"+string(it.Key)] = len(it.Value)
			}
			if res.Cursor == nil {
				break
			}
			q.Cursor = res.Cursor
		}
	}
	return got, nil
}

// crashChild writes until killed: direct Store puts (some with overflow
// values) and kv Client puts chunked into several chunks, printing "ack
// <key> <size>" after each one returns.
func crashChild(dir string) {
	seed, _ := strconv.ParseUint(os.Getenv("KVLOCAL_CHILD_SEED"), 10, 64)
	r := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	s, err := local.Open(dir, &local.Options{AutoCheckpoint: 64, SweepInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	c, err := kv.NewClient(s, &kv.Options{ChunkThreshold: 8 << 10, ChunkSize: 4 << 10})
	if err != nil {
		os.Exit(2)
	}
	if err := c.CreateNamespace(ctx, "ns"); err != nil {
		fmt.Fprintln(os.Stderr, "child create:", err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	ts := time.Now().UnixMicro()
	for {
		key := fmt.Sprintf("k%04d", r.IntN(500))
		chunked := r.IntN(4) == 0
		id := fmt.Sprintf("r%d", r.IntN(2))
		name, n := id+"/"+key, 4+r.IntN(300)
		switch {
		case chunked:
			name, n = "c/"+key, 8<<10+1+r.IntN(16<<10)
		case r.IntN(10) == 0:
			n = 5000 + r.IntN(20000) // an overflow chain
		}
		// "try" goes out before the write starts, so the parent knows
		// which values may legitimately appear.
		fmt.Fprintf(w, "try %s %d\n", name, n)
		w.Flush()
		var err error
		if chunked {
			err = c.Put(ctx, "ns", "chunked", []byte(key), crashValue(key, n))
		} else {
			ts++
			err = s.Apply(ctx, "ns", id, []kv.Mutation{{Op: kv.OpPut, Key: []byte(key), Value: crashValue(key, n), Timestamp: ts}})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "child write:", err)
			os.Exit(2)
		}
		fmt.Fprintf(w, "ack %s %d\n", name, n)
		w.Flush()
	}
}
