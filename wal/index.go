package wal

import "sync/atomic"

// The wal-index plays the role of SQLite's -shm file, in process memory. It
// maps a page number to the newest frame holding that page at or below a
// reader's mark. Like SQLite it is split into blocks of 4096 frames, each with
// an open-addressing hash table of 8192 slots (never more than half full)
// keyed by (pgno*383)&8191. Unlike SQLite, a slot holds only the newest frame
// of its page within the block and every frame links to the previous frame of
// the same page in the block, so a hot page written by every commit costs one
// probe instead of a scan over all its copies.
//
// Concurrency: exactly one goroutine (the writer) appends; any number of
// readers look up without locks. Every cell is an atomic, and the writer
// stores a frame's pgno and prev link before publishing the frame in a hash
// slot, so a reader that sees the slot sees the links. Readers ignore frames
// above their mark, so entries appended after a snapshot began are harmless.
const (
	indexBlockFrames = 4096
	indexHashSlots   = 2 * indexBlockFrames
	indexHashMask    = indexHashSlots - 1
)

type indexBlock struct {
	pgno   [indexBlockFrames]atomic.Uint32 // page number of each frame
	prev   [indexBlockFrames]atomic.Uint32 // previous frame of the same page in this block, 0 if none
	commit [indexBlockFrames]atomic.Uint32 // db size in pages for commit frames, else 0
	hash   [indexHashSlots]atomic.Uint32   // newest frame (global, 1-based) per page, 0 = empty
}

// index is the wal-index of one WAL generation. Frames are numbered from 1.
type index struct {
	blocks atomic.Pointer[[]*indexBlock] // copy-on-append list
	n      uint32                        // frames appended; writer-only
}

func newIndex() *index {
	x := &index{}
	x.blocks.Store(&[]*indexBlock{})
	return x
}

func hashSlot(pgno uint32) uint32 { return (pgno * 383) & indexHashMask }

// cell returns the block and position of frame f (1-based).
func cell(blocks []*indexBlock, f uint32) (*indexBlock, uint32) {
	return blocks[(f-1)/indexBlockFrames], (f - 1) % indexBlockFrames
}

// append records that frame n+1 holds pgno (commit is the db size if it is a
// commit frame). Writer only.
func (x *index) append(pgno, commit uint32) {
	f := x.n + 1
	blocks := *x.blocks.Load()
	if int((f-1)/indexBlockFrames) == len(blocks) {
		nb := make([]*indexBlock, len(blocks)+1)
		copy(nb, blocks)
		nb[len(blocks)] = new(indexBlock)
		x.blocks.Store(&nb)
		blocks = nb
	}
	b, i := cell(blocks, f)
	b.pgno[i].Store(pgno)
	b.commit[i].Store(commit)
	for s := hashSlot(pgno); ; s = (s + 1) & indexHashMask {
		old := b.hash[s].Load()
		if old == 0 {
			b.prev[i].Store(0)
			b.hash[s].Store(f)
			break
		}
		if _, j := cell(blocks, old); b.pgno[j].Load() == pgno {
			b.prev[i].Store(old)
			b.hash[s].Store(f)
			break
		}
	}
	x.n = f
}

// lookup returns the newest frame at or below mark that holds pgno, or 0 if
// the page is not in the WAL as of mark. Safe concurrently with append.
func (x *index) lookup(pgno, mark uint32) uint32 {
	if mark == 0 {
		return 0
	}
	blocks := *x.blocks.Load()
	for bi := int((mark - 1) / indexBlockFrames); bi >= 0; bi-- {
		b := blocks[bi]
		for s := hashSlot(pgno); ; s = (s + 1) & indexHashMask {
			f := b.hash[s].Load()
			if f == 0 {
				break // page not in this block
			}
			_, j := cell(blocks, f)
			if b.pgno[j].Load() != pgno {
				continue
			}
			for f > mark {
				_, j = cell(blocks, f)
				f = b.prev[j].Load()
			}
			if f != 0 {
				return f
			}
			break // every copy in this block is newer than mark
		}
	}
	return 0
}

// pgnoOf returns the page number of frame f (1 ≤ f ≤ appended frames).
func (x *index) pgnoOf(f uint32) uint32 {
	b, i := cell(*x.blocks.Load(), f)
	return b.pgno[i].Load()
}

// commitOf returns the db size recorded in frame f, 0 if f is not a commit.
func (x *index) commitOf(f uint32) uint32 {
	b, i := cell(*x.blocks.Load(), f)
	return b.commit[i].Load()
}
