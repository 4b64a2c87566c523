// Package walbench compares edgekit/wal with SQLite in WAL mode
// (modernc.org/sqlite, the pure-Go transpilation of SQLite's C) on the same
// machine in the same run: commits per second at equal durability, page
// reads from a snapshot, and checkpoint throughput.
//
// Equivalence: a wal commit of k pages writes k whole 4 KiB pages. The SQLite
// side updates k rows whose 3,500-byte blobs each fill one leaf page of a
// 4 KiB-page table, so each of its commits also appends k page frames (the
// b-tree interior pages do not change). Both use a db file with 1,024 pages.
package walbench

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/edgekit/edgekit/wal"
	_ "modernc.org/sqlite"
)

const (
	pageSize = 4096
	nPages   = 1024
	blobSize = 3500
)

func openWAL(b *testing.B, sm wal.SyncMode) *wal.Store {
	b.Helper()
	st, err := wal.Open(filepath.Join(b.TempDir(), "bench.db"), &wal.Options{PageSize: pageSize, Sync: sm})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	tx, _ := st.Begin(ctx)
	page := make([]byte, pageSize)
	for pg := uint32(1); pg <= nPages; pg++ {
		page[0] = byte(pg)
		tx.WritePage(pg, page)
	}
	if err := tx.Commit(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := st.Checkpoint(ctx, wal.Truncate); err != nil {
		b.Fatal(err)
	}
	return st
}

func openSQLite(b *testing.B, sync string, conns int) *sql.DB {
	b.Helper()
	dsn := "file:" + filepath.Join(b.TempDir(), "bench.db") +
		"?_pragma=page_size(4096)&_pragma=journal_mode(WAL)&_pragma=synchronous(" + sync +
		")&_pragma=busy_timeout(60000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if _, err := db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)"); err != nil {
		b.Fatal(err)
	}
	tx, _ := db.Begin()
	blob := make([]byte, blobSize)
	for i := 1; i <= nPages; i++ {
		tx.Exec("INSERT INTO t(id, v) VALUES(?, ?)", i, blob)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	return db
}

// walCommit commits k random pages.
func walCommit(st *wal.Store, rng *rand.Rand, page []byte, k int) error {
	ctx := context.Background()
	tx, err := st.Begin(ctx)
	if err != nil {
		return err
	}
	for range k {
		page[0]++
		tx.WritePage(1+rng.Uint32N(nPages), page)
	}
	return tx.Commit(ctx)
}

// sqliteCommit updates k random rows in one transaction.
func sqliteCommit(db *sql.DB, rng *rand.Rand, blob []byte, k int) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	for range k {
		blob[0]++
		if _, err := tx.Exec("UPDATE t SET v = ? WHERE id = ?", blob, 1+rng.IntN(nPages)); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// BenchmarkCommit reports commits/s (and ns/op per commit). Sub-benchmark
// names: engine / pages per commit / durability / committing goroutines.
// wal full and SQLite FULL fsync every commit; wal group fsyncs every commit
// too but shares fsyncs between concurrent committers; wal normal and
// SQLite NORMAL do not fsync at commit.
func BenchmarkCommit(b *testing.B) {
	for _, k := range []int{1, 16} {
		for _, c := range []struct {
			engine, sync string
			goroutines   int
		}{
			{"wal", "full", 1}, {"wal", "full", 8}, {"wal", "group", 8}, {"wal", "normal", 1},
			{"sqlite", "FULL", 1}, {"sqlite", "FULL", 8}, {"sqlite", "NORMAL", 1},
		} {
			name := fmt.Sprintf("engine=%s/pages=%d/sync=%s/goroutines=%d", c.engine, k, c.sync, c.goroutines)
			b.Run(name, func(b *testing.B) {
				var commit func(rng *rand.Rand, buf []byte) error
				bufSize := pageSize
				switch c.engine {
				case "wal":
					sm := map[string]wal.SyncMode{"full": wal.SyncFull, "group": wal.SyncGroup, "normal": wal.SyncNormal}[c.sync]
					st := openWAL(b, sm)
					defer st.Close()
					commit = func(rng *rand.Rand, buf []byte) error { return walCommit(st, rng, buf, k) }
					before := st.Stats()
					defer func() {
						// How many commits each WAL fsync made durable.
						s := st.Stats()
						if syncs := s.WALSyncs - before.WALSyncs; syncs > 0 {
							b.ReportMetric(float64(s.Commits-before.Commits)/float64(syncs), "commits/fsync")
						}
					}()
				default:
					db := openSQLite(b, c.sync, c.goroutines)
					defer db.Close()
					bufSize = blobSize
					commit = func(rng *rand.Rand, buf []byte) error { return sqliteCommit(db, rng, buf, k) }
				}
				runCommits(b, c.goroutines, bufSize, commit)
			})
		}
	}
}

func runCommits(b *testing.B, goroutines, bufSize int, commit func(*rand.Rand, []byte) error) {
	b.ReportAllocs()
	var seed atomic.Uint64
	b.ResetTimer()
	if goroutines == 1 {
		rng := rand.New(rand.NewPCG(1, 1))
		buf := make([]byte, bufSize)
		for b.Loop() {
			if err := commit(rng, buf); err != nil {
				b.Fatal(err)
			}
		}
	} else {
		b.SetParallelism((goroutines + 1) / 2) // GOMAXPROCS=2 here: 4×2 = 8 goroutines
		b.RunParallel(func(pb *testing.PB) {
			rng := rand.New(rand.NewPCG(seed.Add(1), 2))
			buf := make([]byte, bufSize)
			for pb.Next() {
				if err := commit(rng, buf); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}

// BenchmarkSnapshotRead reads random pages from one snapshot; half the
// pages have a newer version in the WAL, half are read from the db file.
// The SQLite line reads one row by primary key inside one read transaction.
func BenchmarkSnapshotRead(b *testing.B) {
	b.Run("engine=wal", func(b *testing.B) {
		st := openWAL(b, wal.SyncNormal)
		defer st.Close()
		rng := rand.New(rand.NewPCG(3, 3))
		page := make([]byte, pageSize)
		for range nPages / 2 {
			walCommit(st, rng, page, 1)
		}
		r, _ := st.Snapshot()
		defer r.Close()
		b.ReportAllocs()
		b.SetBytes(pageSize)
		for b.Loop() {
			if err := r.ReadPage(1+rng.Uint32N(nPages), page); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	})
	b.Run("engine=sqlite", func(b *testing.B) {
		db := openSQLite(b, "NORMAL", 1)
		defer db.Close()
		rng := rand.New(rand.NewPCG(3, 3))
		blob := make([]byte, blobSize)
		for range nPages / 2 {
			sqliteCommit(db, rng, blob, 1)
		}
		tx, _ := db.Begin()
		defer tx.Rollback()
		stmt, _ := tx.Prepare("SELECT v FROM t WHERE id = ?")
		b.ReportAllocs()
		b.SetBytes(pageSize)
		var v []byte
		for b.Loop() {
			if err := stmt.QueryRow(1 + rng.IntN(nPages)).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	})
}

// BenchmarkCheckpoint measures a TRUNCATE checkpoint of a WAL holding a new
// version of all 1,024 pages (4 MiB), including the db fsync; MB/s counts
// page bytes copied.
func BenchmarkCheckpoint(b *testing.B) {
	b.Run("engine=wal", func(b *testing.B) {
		st := openWAL(b, wal.SyncNormal)
		defer st.Close()
		page := make([]byte, pageSize)
		ctx := context.Background()
		b.SetBytes(nPages * pageSize)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			tx, _ := st.Begin(ctx)
			page[0]++
			for pg := uint32(1); pg <= nPages; pg++ {
				tx.WritePage(pg, page)
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := st.Checkpoint(ctx, wal.Truncate); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("engine=sqlite", func(b *testing.B) {
		db := openSQLite(b, "NORMAL", 1)
		defer db.Close()
		db.Exec("PRAGMA wal_autocheckpoint=0")
		blob := make([]byte, blobSize)
		b.SetBytes(nPages * pageSize)
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			blob[0]++
			if _, err := db.Exec("UPDATE t SET v = ?", blob); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
