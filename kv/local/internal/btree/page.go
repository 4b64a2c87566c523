package btree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Page types: the first byte of every page. Frozen: these values are on disk.
const (
	typeLeaf     = 1
	typeBranch   = 2
	typeOverflow = 3
	typeTrunk    = 4
	typeMeta     = 5
)

// Layout constants. Frozen: changing any of them changes the file format.
const (
	headerSize     = 8  // type, reserved, count, u32 (child0 / next)
	leafCellFixed  = 7  // u16 klen, u8 flags, u32 vlen
	branchCellSize = 6  // u16 klen, u32 child
	ovfRefSize     = 4  // u32 first overflow page, replacing an inline value
	metaSize       = 60 // bytes of the meta page that carry data (rest zero)
	flagOverflow   = 1  // leaf cell flag: the value lives in an overflow chain

	// FormatVersion is written in the meta page; Open refuses others.
	FormatVersion = 1
)

// metaMagic identifies a kv/local file. Frozen.
var metaMagic = [8]byte{'E', 'K', 'K', 'V', 'L', 'O', 'C', 0}

// Page sizes the tree accepts: powers of two in [MinPageSize, MaxPageSize].
// 4096 is the floor because the largest composite key must fit twice in a
// page with room to spare (see MaxKeyLen).
const (
	MinPageSize = 4096
	MaxPageSize = 65536
)

// ErrCorrupt reports a page that does not decode: wrong type, lengths that
// run past the page, keys out of order, or a bad meta checksum.
var ErrCorrupt = errors.New("edgekit/kv/local: corrupt page")

// CorruptError names the page that failed to decode.
type CorruptError struct {
	Page   uint32
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("edgekit/kv/local: corrupt page %d: %s", e.Page, e.Reason)
}

func (e *CorruptError) Unwrap() error { return ErrCorrupt }

func corrupt(pg uint32, format string, args ...any) error {
	return &CorruptError{Page: pg, Reason: fmt.Sprintf(format, args...)}
}

// ValidPageSize reports whether ps is a page size the tree supports.
func ValidPageSize(ps int) bool {
	return ps >= MinPageSize && ps <= MaxPageSize && ps&(ps-1) == 0
}

// capacity is the number of cell bytes a page of size ps holds.
func capacity(ps int) int { return ps - headerSize }

// MaxKeyLen is the longest key a tree with page size ps stores: two cells of
// that key (with an overflow reference) must fit in one page, which keeps
// every split able to produce two non-empty halves.
func MaxKeyLen(ps int) int { return capacity(ps)/2 - leafCellFixed - ovfRefSize }

// maxInlineCell is the largest leaf cell stored inline; larger values move
// to an overflow chain. Half a page keeps splits balanced (see split).
func maxInlineCell(ps int) int { return capacity(ps) / 2 }

// cell is one decoded entry. Leaf cells carry a value inline (val, vlen ==
// len(val)) or a reference to an overflow chain (ovf != 0, vlen total
// bytes). Branch cells carry the child to the right of key. Byte slices
// alias the page buffer or caller-owned copies and are never mutated.
type cell struct {
	key   []byte
	val   []byte
	vlen  uint32
	ovf   uint32
	child uint32
}

// node is a decoded leaf or branch page. Committed nodes are immutable and
// shared through the cache; a write transaction mutates private clones.
type node struct {
	typ    uint8
	child0 uint32 // branch: the leftmost child
	cells  []cell
	size   int // encoded size in bytes, header included

	// A packed branch (decoded for a reader, see decodeNode) has no cells:
	// its separators and children are read in place from raw, cell i
	// starting at offs[i]. It holds 2 bytes a cell instead of a 64-byte
	// cell, so a small cache keeps many more branches. Packed nodes are
	// read-only; clone unpacks them for a writer.
	packed bool
	raw    []byte
	offs   []uint16
}

func (n *node) leaf() bool { return n.typ == typeLeaf }

// count returns the number of cells.
func (n *node) count() int {
	if n.packed {
		return len(n.offs)
	}
	return len(n.cells)
}

