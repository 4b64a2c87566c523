package cassandra

import (
	"fmt"
	"sync/atomic"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// The table of one namespace, in the shape of Netflix's KV DAL (frozen:
// data written under it must stay readable):
//
//	CREATE TABLE "<keyspace>"."<namespace>" (
//	    id             text,   -- record id: the partition key
//	    key            blob,   -- item key: the clustering column
//	    value          blob,   -- item value, never null
//	    value_metadata blob,   -- kv.Mutation.Metadata; empty blob when none
//	    PRIMARY KEY (id, key)
//	) WITH CLUSTERING ORDER BY (key ASC|DESC)
//
// Blob clustering keys compare as unsigned bytes, which is bytes.Compare
// order; the empty key is a valid clustering value and sorts first.

// Bounds of a range statement. A lower bound is inclusive (the query's
// Start) or exclusive (a cursor's last key when scanning upwards); an
// upper bound is always exclusive (the query's End, or a cursor's last key
// when scanning downwards).
const (
	lowerNone = iota
	lowerIncl
	lowerExcl
	nLower
)

// columns selected by every read; WRITETIME(value) is the winning write's
// timestamp, reported as kv.Item.Timestamp.
const readColumns = `key, value, value_metadata, WRITETIME(value)`

// table holds the CQL texts and settings of one namespace. Statements are
// built once per namespace; the driver prepares and caches each text on
// first use.
type table struct {
	name        string
	consistency gocql.Consistency

	create, drop string

	insert       string // args: id, key, value, meta, timestamp, ttl seconds
	deleteKey    string // args: timestamp, id, key
	deleteRecord string // args: timestamp, id
	// deleteRange[lower][hasUpper]: args timestamp, id, [start], [end].
	deleteRange [nLower][2]string

	// selectRange[lower][hasUpper][reverse]: args id, [lower], [upper].
	selectRange [nLower][2][2]string
	// selectKeys[reverse]: args id, keys.
	selectKeys [2]string
	selectKey  string // args: id, key

	idsFirst, idsFrom string // args: [token], limit

	// avgItem estimates the bytes of one item (key+value+metadata) from
	// recent reads, to size the rows fetched for a byte-budgeted Read.
	avgItem atomic.Int64
}

func newTable(keyspace, ns string, n Namespace) *table {
	q := fmt.Sprintf("%q.%q", keyspace, ns)
	t := &table{name: ns, consistency: n.Consistency}
	with := fmt.Sprintf("CLUSTERING ORDER BY (key %s)", n.Order.cql())
	if n.TableOptions != "" {
		with += " AND " + n.TableOptions
	}
	t.create = fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (id text, key blob, value blob, value_metadata blob, PRIMARY KEY (id, key)) WITH %s`, q, with)
	t.drop = fmt.Sprintf(`DROP TABLE IF EXISTS %s`, q)

	// TTL 0 means "no TTL" to Cassandra, so one statement serves both.
	t.insert = fmt.Sprintf(`INSERT INTO %s (id, key, value, value_metadata) VALUES (?, ?, ?, ?) USING TIMESTAMP ? AND TTL ?`, q)
	t.deleteKey = fmt.Sprintf(`DELETE FROM %s USING TIMESTAMP ? WHERE id = ? AND key = ?`, q)
	t.deleteRecord = fmt.Sprintf(`DELETE FROM %s USING TIMESTAMP ? WHERE id = ?`, q)
	for lower := range nLower {
		for upper := range 2 {
			where := rangeWhere(lower, upper == 1)
			t.deleteRange[lower][upper] = fmt.Sprintf(`DELETE FROM %s USING TIMESTAMP ? WHERE id = ?%s`, q, where)
			for rev := range 2 {
				t.selectRange[lower][upper][rev] = fmt.Sprintf(`SELECT %s FROM %s WHERE id = ?%s ORDER BY key %s`,
					readColumns, q, where, dir(rev == 1))
			}
		}
	}
	for rev := range 2 {
		t.selectKeys[rev] = fmt.Sprintf(`SELECT %s FROM %s WHERE id = ? AND key IN ? ORDER BY key %s`, readColumns, q, dir(rev == 1))
	}
	t.selectKey = fmt.Sprintf(`SELECT %s FROM %s WHERE id = ? AND key = ?`, readColumns, q)
	// SELECT DISTINCT returns only partitions with a live row, which is
	// exactly kv's "ids with at least one live item".
	t.idsFirst = fmt.Sprintf(`SELECT DISTINCT token(id), id FROM %s LIMIT ?`, q)
	t.idsFrom = fmt.Sprintf(`SELECT DISTINCT token(id), id FROM %s WHERE token(id) >= ? LIMIT ?`, q)
	t.avgItem.Store(256)
	return t
}

func rangeWhere(lower int, upper bool) string {
	w := ""
	switch lower {
	case lowerIncl:
		w += " AND key >= ?"
	case lowerExcl:
		w += " AND key > ?"
	}
	if upper {
		w += " AND key < ?"
	}
	return w
}

func dir(reverse bool) string {
	if reverse {
		return "DESC"
	}
	return "ASC"
}
