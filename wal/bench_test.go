package wal_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

// These measure the package's own CPU cost on a memory file system (no
// fsync); bench/wal compares against SQLite on a real disk.

func BenchmarkCommitMem(b *testing.B) {
	for _, k := range []int{1, 16} {
		b.Run(fmt.Sprintf("pages=%d", k), func(b *testing.B) {
			st, _ := wal.Open("/b.db", &wal.Options{FS: vfs.NewMem()})
			defer st.Close()
			page := make([]byte, wal.DefaultPageSize)
			rng := rand.New(rand.NewPCG(1, 1))
			ctx := context.Background()
			b.ReportAllocs()
			b.SetBytes(int64(k * wal.DefaultPageSize))
			for b.Loop() {
				tx, _ := st.Begin(ctx)
				for range k {
					tx.WritePage(1+rng.Uint32N(1024), page)
				}
				if err := tx.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSnapshotReadMem(b *testing.B) {
	st, _ := wal.Open("/b.db", &wal.Options{FS: vfs.NewMem(), AutoCheckpoint: -1})
	defer st.Close()
	page := make([]byte, wal.DefaultPageSize)
	rng := rand.New(rand.NewPCG(1, 1))
	ctx := context.Background()
	for range 5000 { // 5000 frames: two wal-index blocks
		tx, _ := st.Begin(ctx)
		tx.WritePage(1+rng.Uint32N(1024), page)
		tx.Commit(ctx)
	}
	r, _ := st.Snapshot()
	defer r.Close()
	n := r.PageCount()
	b.ReportAllocs()
	b.SetBytes(wal.DefaultPageSize)
	for b.Loop() {
		if err := r.ReadPage(1+rng.Uint32N(n), page); err != nil {
			b.Fatal(err)
		}
	}
}
