package btree

import (
	"crypto/rand"
	"errors"
	"fmt"
)

// PageReader reads pages of one snapshot. Pages are numbered from 1.
// ReadPage fills buf (exactly one page) with page pg as of the snapshot.
type PageReader interface {
	ReadPage(pg uint32, buf []byte) error
	// PageCount is the size of the database in pages at this snapshot; 0
	// for a file that was never written.
	PageCount() uint32
}

// PageWriter is a write transaction's view: reads see its own writes.
type PageWriter interface {
	PageReader
	WritePage(pg uint32, data []byte) error
}

// ErrReadOnly is returned when a read transaction is asked to write.
var ErrReadOnly = errors.New("edgekit/kv/local: read-only transaction")

// Tx is one transaction over the tree file: a snapshot reader, or the single
// writer. A Tx is not safe for concurrent use.
type Tx struct {
	r     PageReader
	w     PageWriter // nil for readers
	cache *Cache
	ps    int
	snap  uint64 // the commit this transaction reads (meta.txid, counted in memory)
	meta  meta
	// nocache: the snapshot is newer than the cache's latest commit (a
	// commit is durable but not yet published), so cached pages may be
	// stale for it; it reads everything from the pager.
	nocache bool

	dirty   map[uint32]*node  // tree pages changed by this writer
	trunks  map[uint32]*trunk // free-list trunks changed by this writer
	direct  []uint32          // pages written straight to the pager (overflow)
	freed   []uint32          // pages freed by this writer
	metaDty bool
	mods    int // changes made so far, for callers detecting partial work
}

// Begin starts a transaction over the pager snapshot r, or the pager write
// transaction w (r is then ignored). The snapshot's commit number is read
// from its meta page. A writer on an empty file creates the meta page and an
// empty catalog tree.
func Begin(r PageReader, w PageWriter, cache *Cache, pageSize int) (*Tx, error) {
	if !ValidPageSize(pageSize) {
		return nil, fmt.Errorf("edgekit/kv/local: page size %d is not a power of two in [%d, %d]", pageSize, MinPageSize, MaxPageSize)
	}
	tx := &Tx{r: r, w: w, cache: cache, ps: pageSize}
	if w != nil {
		tx.r = w
		tx.dirty = make(map[uint32]*node)
		tx.trunks = make(map[uint32]*trunk)
	}
	if tx.r.PageCount() == 0 {
		if w == nil {
			return nil, errEmpty
		}
		return tx, tx.initEmpty()
	}
	buf := make([]byte, pageSize)
	if err := tx.r.ReadPage(1, buf); err != nil {
		return nil, err
	}
	m, err := decodeMeta(buf)
	if err != nil {
		return nil, err
	}
	tx.meta = m
	// Commits are counted in memory (the meta page is written only when
	// its allocation fields change). The writer's base is the newest
	// published commit, since writers are serialized and publish before
	// the next begins. A reader that had to read the meta page does not
	// know which commit its snapshot is, so it bypasses the cache.
	if w != nil {
		tx.snap = cache.Latest()
	} else {
		tx.nocache = true
	}
	tx.meta.txid = tx.snap
	return tx, nil
}

// Meta is the decoded meta page of one commit, opaque outside this package.
// A caller that knows which commit a pager snapshot shows can pass it to
// BeginAt and skip reading page 1.
type Meta struct{ m meta }

// Meta returns the meta page this transaction read, or, after Commit, the
// one it committed, with its commit number.
func (tx *Tx) Meta() *Meta { return &Meta{m: tx.meta} }

// MetaAs returns the meta page this transaction read, labelled as commit
// txid (for a Store that starts counting commits at Open).
func (tx *Tx) MetaAs(txid uint64) *Meta {
	m := tx.meta
	m.txid = txid
	return &Meta{m: m}
}

// BeginAt starts a read transaction over snapshot r, whose meta page the
// caller knows to be m.
func BeginAt(r PageReader, cache *Cache, pageSize int, m *Meta) *Tx {
	return &Tx{r: r, cache: cache, ps: pageSize, meta: m.m, snap: m.m.txid, nocache: m.m.txid > cache.Latest()}
}