// keyAt returns the key of cell i.
func (n *node) keyAt(i int) []byte {
	if n.packed {
		o := int(n.offs[i])
		klen := int(binary.BigEndian.Uint16(n.raw[o:]))
		return n.raw[o+branchCellSize : o+branchCellSize+klen : o+branchCellSize+klen]
	}
	return n.cells[i].key
}

// unpacked returns n with its cells materialised (n itself if it has them).
func (n *node) unpacked() *node {
	if !n.packed {
		return n
	}
	c := &node{typ: n.typ, child0: n.child0, size: n.size, cells: make([]cell, len(n.offs))}
	for i := range c.cells {
		c.cells[i] = cell{key: n.keyAt(i), child: n.child(i + 1)}
	}
	return c
}

func (n *node) clone() *node {
	if n.packed {
		return n.unpacked() // already a fresh node
	}
	c := *n
	// Room for one more cell: a writer clones a leaf to insert into it,
	// and append would otherwise copy the cells a second time.
	c.cells = append(make([]cell, 0, len(n.cells)+1), n.cells...)
	return &c
}

// child returns the i-th child of a branch (0..count()).
func (n *node) child(i int) uint32 {
	if i == 0 {
		return n.child0
	}
	if n.packed {
		return binary.BigEndian.Uint32(n.raw[int(n.offs[i-1])+2:])
	}
	return n.cells[i-1].child
}

func cellSize(typ uint8, c *cell) int {
	if typ == typeBranch {
		return branchCellSize + len(c.key)
	}
	if c.ovf != 0 {
		return leafCellFixed + len(c.key) + ovfRefSize
	}
	return leafCellFixed + len(c.key) + len(c.val)
}

func (n *node) recount() {
	s := headerSize
	for i := range n.cells {
		s += cellSize(n.typ, &n.cells[i])
	}
	n.size = s
}

// encode writes n into buf (one page, zero-filled past the cells).
func (n *node) encode(buf []byte) {
	clear(buf)
	buf[0] = n.typ
	binary.BigEndian.PutUint16(buf[2:], uint16(len(n.cells)))
	binary.BigEndian.PutUint32(buf[4:], n.child0)
	p := headerSize
	for i := range n.cells {
		c := &n.cells[i]
		binary.BigEndian.PutUint16(buf[p:], uint16(len(c.key)))
		if n.typ == typeBranch {
			binary.BigEndian.PutUint32(buf[p+2:], c.child)
			p += branchCellSize
			p += copy(buf[p:], c.key)
			continue
		}
		flags := byte(0)
		if c.ovf != 0 {
			flags = flagOverflow
		}
		buf[p+2] = flags
		binary.BigEndian.PutUint32(buf[p+3:], c.vlen)
		p += leafCellFixed
		p += copy(buf[p:], c.key)
		if c.ovf != 0 {
			binary.BigEndian.PutUint32(buf[p:], c.ovf)
			p += ovfRefSize
		} else {
			p += copy(buf[p:], c.val)
		}
	}
}

// decodeNode parses a leaf or branch page. It never panics on arbitrary
// input: every length is checked against the page, keys must be strictly
// ascending, and page references must be non-zero. The returned node
// aliases buf, which the caller must not modify afterwards.
func decodeNode(pg uint32, buf []byte) (*node, error) { return decodePage(pg, buf, false) }

