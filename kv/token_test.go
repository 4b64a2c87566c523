package kv_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgekit/edgekit/kv"
)

func TestTokenWindow(t *testing.T) {
	f := newFixture(t, nil, &kv.Options{MaxTokenAge: time.Minute, MaxTokenSkew: 2 * time.Second})
	now := f.clk.Now()
	for _, c := range []struct {
		name   string
		at     time.Duration
		future bool
		ok     bool
	}{
		{"now", 0, false, true},
		{"age-limit", -time.Minute, false, true},
		{"too-old", -time.Minute - time.Microsecond, false, false},
		{"skew-limit", 2 * time.Second, true, true},
		{"too-far-ahead", 2*time.Second + time.Microsecond, true, false},
		{"an-hour-ahead", time.Hour, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok := kv.Token{Time: now.Add(c.at), Random: [16]byte{9}}
			err := f.c.Put(f.ctx, ns, "r", []byte(c.name), []byte("v"), kv.WithToken(tok))
			if c.ok {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			var te *kv.TokenError
			if !errors.As(err, &te) || !errors.Is(err, kv.ErrTokenWindow) || te.Future != c.future {
				t.Fatalf("got %v, want *TokenError with Future=%v", err, c.future)
			}
			if !strings.Contains(err.Error(), "edgekit/kv: ") {
				t.Errorf("error text %q lacks the package prefix", err)
			}
		})
	}
}

func TestTTLJitter(t *testing.T) {
	f := newFixture(t, nil, nil) // default jitter: up to 10 % of the TTL
	const n, ttl = 200, 100 * time.Second
	var muts []kv.Mutation
	for i := range n {
		muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "k%03d", i), Value: []byte("v"), TTL: ttl})
	}
	tok, err := f.c.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Mutate(f.ctx, ns, "r", muts, kv.WithToken(tok)); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		p, err := f.c.Get(f.ctx, ns, "r", kv.Query{})
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Items)
	}
	start := f.clk.Now()
	at := func(d time.Duration) int {
		f.clk.Set(start.Add(d))
		return count()
	}
	if got := at(ttl - time.Millisecond); got != n {
		t.Errorf("before the TTL: %d live, want %d (jitter only lengthens)", got, n)
	}
	mid := at(ttl + ttl/20)
	if mid == 0 || mid == n {
		t.Errorf("half-way through the jitter window: %d of %d live, want expiries spread", mid, n)
	}
	if got := at(ttl + ttl/10); got != 0 {
		t.Errorf("after TTL+10%%: %d live, want 0", got)
	}
	// A retry with the same token reproduces the same expiries.
	f.clk.Set(start)
	if err := f.c.Mutate(f.ctx, ns, "r", muts, kv.WithToken(tok)); err != nil {
		t.Fatal(err)
	}
	if got := at(ttl + ttl/20); got != mid {
		t.Errorf("retry with the same token: %d live at the mid point, first write had %d", got, mid)
	}
}

func TestTokensMonotonic(t *testing.T) {
	f := newFixture(t, nil, nil) // the fixture's clock stands still
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			prev := int64(0)
			for range 250 {
				tok, err := f.c.NewToken()
				if err != nil {
					t.Error(err)
					return
				}
				if tok.Micros() <= prev {
					t.Errorf("token time %d after %d: not increasing", tok.Micros(), prev)
				}
				prev = tok.Micros()
				mu.Lock()
				if seen[prev] {
					t.Errorf("token time %d issued twice", prev)
				}
				seen[prev] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// A clock that steps back does not make tokens go back.
	before, _ := f.c.NewToken()
	f.clk.Add(-time.Second)
	after, _ := f.c.NewToken()
	if after.Micros() <= before.Micros() {
		t.Errorf("after the clock stepped back: token %d, previous %d", after.Micros(), before.Micros())
	}
	// On a frozen clock a delete right after a put still hides it.
	if err := f.c.Put(f.ctx, ns, "r", []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := f.c.Delete(f.ctx, ns, "r", []byte("k")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.value(t, "r", "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("put then delete in one microsecond: got %v, want ErrNotFound", err)
	}
}