// BeginWriteAt starts the write transaction over w, whose last commit the
// caller knows to have meta page m (the Meta of the previous writer, after
// Commit). It skips reading and decoding page 1, a page read per commit.
// If m is not the cache's latest commit it falls back to Begin.
func BeginWriteAt(w PageWriter, cache *Cache, pageSize int, m *Meta) (*Tx, error) {
	if m == nil || m.m.txid != cache.Latest() || w.PageCount() != m.m.pageCount || !ValidPageSize(pageSize) {
		return Begin(nil, w, cache, pageSize)
	}
	return &Tx{r: w, w: w, cache: cache, ps: pageSize, meta: m.m, snap: m.m.txid,
		dirty: make(map[uint32]*node), trunks: make(map[uint32]*trunk)}, nil
}

// errEmpty: a reader found a file that no writer has initialised yet.
var errEmpty = errors.New("edgekit/kv/local: empty file")

// IsEmpty reports whether err means the file was never initialised.
func IsEmpty(err error) bool { return errors.Is(err, errEmpty) }

func (tx *Tx) initEmpty() error {
	tx.meta = meta{pageSize: uint32(tx.ps), pageCount: 2, catalog: 2}
	if _, err := rand.Read(tx.meta.secret[:]); err != nil {
		return err
	}
	tx.metaDty = true
	tx.dirty[2] = &node{typ: typeLeaf, size: headerSize}
	return nil
}

// Writable reports whether tx is a write transaction.
func (tx *Tx) Writable() bool { return tx.w != nil }

// Catalog returns the root page of the catalog tree.
func (tx *Tx) Catalog() uint32 { return tx.meta.catalog }

// Secret returns the file's random 16-byte secret (for cursor MACs).
func (tx *Tx) Secret() [16]byte { return tx.meta.secret }

// PageCount returns the file's size in pages as this transaction sees it.
func (tx *Tx) PageCount() uint32 { return tx.meta.pageCount }

// FreeCount returns the number of pages on the free list.
func (tx *Tx) FreeCount() uint32 { return tx.meta.freeCount }

// PageSize returns the page size.
func (tx *Tx) PageSize() int { return tx.ps }

func (tx *Tx) checkPage(pg uint32) error {
	if pg < 2 || pg > tx.meta.pageCount {
		return corrupt(pg, "page reference out of range (file has %d pages)", tx.meta.pageCount)
	}
	return nil
}

// node returns page pg decoded, from this writer's dirty set, the cache, or
// the pager (in that order).
func (tx *Tx) node(pg uint32) (*node, error) {
	if n, ok := tx.dirty[pg]; ok {
		return n, nil
	}
	if err := tx.checkPage(pg); err != nil {
		return nil, err
	}
	if v := tx.cacheGet(pg); v != nil {
		if n, ok := v.(*node); ok {
			return n, nil
		}
		return nil, corrupt(pg, "expected a tree page, cache holds a free-list trunk")
	}
	buf := make([]byte, tx.ps)
	if err := tx.r.ReadPage(pg, buf); err != nil {
		return nil, err
	}
	// A reader packs branches (cheap to cache, searched in place); a
	// writer decodes fully, since it clones what it changes anyway.
	n, err := decodePage(pg, buf, tx.w == nil)
	if err != nil {
		return nil, err
	}
	tx.cacheFill(pg, n)
	return n, nil
}

func (tx *Tx) cacheGet(pg uint32) any {
	if tx.nocache {
		return nil
	}
	return tx.cache.get(pg, tx.snap)
}

func (tx *Tx) cacheFill(pg uint32, v any) {
	if !tx.nocache {
		tx.cache.fill(pg, tx.snap, v, tx.ps)
	}
}

// writable returns a private, modifiable copy of page pg.
func (tx *Tx) writable(pg uint32) (*node, error) {
	if tx.w == nil {
		return nil, ErrReadOnly
	}
	tx.mods++
	if n, ok := tx.dirty[pg]; ok {
		return n, nil
	}
	n, err := tx.node(pg)
	if err != nil {
		return nil, err
	}
	c := n.clone()
	tx.dirty[pg] = c
	return c, nil
}