// decodePage is decodeNode that, with pack, returns a branch packed: the
// same checks run, but only each cell's offset is kept.
func decodePage(pg uint32, buf []byte, pack bool) (*node, error) {
	if len(buf) < headerSize {
		return nil, corrupt(pg, "short page (%d bytes)", len(buf))
	}
	n := &node{typ: buf[0]}
	if n.typ != typeLeaf && n.typ != typeBranch {
		return nil, corrupt(pg, "page type %d is not a tree node", n.typ)
	}
	if buf[1] != 0 {
		return nil, corrupt(pg, "reserved byte %d", buf[1])
	}
	count := int(binary.BigEndian.Uint16(buf[2:]))
	n.child0 = binary.BigEndian.Uint32(buf[4:])
	if n.typ == typeBranch && n.child0 == 0 {
		return nil, corrupt(pg, "branch without a first child")
	}
	if n.typ == typeLeaf && n.child0 != 0 {
		return nil, corrupt(pg, "leaf with a child pointer")
	}
	if pack && n.typ == typeBranch && len(buf) <= MaxPageSize { // offsets fit a u16
		n.packed, n.raw, n.offs = true, buf, make([]uint16, count)
	} else {
		n.cells = make([]cell, count)
	}
	var prev []byte // the previous cell's key
	p := headerSize
	for i := 0; i < count; i++ {
		var c cell
		start := p
		fixed := leafCellFixed
		if n.typ == typeBranch {
			fixed = branchCellSize
		}
		if p+fixed > len(buf) {
			return nil, corrupt(pg, "cell %d header past end of page", i)
		}
		klen := int(binary.BigEndian.Uint16(buf[p:]))
		if n.typ == typeBranch {
			c.child = binary.BigEndian.Uint32(buf[p+2:])
			if c.child == 0 {
				return nil, corrupt(pg, "cell %d: zero child", i)
			}
		} else {
			flags := buf[p+2]
			if flags&^flagOverflow != 0 {
				return nil, corrupt(pg, "cell %d: unknown flags %#x", i, flags)
			}
			c.vlen = binary.BigEndian.Uint32(buf[p+3:])
			if flags&flagOverflow != 0 {
				c.ovf = ^uint32(0) // marks "overflow" until read below
			}
		}
		p += fixed
		if klen > len(buf)-p {
			return nil, corrupt(pg, "cell %d: key of %d bytes past end of page", i, klen)
		}
		c.key = buf[p : p+klen : p+klen]
		p += klen
		if n.typ == typeLeaf {
			if c.ovf != 0 {
				if p+ovfRefSize > len(buf) {
					return nil, corrupt(pg, "cell %d: overflow reference past end of page", i)
				}
				c.ovf = binary.BigEndian.Uint32(buf[p:])
				if c.ovf == 0 {
					return nil, corrupt(pg, "cell %d: zero overflow page", i)
				}
				p += ovfRefSize
			} else {
				if int64(c.vlen) > int64(len(buf)-p) {
					return nil, corrupt(pg, "cell %d: value of %d bytes past end of page", i, c.vlen)
				}
				c.val = buf[p : p+int(c.vlen) : p+int(c.vlen)]
				p += int(c.vlen)
			}
		}
		if i > 0 && string(prev) >= string(c.key) {
			return nil, corrupt(pg, "cell %d: keys out of order", i)
		}
		prev = c.key
		if n.packed {
			n.offs[i] = uint16(start) // start < len(buf) <= MaxPageSize, checked above
		} else {
			n.cells[i] = c
		}
	}
	n.size = p
	return n, nil
}

// meta is the decoded page 1.
type meta struct {
	pageSize  uint32
	pageCount uint32 // highest page number in use; the file's size in pages
	freeHead  uint32 // first free-list trunk page, 0 when empty
	freeCount uint32 // pages on the free list, trunks included
	catalog   uint32 // root page of the catalog tree
	txid      uint64 // commit number, counted in memory from Open (on disk: informational)
	secret    [16]byte
}

