package cassandra

import (
	"errors"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
)

func TestSettingsDefaults(t *testing.T) {
	s, err := (*Options)(nil).settings()
	if err != nil {
		t.Fatal(err)
	}
	if s.keyspace != DefaultKeyspace || s.pageSize != DefaultPageSize || s.hedgeDelay != 0 || s.logger == nil {
		t.Errorf("defaults: got keyspace %q pageSize %d hedge %v logger %v", s.keyspace, s.pageSize, s.hedgeDelay, s.logger)
	}
	if want := "{'class': 'SimpleStrategy', 'replication_factor': '1'}"; s.replication != want {
		t.Errorf("replication: got %s, want %s", s.replication, want)
	}
	if n := s.namespace("x"); n.Consistency != gocql.LocalQuorum || n.Order != Ascending {
		t.Errorf("namespace defaults: got %+v", n)
	}
}

func TestSettingsOverrides(t *testing.T) {
	s, err := (&Options{
		Keyspace:    "ks_1",
		Replication: map[string]string{"class": "NetworkTopologyStrategy", "dc1": "3"},
		Default:     Namespace{Consistency: gocql.One},
		Namespaces:  map[string]Namespace{"events": {Order: Descending}},
		HedgeDelay:  5 * time.Millisecond,
	}).settings()
	if err != nil {
		t.Fatal(err)
	}
	if want := "{'class': 'NetworkTopologyStrategy', 'dc1': '3'}"; s.replication != want {
		t.Errorf("replication: got %s, want %s", s.replication, want)
	}
	if n := s.namespace("other"); n.Consistency != gocql.One {
		t.Errorf("default namespace consistency: got %v, want ONE", n.Consistency)
	}
	if n := s.namespace("events"); n.Consistency != gocql.LocalQuorum || n.Order != Descending {
		t.Errorf("events: got %+v, want LOCAL_QUORUM, Descending", n)
	}
	if s.hedgeN != 1 || s.hedgeDelay != 5*time.Millisecond {
		t.Errorf("hedge: got %d attempts after %v, want 1 after 5ms", s.hedgeN, s.hedgeDelay)
	}
}

func TestSettingsRejects(t *testing.T) {
	for name, o := range map[string]Options{
		"keyspace-upper":   {Keyspace: "Edge"},
		"keyspace-quote":   {Keyspace: `a"b`},
		"keyspace-long":    {Keyspace: strings.Repeat("k", 49)},
		"replication-quo":  {Replication: map[string]string{"class": "x'y"}},
		"page-negative":    {PageSize: -1},
		"hedge-negative":   {HedgeDelay: -time.Second},
		"cursor-key-short": {CursorKey: []byte("short")},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := o.settings(); !errors.Is(err, ErrOptions) {
				t.Errorf("got %v, want ErrOptions", err)
			}
		})
	}
}

