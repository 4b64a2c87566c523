package kv_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	bolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal"
)

// item is one write: record id, item key, value. Engines without a record
// level store id+"/"+key as their key, so every engine holds the same data
// in the same order.
type item struct {
	id  string
	key []byte
	val []byte
}

// engine is the work every store does. Every write commits durably: an
// fsync (or fdatasync) of the log before put returns.
type engine interface {
	// put writes the items in one atomic, durable commit. All items of one
	// call share an id (a kv Apply is per record).
	put(items []item) error
	get(id string, key []byte) ([]byte, error)
	// scan reads n items of record id in key order and returns the bytes.
	scan(id string, n int) (int, error)
	close() error
}

// cacheBytes is every engine's page/block cache in the benchmarks.
type engineOpts struct {
	cacheBytes int64
}

type opener func(b testing.TB, dir string, o engineOpts) engine

var engines = []struct {
	name string
	open opener
}{
	{"local", openLocal},
	{"bbolt", openBolt},
	{"pebble", openPebble},
	{"sqlite", openSQLite},
}

func flatKey(id string, key []byte) []byte {
	k := make([]byte, 0, len(id)+1+len(key))
	k = append(k, id...)
	k = append(k, '/')
	return append(k, key...)
}

// --- kv/local

type localEngine struct{ s *local.Store }

func openLocal(b testing.TB, dir string, o engineOpts) engine {
	s, err := local.Open(filepath.Join(dir, "kv.db"), &local.Options{CacheSize: o.cacheBytes, Sync: wal.SyncFull, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.CreateNamespace(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	return &localEngine{s: s}
}

var tsCounter atomic.Int64

func (e *localEngine) put(items []item) error {
	muts := make([]kv.Mutation, len(items))
	for i, it := range items {
		muts[i] = kv.Mutation{Op: kv.OpPut, Key: it.key, Value: it.val, Timestamp: tsCounter.Add(1)}
	}
	return e.s.Apply(context.Background(), "bench", items[0].id, muts)
}

func (e *localEngine) get(id string, key []byte) ([]byte, error) {
	res, err := e.s.Read(context.Background(), "bench", id, kv.Query{Keys: [][]byte{key}})
	if err != nil || len(res.Items) == 0 {
		return nil, fmt.Errorf("local get %s/%x: %v", id, key, err)
	}
	return res.Items[0].Value, nil
}

func (e *localEngine) scan(id string, n int) (int, error) {
	res, err := e.s.Read(context.Background(), "bench", id, kv.Query{Limit: n})
	total := 0
	for _, it := range res.Items {
		total += len(it.Value)
	}
	if err == nil && len(res.Items) != n {
		err = fmt.Errorf("local scan: %d items, want %d", len(res.Items), n)
	}
	return total, err
}

func (e *localEngine) close() error { return e.s.Close() }

// --- bbolt

type boltEngine struct{ db *bolt.DB }

var boltBucket = []byte("bench")

func openBolt(b testing.TB, dir string, o engineOpts) engine {
	// bbolt has no cache of its own: it reads through mmap, so the OS page
	// cache plays that part and cacheBytes does not apply.
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists(boltBucket); return err }); err != nil {
		b.Fatal(err)
	}
	return &boltEngine{db: db}
}

func (e *boltEngine) put(items []item) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(boltBucket)
		for _, it := range items {
			if err := bk.Put(flatKey(it.id, it.key), it.val); err != nil {
				return err
			}
		}
		return nil
	})
}

func (e *boltEngine) get(id string, key []byte) ([]byte, error) {
	var out []byte
	err := e.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(flatKey(id, key))
		if v == nil {
			return fmt.Errorf("bolt get: missing")
		}
		out = bytes.Clone(v)
		return nil
	})
	return out, err
}

func (e *boltEngine) scan(id string, n int) (int, error) {
	total, got := 0, 0
	err := e.db.View(func(tx *bolt.Tx) error {
		prefix := []byte(id + "/")
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && got < n; k, v = c.Next() {
			total += len(bytes.Clone(v))
			got++
		}
		return nil
	})
	if err == nil && got != n {
		err = fmt.Errorf("bolt scan: %d items, want %d", got, n)
	}
	return total, err
}

