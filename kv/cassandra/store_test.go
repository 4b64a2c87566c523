package cassandra_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
)

// newNamespace creates a fresh namespace on s, dropped at the end of t.
func newNamespace(t *testing.T, s *cassandra.Store, ns string) {
	t.Helper()
	ctx := context.Background()
	if err := s.DropNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.DropNamespace(context.Background(), ns) })
}

func put(key, value string, ts int64) kv.Mutation {
	return kv.Mutation{Op: kv.OpPut, Key: []byte(key), Value: []byte(value), Timestamp: ts}
}

// TestTableShape checks the schema CreateNamespace made, as Cassandra
// reports it: Netflix's columns and key roles, the namespace's clustering
// order and its extra table options.
func TestTableShape(t *testing.T) {
	ks := testKeyspace
	s := open(t, &cassandra.Options{Keyspace: ks, Namespaces: map[string]cassandra.Namespace{
		"shape_desc": {Order: cassandra.Descending, TableOptions: "gc_grace_seconds = 3600"},
	}})
	newNamespace(t, s, "shape_desc")
	raw, err := rawSession(hosts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	iter := raw.Query(`SELECT column_name, kind, type, clustering_order FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?`,
		ks, "shape_desc").Iter()
	var got []string
	var name, kind, typ, order string
	for iter.Scan(&name, &kind, &typ, &order) {
		got = append(got, fmt.Sprintf("%s %s %s %s", name, kind, typ, order))
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{
		"id partition_key text none",
		"key clustering blob desc",
		"value regular blob none",
		"value_metadata regular blob none",
	}
	if !slices.Equal(got, want) {
		t.Errorf("columns:\n got %q\nwant %q", got, want)
	}
	var grace int
	if err := raw.Query(`SELECT gc_grace_seconds FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?`,
		ks, "shape_desc").Scan(&grace); err != nil || grace != 3600 {
		t.Errorf("gc_grace_seconds: got %d, %v; want 3600", grace, err)
	}
}

// TestCellTTLAndTimestamp reads the cells behind a put with a raw session:
// the TTL is whole seconds rounded up, and the write timestamp is the
// mutation's, not the coordinator's clock.
func TestCellTTLAndTimestamp(t *testing.T) {
	s := open(t, nil)
	newNamespace(t, s, "cells")
	ctx := context.Background()
	const ts = 1_000_000 // far in the past: only USING TIMESTAMP puts it there
	muts := []kv.Mutation{
		{Op: kv.OpPut, Key: []byte("ttl"), Value: []byte("v"), TTL: 1500 * time.Millisecond, Timestamp: ts},
		{Op: kv.OpPut, Key: []byte("forever"), Value: []byte("v"), Timestamp: ts + 1},
	}
	if err := s.Apply(ctx, "cells", "r", muts); err != nil {
		t.Fatal(err)
	}
	raw, err := rawSession(hosts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, c := range []struct {
		key     string
		wantTS  int64
		ttlLow  int
		ttlHigh int
	}{{"ttl", ts, 1, 2}, {"forever", ts + 1, 0, 0}} {
		var wt int64
		var ttl *int
		q := fmt.Sprintf(`SELECT WRITETIME(value), TTL(value) FROM %q.cells WHERE id = 'r' AND key = ?`, testKeyspace)
		if err := raw.Query(q, []byte(c.key)).Scan(&wt, &ttl); err != nil {
			t.Fatalf("%s: %v", c.key, err)
		}
		gotTTL := 0
		if ttl != nil {
			gotTTL = *ttl
		}
		if wt != c.wantTS || gotTTL < c.ttlLow || gotTTL > c.ttlHigh {
			t.Errorf("%s: got writetime %d ttl %d, want %d and ttl in [%d, %d]", c.key, wt, gotTTL, c.wantTS, c.ttlLow, c.ttlHigh)
		}
	}
}

// TestConsistencyPerNamespace shows that a namespace's consistency level
// reaches Cassandra: on a single replica, TWO is unavailable while the
// default LOCAL_QUORUM works. (Skipped on clusters with replication > 1.)
func TestConsistencyPerNamespace(t *testing.T) {
	s := open(t, &cassandra.Options{Namespaces: map[string]cassandra.Namespace{"cl_two": {Consistency: gocql.Two}}})
	newNamespace(t, s, "cl_two")
	newNamespace(t, s, "cl_default")
	ctx := context.Background()
	if err := s.Apply(ctx, "cl_default", "r", []kv.Mutation{put("k", "v", 1)}); err != nil {
		t.Fatalf("LOCAL_QUORUM write: %v", err)
	}
	err := s.Apply(ctx, "cl_two", "r", []kv.Mutation{put("k", "v", 1)})
	if err == nil {
		t.Skip("the test keyspace has more than one replica; TWO is available")
	}
	var unavail *gocql.RequestErrUnavailable
	if !errors.As(err, &unavail) {
		t.Errorf("write at TWO on one replica: got %v, want RequestErrUnavailable", err)
	}
	if _, err := s.Read(ctx, "cl_two", "r", kv.Query{}); !errors.As(err, &unavail) {
		t.Errorf("read at TWO on one replica: got %v, want RequestErrUnavailable", err)
	}
}

// TestSharedCursorKey: with one CursorKey, a cursor from one Store
// continues on another (two processes behind a load balancer); without it,
// the second Store refuses it.
func TestSharedCursorKey(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	a := open(t, &cassandra.Options{CursorKey: key})
	b := open(t, &cassandra.Options{CursorKey: key})
	c := open(t, nil)
	newNamespace(t, a, "cursors")
	ctx := context.Background()
	var muts []kv.Mutation
	for i := range 10 {
		muts = append(muts, put(fmt.Sprintf("k%d", i), "v", 1))
	}
	if err := a.Apply(ctx, "cursors", "r", muts); err != nil {
		t.Fatal(err)
	}
	res, err := a.Read(ctx, "cursors", "r", kv.Query{Limit: 4})
	if err != nil || res.Cursor == nil {
		t.Fatalf("first page: %v, cursor %x", err, res.Cursor)
	}
	rest, err := b.Read(ctx, "cursors", "r", kv.Query{Limit: 100, Cursor: res.Cursor})
	if err != nil || len(rest.Items) != 6 || string(rest.Items[0].Key) != "k4" {
		t.Errorf("second page on another Store with the same key: got %d items, %v; want 6 from k4", len(rest.Items), err)
	}
	if _, err := c.Read(ctx, "cursors", "r", kv.Query{Limit: 100, Cursor: res.Cursor}); !errors.Is(err, kv.ErrBadCursor) {
		t.Errorf("cursor on a Store with another key: got %v, want ErrBadCursor", err)
	}
}

// TestHedging runs writes and reads with speculative execution on: the
// results must be the same as without it.
func TestHedging(t *testing.T) {
	s := open(t, &cassandra.Options{HedgeDelay: time.Millisecond, HedgeAttempts: 2})
	newNamespace(t, s, "hedged")
	ctx := context.Background()
	for i := range 50 {
		m := []kv.Mutation{put(fmt.Sprintf("k%02d", i), fmt.Sprint(i), int64(i+1))}
		if err := s.Apply(ctx, "hedged", "r", m); err != nil {
			t.Fatal(err)
		}
	}
	res, err := s.Read(ctx, "hedged", "r", kv.Query{})
	if err != nil || len(res.Items) != 50 {
		t.Fatalf("got %d items, %v; want 50", len(res.Items), err)
	}
	for i, it := range res.Items {
		if string(it.Value) != fmt.Sprint(i) || it.Timestamp != int64(i+1) {
			t.Errorf("item %d: got %q@%d", i, it.Value, it.Timestamp)
		}
	}
}

// TestNamespacesSkipsForeignTables: a table in the keyspace whose name is
// not a valid namespace is not listed.
func TestNamespacesSkipsForeignTables(t *testing.T) {
	s := open(t, nil)
	newNamespace(t, s, "listed")
	raw, err := rawSession(hosts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %q."Foreign" (a int PRIMARY KEY)`, testKeyspace)
	if err := raw.Query(q).Exec(); err != nil {
		t.Fatal(err)
	}
	defer raw.Query(fmt.Sprintf(`DROP TABLE IF EXISTS %q."Foreign"`, testKeyspace)).Exec()
	names, err := s.Namespaces(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "listed") || slices.Contains(names, "Foreign") {
		t.Errorf("Namespaces() = %q, want \"listed\" and not \"Foreign\"", names)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	ctx := context.Background()
	if _, err := cassandra.New(ctx, nil, nil); !errors.Is(err, cassandra.ErrOptions) {
		t.Errorf("no hosts: got %v, want ErrOptions", err)
	}
	if _, err := cassandra.New(ctx, []string{"127.0.0.1"}, &cassandra.Options{Keyspace: "Bad-Name"}); !errors.Is(err, cassandra.ErrOptions) {
		t.Errorf("bad keyspace: got %v, want ErrOptions", err)
	}
}

// TestKeyspaceDroppedUnderneath: when an operator drops the whole
// keyspace, the Store reports missing namespaces, not driver errors, and
// DropNamespace stays a no-op.
func TestKeyspaceDroppedUnderneath(t *testing.T) {
	ks := testKeyspace + "_gone"
	s := open(t, &cassandra.Options{Keyspace: ks})
	newNamespace(t, s, "doomed")
	raw, err := rawSession(hosts(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Query(fmt.Sprintf(`DROP KEYSPACE %q`, ks)).Exec(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Apply(ctx, "doomed", "r", []kv.Mutation{put("k", "v", 1)}); !errors.Is(err, kv.ErrNoNamespace) {
		t.Errorf("Apply: got %v, want ErrNoNamespace", err)
	}
	if _, err := s.Read(ctx, "doomed", "r", kv.Query{}); !errors.Is(err, kv.ErrNoNamespace) {
		t.Errorf("Read: got %v, want ErrNoNamespace", err)
	}
	if err := s.DropNamespace(ctx, "doomed"); err != nil {
		t.Errorf("DropNamespace: got %v, want nil", err)
	}
	if names, err := s.Namespaces(ctx); err != nil || len(names) != 0 {
		t.Errorf("Namespaces: got %q, %v; want none", names, err)
	}
	// CreateNamespace makes the keyspace again.
	if err := s.CreateNamespace(ctx, "doomed"); err != nil {
		t.Fatalf("CreateNamespace after the keyspace was dropped: %v", err)
	}
	if err := s.Apply(ctx, "doomed", "r", []kv.Mutation{put("k", "v", 1)}); err != nil {
		t.Errorf("Apply after re-creation: %v", err)
	}
}
