package cassandra_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
)

// rowCounter counts the SELECT round trips and rows a session receives.
type rowCounter struct{ queries, rows atomic.Int64 }

func (c *rowCounter) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	if strings.HasPrefix(q.Statement, "SELECT key") {
		c.queries.Add(1)
		c.rows.Add(int64(q.Rows))
	}
}

// TestByteBudgetFetchesLittle pages through 400 items of ~1 KiB with a
// 4 KiB budget: the adaptive fetch size must keep the rows Cassandra sends
// close to the rows returned, where a fixed page of Limit rows would send
// ~100 times as many.
func TestByteBudgetFetchesLittle(t *testing.T) {
	obs := &rowCounter{}
	s := open(t, &cassandra.Options{Configure: func(cfg *gocql.ClusterConfig) { cfg.QueryObserver = obs }})
	newNamespace(t, s, "budget")
	ctx := context.Background()
	const n = 400
	val := bytes.Repeat([]byte("x"), 1000)
	for i := 0; i < n; i += 100 {
		var muts []kv.Mutation
		for j := i; j < i+100; j++ {
			muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: fmt.Appendf(nil, "k%04d", j), Value: val, Timestamp: 1})
		}
		if err := s.Apply(ctx, "budget", "r", muts); err != nil {
			t.Fatal(err)
		}
	}
	obs.queries.Store(0)
	obs.rows.Store(0)
	q := kv.Query{MaxBytes: 4096}
	got, calls := 0, 0
	for {
		res, err := s.Read(ctx, "budget", "r", q)
		if err != nil {
			t.Fatal(err)
		}
		calls++
		got += len(res.Items)
		if res.Cursor == nil {
			break
		}
		q.Cursor = res.Cursor
	}
	if got != n {
		t.Fatalf("read %d items, want %d", got, n)
	}
	rows, queries := obs.rows.Load(), obs.queries.Load()
	t.Logf("%d items in %d calls: %d rows fetched in %d round trips", got, calls, rows, queries)
	if rows > 2*n {
		t.Errorf("fetched %d rows to return %d items (want at most %d)", rows, n, 2*n)
	}
}
