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

// ExampleSnapshot_ReadPages reads three consecutive pages with one call,
// each page's first 8 bytes (a header the caller does not keep) into one
// scratch buffer and the rest into place in one body buffer. Page 2 was
// rewritten by a later commit, so the run is read in three stretches:
// the first commit's frame of page 1, the second commit's frame of page 2,
// and page 3 from the first commit again.
func ExampleSnapshot_ReadPages() {
	ctx := context.Background()
	st, err := wal.Open("demo.db", &wal.Options{PageSize: 512, FS: vfs.NewMem()})
	if err != nil {
		panic(err)
	}
	defer st.Close()
	page := func(hdr, body byte) []byte {
		return append(bytes.Repeat([]byte{hdr}, 8), bytes.Repeat([]byte{body}, 504)...)
	}
	tx, _ := st.Begin(ctx)
	tx.WritePage(1, page('h', 'a'))
	tx.WritePage(2, page('h', 'b'))
	tx.WritePage(3, page('h', 'c'))
	tx.Commit(ctx)
	tx, _ = st.Begin(ctx)
	tx.WritePage(2, page('H', 'B'))
	tx.Commit(ctx)

	snap, _ := st.Snapshot()
	defer snap.Close()
	scratch := make([]byte, 8)
	body := make([]byte, 3*504)
	var bufs [][]byte
	for i := range 3 {
		bufs = append(bufs, scratch, body[i*504:(i+1)*504])
	}
	if err := snap.ReadPages(1, bufs); err != nil {
		panic(err)
	}
	fmt.Printf("%c%c%c, last header %q\n", body[0], body[504], body[1008], scratch[0])
	// Output: aBc, last header 'h'
}