// TestStatements pins the CQL of a namespace table: the Netflix shape and
// one tombstone per delete kind.
func TestStatements(t *testing.T) {
	tb := newTable("ks", "ns", Namespace{Order: Descending, TableOptions: "gc_grace_seconds = 3600", Consistency: gocql.One})
	for _, c := range []struct{ got, want string }{
		{tb.create, `CREATE TABLE IF NOT EXISTS "ks"."ns" (id text, key blob, value blob, value_metadata blob, PRIMARY KEY (id, key)) WITH CLUSTERING ORDER BY (key DESC) AND gc_grace_seconds = 3600`},
		{tb.insert, `INSERT INTO "ks"."ns" (id, key, value, value_metadata) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`},
		{tb.deleteRange[lowerIncl][1], `DELETE FROM "ks"."ns" USING TIMESTAMP ? WHERE id = ? AND key >= ? AND key < ?`},
		{tb.selectRange[lowerExcl][0][1], `SELECT key, value, value_metadata, WRITETIME(value) FROM "ks"."ns" WHERE id = ? AND key > ? ORDER BY key DESC`},
		{tb.selectKeys[0], `SELECT key, value, value_metadata, WRITETIME(value) FROM "ks"."ns" WHERE id = ? AND key IN ? ORDER BY key ASC`},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

// TestMutationStatements checks which statement each mutation becomes.
func TestMutationStatements(t *testing.T) {
	tb := newTable("ks", "ns", Namespace{})
	b := func(s string) []byte { return []byte(s) }
	for _, c := range []struct {
		name  string
		m     kv.Mutation
		stmt  string
		nargs int
	}{
		{"put", kv.Mutation{Op: kv.OpPut, Key: b("k"), Value: b("v"), TTL: 1500 * time.Millisecond, Timestamp: 1}, tb.insert, 6},
		{"delete", kv.Mutation{Op: kv.OpDelete, Key: b("k"), Timestamp: 1}, tb.deleteKey, 3},
		{"record", kv.Mutation{Op: kv.OpDeleteRecord, Timestamp: 1}, tb.deleteRecord, 2},
		{"range", kv.Mutation{Op: kv.OpDeleteRange, Key: b("a"), End: b("b"), Timestamp: 1}, tb.deleteRange[lowerIncl][1], 4},
		{"range-open-start", kv.Mutation{Op: kv.OpDeleteRange, End: b("b"), Timestamp: 1}, tb.deleteRange[lowerNone][1], 3},
		{"range-empty-start", kv.Mutation{Op: kv.OpDeleteRange, Key: b(""), End: b("b"), Timestamp: 1}, tb.deleteRange[lowerNone][1], 3},
		{"range-open-end", kv.Mutation{Op: kv.OpDeleteRange, Key: b("a"), Timestamp: 1}, tb.deleteRange[lowerIncl][0], 3},
		{"range-all", kv.Mutation{Op: kv.OpDeleteRange, Timestamp: 1}, tb.deleteRecord, 2},
		{"range-empty", kv.Mutation{Op: kv.OpDeleteRange, Key: b("b"), End: b("b"), Timestamp: 1}, "", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			stmt, args := tb.statement("id", &c.m)
			if stmt != c.stmt || len(args) != c.nargs {
				t.Errorf("got %q with %d args, want %q with %d", stmt, len(args), c.stmt, c.nargs)
			}
		})
	}
	// TTLs round up to whole seconds.
	_, args := tb.statement("id", &kv.Mutation{Op: kv.OpPut, Value: []byte{}, TTL: 1500 * time.Millisecond, Timestamp: 1})
	if got := args[5].(int); got != 2 {
		t.Errorf("TTL 1.5s: got %d s, want 2", got)
	}
}

func TestReadStatement(t *testing.T) {
	tb := newTable("ks", "ns", Namespace{})
	b := func(s string) []byte { return []byte(s) }
	for _, c := range []struct {
		name  string
		q     kv.Query
		pos   readPos
		stmt  string
		nargs int
	}{
		{"all", kv.Query{}, readPos{}, tb.selectRange[lowerNone][0][0], 1},
		{"empty-start", kv.Query{Start: b("")}, readPos{}, tb.selectRange[lowerNone][0][0], 1},
		{"bounded", kv.Query{Start: b("a"), End: b("c")}, readPos{}, tb.selectRange[lowerIncl][1][0], 3},
		{"after-up", kv.Query{Start: b("a"), End: b("c")}, readPos{hasLast: true, last: b("b")}, tb.selectRange[lowerExcl][1][0], 3},
		{"after-down", kv.Query{Start: b("a"), Reverse: true}, readPos{hasLast: true, last: b("b")}, tb.selectRange[lowerIncl][1][1], 3},
		{"after-down-at-start", kv.Query{Start: b("b"), Reverse: true}, readPos{hasLast: true, last: b("b")}, "", 0},
		{"after-down-empty-key", kv.Query{Reverse: true}, readPos{hasLast: true, last: b("")}, "", 0},
		{"empty-end", kv.Query{End: b("")}, readPos{}, "", 0},
		{"start-is-end", kv.Query{Start: b("m"), End: b("m")}, readPos{}, "", 0},
		{"keys", kv.Query{Keys: [][]byte{b("b"), b("a")}}, readPos{}, tb.selectKeys[0], 2},
		{"keys-after-last", kv.Query{Keys: [][]byte{b("b"), b("a")}}, readPos{hasLast: true, last: b("b")}, "", 0},
		{"keys-reverse-after", kv.Query{Keys: [][]byte{b("c"), b("b"), b("a")}, Reverse: true}, readPos{hasLast: true, last: b("c")}, tb.selectKeys[1], 2},
		{"one-key", kv.Query{Keys: [][]byte{b("b"), b("b")}}, readPos{}, tb.selectKey, 2},
		{"one-key-left", kv.Query{Keys: [][]byte{b("b"), b("a")}, Reverse: true}, readPos{hasLast: true, last: b("b")}, tb.selectKey, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var keys [][]byte
			if c.q.Keys != nil {
				keys = scanOrder(c.q.Keys, c.q.Reverse)
			}
			stmt, args := tb.readStatement("id", c.q, keys, c.pos)
			if stmt != c.stmt || len(args) != c.nargs {
				t.Errorf("got %q with %d args, want %q with %d", stmt, len(args), c.stmt, c.nargs)
			}
		})
	}
}

func TestScanOrder(t *testing.T) {
	got := scanOrder([][]byte{[]byte("b"), nil, []byte("a"), []byte("b"), {}}, true)
	want := []string{"b", "a", ""}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if string(got[i]) != want[i] || got[i] == nil {
			t.Errorf("got %q, want %q (no nil keys)", got, want)
		}
	}
}
