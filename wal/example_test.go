package wal_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/edgekit/edgekit/wal"
	"github.com/edgekit/edgekit/wal/vfs"
)

func Example() {
	ctx := context.Background()
	st, err := wal.Open("demo.db", &wal.Options{PageSize: 512, FS: vfs.NewMem()})
	if err != nil {
		panic(err)
	}
	defer st.Close()

	tx, _ := st.Begin(ctx)
	tx.WritePage(1, bytes.Repeat([]byte{'a'}, 512))
	tx.WritePage(2, bytes.Repeat([]byte{'b'}, 512))
	if err := tx.Commit(ctx); err != nil {
		panic(err)
	}

	snap, _ := st.Snapshot() // pinned at the first commit
	defer snap.Close()

	tx, _ = st.Begin(ctx)
	tx.WritePage(1, bytes.Repeat([]byte{'A'}, 512))
	tx.Commit(ctx)

	page := make([]byte, 512)
	snap.ReadPage(1, page)
	fmt.Printf("snapshot sees %q, %d pages\n", page[0], snap.PageCount())

	res, _ := st.Checkpoint(ctx, wal.Passive)
	fmt.Printf("passive checkpoint: log=%d checkpointed=%d (held back by the snapshot)\n", res.LogFrames, res.Checkpointed)
	snap.Close()
	res, _ = st.Checkpoint(ctx, wal.Truncate)
	fmt.Printf("truncate checkpoint: log=%d checkpointed=%d\n", res.LogFrames, res.Checkpointed)

	latest, _ := st.Snapshot()
	defer latest.Close()
	latest.ReadPage(1, page)
	fmt.Printf("latest sees %q\n", page[0])
	// Output:
	// snapshot sees 'a', 2 pages
	// passive checkpoint: log=3 checkpointed=2 (held back by the snapshot)
	// truncate checkpoint: log=0 checkpointed=0
	// latest sees 'A'
}
