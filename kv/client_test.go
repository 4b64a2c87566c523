package kv_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/kvtest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a Client on a MemStore sharing one test clock, with small
// chunks so chunking is cheap to exercise.
type fixture struct {
	ctx   context.Context
	mem   *kvtest.MemStore
	store kv.Store // what the client sees (mem, possibly wrapped)
	clk   *clock
	c     *kv.Client
}

const ns = "test"

func newFixture(t *testing.T, wrap func(kv.Store, *clock) kv.Store, opts *kv.Options) *fixture {
	t.Helper()
	f := &fixture{ctx: context.Background(), mem: kvtest.NewMemStore(), clk: &clock{t: time.Unix(1_800_000_000, 0)}}
	f.mem.SetClock(f.clk.Now)
	f.store = f.mem
	if wrap != nil {
		f.store = wrap(f.mem, f.clk)
	}
	o := kv.Options{ChunkThreshold: 1000, ChunkSize: 256}
	if opts != nil {
		o = *opts
	}
	o.Now = f.clk.Now
	var err error
	if f.c, err = kv.NewClient(f.store, &o); err != nil {
		t.Fatal(err)
	}
	if err := f.c.CreateNamespace(f.ctx, ns); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) value(t *testing.T, id, key string) ([]byte, error) {
	t.Helper()
	return f.c.GetValue(f.ctx, ns, id, []byte(key))
}

func bytesOf(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// plainStore hides MemStore's Atomic implementation.
type plainStore struct{ kv.Store }

func TestBadInputAndOptions(t *testing.T) {
	f := newFixture(t, nil, nil)
	if f.c.AtomicApply() != true {
		t.Error("AtomicApply() = false over a MemStore")
	}
	c, err := kv.NewClient(plainStore{f.mem}, nil)
	if err != nil || c.AtomicApply() {
		t.Errorf("over a non-Atomic store: AtomicApply %v, err %v", c.AtomicApply(), err)
	}
	for _, bad := range []kv.Options{{PageKey: []byte("short")}, {ChunkSize: -1}, {ChunkSize: 1<<30 + 1}, {StageParallelism: -1}, {MaxTokenAge: -time.Second}} {
		if _, err := kv.NewClient(f.mem, &bad); !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("NewClient(%+v): got %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := kv.NewClient(f.mem, &kv.Options{Rand: io.LimitReader(nil, 0)}); err == nil {
		t.Error("NewClient with an empty Rand: want an error")
	}
	for name, err := range map[string]error{
		"ns-with-double-underscore": f.c.CreateNamespace(f.ctx, "a__b"),
		"ns-too-long-for-companion": f.c.CreateNamespace(f.ctx, strings.Repeat("a", kv.ClientNamespaceLen+1)),
		"empty-id":                  f.c.Put(f.ctx, ns, "", []byte("k"), []byte("v")),
		"nil-value":                 f.c.Put(f.ctx, ns, "r", []byte("k"), nil),
		"key-too-long":              f.c.Put(f.ctx, ns, "r", make([]byte, kv.MaxKeyLen+1), []byte("v")),
		"negative-ttl":              f.c.Put(f.ctx, ns, "r", []byte("k"), []byte("v"), kv.WithTTL(-time.Second)),
	} {
		if !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if err := f.c.Put(f.ctx, "missing", "r", []byte("k"), []byte("v")); !errors.Is(err, kv.ErrNoNamespace) {
		t.Errorf("unknown namespace: got %v, want ErrNoNamespace", err)
	}
	for _, s := range []string{"", "12", "12-zz", "0-00000000000000000000000000000000", "-5-00000000000000000000000000000000", "5-0000"} {
		if _, err := kv.ParseToken(s); !errors.Is(err, kv.ErrInvalid) {
			t.Errorf("ParseToken(%q): got %v, want ErrInvalid", s, err)
		}
	}
	names, err := f.c.Namespaces(f.ctx)
	if err != nil || len(names) != 1 || names[0] != ns {
		t.Errorf("Namespaces() = %q, %v; want just %q (companions hidden)", names, err, ns)
	}
}

func TestErrorText(t *testing.T) {
	// Every error leads with its package's sentinel text.
	f := newFixture(t, nil, nil)
	for name, err := range map[string]error{
		"bad-mutation": f.c.Mutate(f.ctx, ns, "r", []kv.Mutation{{Op: kv.OpPut, Key: []byte("k"), Value: []byte("v")}, {Op: kv.OpPut, Key: []byte("k")}}),
		"timestamp":    f.c.Mutate(f.ctx, ns, "r", []kv.Mutation{{Op: kv.OpDelete, Key: []byte("k"), Timestamp: 3}}),
		"not-found":    func() error { _, err := f.value(t, "r", "nope"); return err }(),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "edgekit/kv: ") {
			t.Errorf("%s: error %q does not start with \"edgekit/kv: \"", name, err)
		}
	}
	err := kv.CheckMutations([]kv.Mutation{{Op: kv.OpPut, Key: []byte("k"), Timestamp: 1}})
	if want := "edgekit/kv: invalid argument: mutation 0 (put): nil value on put (use []byte{} for an empty value)"; err == nil || err.Error() != want {
		t.Errorf("CheckMutations: got %q, want %q", err, want)
	}
}