func (tx *Tx) trunk(pg uint32) (*trunk, error) {
	if t, ok := tx.trunks[pg]; ok {
		return t, nil
	}
	if err := tx.checkPage(pg); err != nil {
		return nil, err
	}
	if v := tx.cacheGet(pg); v != nil {
		if t, ok := v.(*trunk); ok {
			return &trunk{next: t.next, pages: append([]uint32(nil), t.pages...)}, nil
		}
		return nil, corrupt(pg, "expected a free-list trunk, cache holds a tree page")
	}
	buf := make([]byte, tx.ps)
	if err := tx.r.ReadPage(pg, buf); err != nil {
		return nil, err
	}
	t, err := decodeTrunk(pg, buf)
	if err != nil {
		return nil, err
	}
	tx.cacheFill(pg, t)
	return &trunk{next: t.next, pages: append([]uint32(nil), t.pages...)}, nil
}

// alloc returns a page number for new content: the free list first, else a
// page past the end of the file.
func (tx *Tx) alloc() (uint32, error) {
	tx.mods++
	tx.metaDty = true
	if tx.meta.freeHead == 0 {
		tx.meta.pageCount++
		return tx.meta.pageCount, nil
	}
	head := tx.meta.freeHead
	t, err := tx.trunk(head)
	if err != nil {
		return 0, err
	}
	tx.meta.freeCount--
	if n := len(t.pages); n > 0 {
		pg := t.pages[n-1]
		t.pages = t.pages[:n-1]
		tx.trunks[head] = t
		return pg, nil
	}
	// An empty trunk is itself the free page to hand out.
	delete(tx.trunks, head)
	tx.meta.freeHead = t.next
	return head, nil
}

// free puts pg on the free list. Its old content stays readable by older
// snapshots through the pager; this transaction forgets it.
func (tx *Tx) free(pg uint32) error {
	tx.mods++
	delete(tx.dirty, pg)
	tx.freed = append(tx.freed, pg)
	tx.metaDty = true
	tx.meta.freeCount++
	if head := tx.meta.freeHead; head != 0 {
		t, err := tx.trunk(head)
		if err != nil {
			return err
		}
		if len(t.pages) < trunkCap(tx.ps) {
			t.pages = append(t.pages, pg)
			tx.trunks[head] = t
			return nil
		}
	}
	// The head trunk is full (or there is none): pg becomes the new head.
	tx.trunks[pg] = &trunk{next: tx.meta.freeHead}
	tx.meta.freeHead = pg
	return nil
}

// Commit writes every changed page to the pager and returns the file's size
// in pages, for the pager's commit record. After the pager commit succeeds
// the caller must call Publish; on failure it discards the Tx.
func (tx *Tx) Commit() (pageCount uint32, err error) {
	if tx.w == nil {
		return 0, ErrReadOnly
	}
	buf := make([]byte, tx.ps)
	for pg, n := range tx.dirty {
		if n.size > tx.ps {
			return 0, fmt.Errorf("edgekit/kv/local: internal error: page %d holds %d bytes", pg, n.size)
		}
		n.encode(buf)
		if err := tx.w.WritePage(pg, buf); err != nil {
			return 0, err
		}
	}
	for pg, t := range tx.trunks {
		t.encode(buf)
		if err := tx.w.WritePage(pg, buf); err != nil {
			return 0, err
		}
	}
	tx.meta.txid++
	// Page 1 changes only when the file grows or the free list changes;
	// most small commits write just the pages they touched.
	if tx.metaDty {
		tx.meta.encode(buf)
		if err := tx.w.WritePage(1, buf); err != nil {
			return 0, err
		}
	}
	return tx.meta.pageCount, nil
}

// Publish installs the committed pages in the cache as commit TxID().
func (tx *Tx) Publish() {
	written := make(map[uint32]any, len(tx.dirty)+len(tx.trunks))
	for pg, n := range tx.dirty {
		written[pg] = n
	}
	for pg, t := range tx.trunks {
		written[pg] = t
	}
	drop := append(tx.freed, tx.direct...)
	tx.cache.publish(tx.meta.txid, written, drop, tx.ps)
	tx.dirty, tx.trunks, tx.w = nil, nil, nil
}

// Dirty returns the number of pages this writer has changed so far.
func (tx *Tx) Dirty() int { return len(tx.dirty) + len(tx.trunks) + len(tx.direct) }

// Mods counts the changes this writer has made; a caller compares it before
// and after a step to learn whether the step changed anything.
func (tx *Tx) Mods() int { return tx.mods }