func (m *meta) encode(buf []byte) {
	clear(buf)
	buf[0] = typeMeta
	buf[1] = FormatVersion
	copy(buf[4:12], metaMagic[:])
	binary.BigEndian.PutUint32(buf[12:], m.pageSize)
	binary.BigEndian.PutUint32(buf[16:], m.pageCount)
	binary.BigEndian.PutUint32(buf[20:], m.freeHead)
	binary.BigEndian.PutUint32(buf[24:], m.freeCount)
	binary.BigEndian.PutUint32(buf[28:], m.catalog)
	binary.BigEndian.PutUint64(buf[32:], m.txid)
	copy(buf[40:56], m.secret[:])
	binary.BigEndian.PutUint32(buf[56:], crc32.Checksum(buf[:56], castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func decodeMeta(buf []byte) (meta, error) {
	var m meta
	if len(buf) < metaSize {
		return m, corrupt(1, "short meta page")
	}
	if buf[0] != typeMeta || [8]byte(buf[4:12]) != metaMagic {
		return m, corrupt(1, "not a kv/local file (bad magic)")
	}
	if buf[1] != FormatVersion {
		return m, corrupt(1, "format version %d, want %d", buf[1], FormatVersion)
	}
	if got, want := binary.BigEndian.Uint32(buf[56:]), crc32.Checksum(buf[:56], castagnoli); got != want {
		return m, corrupt(1, "meta checksum %#x, want %#x", got, want)
	}
	m.pageSize = binary.BigEndian.Uint32(buf[12:])
	m.pageCount = binary.BigEndian.Uint32(buf[16:])
	m.freeHead = binary.BigEndian.Uint32(buf[20:])
	m.freeCount = binary.BigEndian.Uint32(buf[24:])
	m.catalog = binary.BigEndian.Uint32(buf[28:])
	m.txid = binary.BigEndian.Uint64(buf[32:])
	copy(m.secret[:], buf[40:56])
	if !ValidPageSize(int(m.pageSize)) || int(m.pageSize) != len(buf) {
		return m, corrupt(1, "page size %d does not match %d", m.pageSize, len(buf))
	}
	if m.catalog < 2 || m.catalog > m.pageCount || m.freeHead > m.pageCount || m.freeCount >= m.pageCount {
		return m, corrupt(1, "page references out of range")
	}
	return m, nil
}

// trunk is a decoded free-list trunk page: the next trunk and the free
// pages it lists.
type trunk struct {
	next  uint32
	pages []uint32
}

func trunkCap(ps int) int { return capacity(ps) / 4 }

func (t *trunk) encode(buf []byte) {
	clear(buf)
	buf[0] = typeTrunk
	binary.BigEndian.PutUint16(buf[2:], uint16(len(t.pages)))
	binary.BigEndian.PutUint32(buf[4:], t.next)
	for i, pg := range t.pages {
		binary.BigEndian.PutUint32(buf[headerSize+4*i:], pg)
	}
}

func decodeTrunk(pg uint32, buf []byte) (*trunk, error) {
	if len(buf) < headerSize || buf[0] != typeTrunk || buf[1] != 0 {
		return nil, corrupt(pg, "not a free-list trunk")
	}
	n := int(binary.BigEndian.Uint16(buf[2:]))
	if n > trunkCap(len(buf)) {
		return nil, corrupt(pg, "trunk lists %d pages, room for %d", n, trunkCap(len(buf)))
	}
	t := &trunk{next: binary.BigEndian.Uint32(buf[4:]), pages: make([]uint32, n)}
	for i := range t.pages {
		t.pages[i] = binary.BigEndian.Uint32(buf[headerSize+4*i:])
		if t.pages[i] == 0 {
			return nil, corrupt(pg, "trunk entry %d is zero", i)
		}
	}
	return t, nil
}

// overflow page header: type, 0, u16 bytes used, u32 next page (0 = last).
func decodeOverflow(pg uint32, buf []byte) (data []byte, next uint32, err error) {
	if len(buf) < headerSize {
		return nil, 0, corrupt(pg, "not an overflow page")
	}
	used, next, err := decodeOverflowHeader(pg, buf, len(buf)-headerSize)
	if err != nil {
		return nil, 0, err
	}
	return buf[headerSize : headerSize+used], next, nil
}

// encodeOverflow fills page buf with an overflow page holding data
// followed by more, linked to next.
func encodeOverflow(buf []byte, data, more []byte, next uint32) {
	buf[0] = typeOverflow
	buf[1] = 0
	binary.BigEndian.PutUint16(buf[2:], uint16(len(data)+len(more)))
	binary.BigEndian.PutUint32(buf[4:], next)
	n := copy(buf[headerSize:], data)
	n += copy(buf[headerSize+n:], more)
	clear(buf[headerSize+n:])
}
