package kv

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// value_metadata format. The Client keeps its per-item header in the Store's
// Metadata column; the layout is drawn in doc.go and frozen: data written
// with it must stay readable.
const (
	metaVersion     = 0x01 // first byte of every non-empty header (frozen)
	metaFlagChunked = 0x01 // flags bit: the value lives in chunks (frozen)
	metaHeaderLen   = 2    // version, flags
	manifestLen     = 48   // size 8, chunk size 4, count 4, checksum 8, write id 24
	writeIDLen      = 24   // generation time 8 + digest 16
)

// writeID names one chunked write: its token's generation time followed by
// 16 bytes of a digest of the token and the item. Chunks are stored under
// it, so two writers racing on one key never share chunks.
type writeID [writeIDLen]byte

// micros returns the generation time the write id carries.
func (w writeID) micros() int64 { return int64(binary.BigEndian.Uint64(w[:8])) }

// recordID is the chunk namespace's record id for the write: 48 hex digits.
func (w writeID) recordID() string { return hex.EncodeToString(w[:]) }

func parseWriteID(s string) (writeID, bool) {
	var w writeID
	if len(s) != 2*writeIDLen {
		return w, false
	}
	_, err := hex.Decode(w[:], []byte(s))
	return w, err == nil
}

// manifest describes a chunked value.
type manifest struct {
	size      uint64 // value length in bytes
	chunkSize uint32 // length of every chunk but the last
	chunks    uint32 // chunk count: ceil(size / chunkSize)
	checksum  uint64 // xxhash64 of the whole value
	id        writeID
}

// header is a decoded value_metadata.
type header struct {
	chunked bool
	m       manifest
	user    []byte // the caller's Mutation.Metadata
}

// encodeHeader builds value_metadata. An inline value without user
// metadata stores nothing at all, so items the Client writes are plain
// Store items and items written straight to a Store read back through it.
func encodeHeader(h *header) []byte {
	if !h.chunked && len(h.user) == 0 {
		return nil
	}
	n := metaHeaderLen + len(h.user)
	if h.chunked {
		n += manifestLen
	}
	b := make([]byte, metaHeaderLen, n)
	b[0] = metaVersion
	if h.chunked {
		b[1] = metaFlagChunked
		b = binary.BigEndian.AppendUint64(b, h.m.size)
		b = binary.BigEndian.AppendUint32(b, h.m.chunkSize)
		b = binary.BigEndian.AppendUint32(b, h.m.chunks)
		b = binary.BigEndian.AppendUint64(b, h.m.checksum)
		b = append(b, h.m.id[:]...)
	}
	return append(b, h.user...)
}

// decodeHeader parses value_metadata; it never panics on arbitrary input.
func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) == 0 {
		return h, nil
	}
	if len(b) < metaHeaderLen || b[0] != metaVersion || b[1]&^metaFlagChunked != 0 {
		return h, fmt.Errorf("%w: unknown value_metadata header % x", ErrCorrupt, b[:min(len(b), 2)])
	}
	h.chunked = b[1]&metaFlagChunked != 0
	b = b[metaHeaderLen:]
	if h.chunked {
		if len(b) < manifestLen {
			return h, fmt.Errorf("%w: chunk manifest of %d bytes, want %d", ErrCorrupt, len(b), manifestLen)
		}
		h.m = manifest{
			size:      binary.BigEndian.Uint64(b[0:]),
			chunkSize: binary.BigEndian.Uint32(b[8:]),
			chunks:    binary.BigEndian.Uint32(b[12:]),
			checksum:  binary.BigEndian.Uint64(b[16:]),
		}
		copy(h.m.id[:], b[24:48])
		b = b[manifestLen:]
		if h.m.chunkSize == 0 || h.m.chunks == 0 || (h.m.size+uint64(h.m.chunkSize)-1)/uint64(h.m.chunkSize) != uint64(h.m.chunks) {
			return h, fmt.Errorf("%w: inconsistent chunk manifest (size %d, chunk size %d, %d chunks)", ErrCorrupt, h.m.size, h.m.chunkSize, h.m.chunks)
		}
	}
	if len(b) > 0 {
		h.user = b
	}
	return h, nil
}

// digest hashes length-prefixed parts with SHA-256, so that no two
// different part lists share an input.
func digest(parts ...[]byte) [32]byte {
	d := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		d.Write(n[:])
		d.Write(p)
	}
	var out [32]byte
	d.Sum(out[:0])
	return out
}

// Owner header: the chunk record's key "" names the item that staged it,
// so Sweep can tell whether the item still references the write (frozen):
//
//	uvarint len(id) | id | key
func encodeOwner(id string, key []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(id)))
	b = append(b, id...)
	return append(b, key...)
}

func decodeOwner(b []byte) (id string, key []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// chunkKey is chunk i's key in the chunk record: 4-byte big-endian index,
// so chunks sort in order and never collide with the owner key "".
func chunkKey(i uint32) []byte { return binary.BigEndian.AppendUint32(nil, i) }