func (e *boltEngine) close() error { return e.db.Close() }

// --- pebble

type pebbleEngine struct {
	db    *pebble.DB
	cache *pebble.Cache
}

func openPebble(b testing.TB, dir string, o engineOpts) engine {
	c := pebble.NewCache(o.cacheBytes)
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Cache: c, Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	return &pebbleEngine{db: db, cache: c}
}

// quietLogger drops pebble's informational logging from benchmark output.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)         {}
func (quietLogger) Errorf(f string, args ...any) { fmt.Fprintf(os.Stderr, f+"\n", args...) }
func (quietLogger) Fatalf(f string, args ...any) { panic(fmt.Sprintf(f, args...)) }

func (e *pebbleEngine) put(items []item) error {
	if len(items) == 1 {
		return e.db.Set(flatKey(items[0].id, items[0].key), items[0].val, pebble.Sync)
	}
	bt := e.db.NewBatch()
	for _, it := range items {
		if err := bt.Set(flatKey(it.id, it.key), it.val, nil); err != nil {
			return err
		}
	}
	return bt.Commit(pebble.Sync)
}

func (e *pebbleEngine) get(id string, key []byte) ([]byte, error) {
	v, closer, err := e.db.Get(flatKey(id, key))
	if err != nil {
		return nil, err
	}
	out := bytes.Clone(v)
	closer.Close()
	return out, nil
}

func (e *pebbleEngine) scan(id string, n int) (int, error) {
	prefix := []byte(id + "/")
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: []byte(id + "0")})
	if err != nil {
		return 0, err
	}
	total, got := 0, 0
	for it.First(); it.Valid() && got < n; it.Next() {
		total += len(bytes.Clone(it.Value()))
		got++
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	if got != n {
		return 0, fmt.Errorf("pebble scan: %d items, want %d", got, n)
	}
	return total, nil
}

func (e *pebbleEngine) close() error {
	err := e.db.Close()
	e.cache.Unref()
	return err
}

// --- SQLite (modernc.org/sqlite), WAL mode, synchronous=FULL

type sqliteEngine struct {
	db                *sql.DB
	getStmt, scanStmt *sql.Stmt
}

func openSQLite(b testing.TB, dir string, o engineOpts) engine {
	pages := o.cacheBytes / 4096
	dsn := fmt.Sprintf("file:%s?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=cache_size(%d)&_pragma=page_size(4096)",
		filepath.Join(dir, "sqlite.db"), pages)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: its page cache is the cache
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`); err != nil {
		b.Fatal(err)
	}
	e := &sqliteEngine{db: db}
	if e.getStmt, err = db.Prepare(`SELECT v FROM kv WHERE k = ?`); err != nil {
		b.Fatal(err)
	}
	if e.scanStmt, err = db.Prepare(`SELECT v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?`); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *sqliteEngine) put(items []item) error {
	tx, err := e.db.Begin()
	if err != nil {
		return err
	}
	st, err := tx.Prepare(`INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)`)
	if err != nil {
		tx.Rollback()
		return err
	}
	for _, it := range items {
		if _, err := st.Exec(flatKey(it.id, it.key), it.val); err != nil {
			tx.Rollback()
			return err
		}
	}
	st.Close()
	return tx.Commit()
}

func (e *sqliteEngine) get(id string, key []byte) ([]byte, error) {
	var v []byte
	err := e.getStmt.QueryRow(flatKey(id, key)).Scan(&v)
	return v, err
}

func (e *sqliteEngine) scan(id string, n int) (int, error) {
	rows, err := e.scanStmt.Query([]byte(id+"/"), []byte(id+"0"), n)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	total, got := 0, 0
	for rows.Next() {
		var v []byte
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
		total += len(v)
		got++
	}
	if got != n {
		return 0, fmt.Errorf("sqlite scan: %d items, want %d", got, n)
	}
	return total, rows.Err()
}

func (e *sqliteEngine) close() error {
	e.getStmt.Close()
	e.scanStmt.Close()
	return e.db.Close()
}
