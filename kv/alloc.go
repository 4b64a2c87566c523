package kv

import (
	"strings"
	"unsafe"
)

// makeNoZero returns a byte slice of length and capacity n whose contents
// are unspecified: the caller must overwrite every byte before anyone sees
// it. A chunked value is read straight into its result by the Store
// (IntoReader); zeroing 16 MiB first costs about as much as hashing it, on
// memory the read then overwrites. Go has no public way to allocate
// unzeroed memory, but strings.Builder.Grow allocates its buffer without
// zeroing (the runtime's MakeNoZero), and that buffer is an ordinary
// pointer-free heap object, so a byte slice over it is as safe as one from
// make once it is filled.
//
// The slice is taken through the string the Builder returns, which today
// shares the Builder's buffer. In case a Go release ever changes that (a
// copying String would leave the slice pointing at a small copy), the
// function checks that bytes written after String are visible through it
// and that the buffer is large enough, and falls back to make otherwise.
func makeNoZero(n int) []byte {
	const probe = "edgekit!"
	if n < len(probe) {
		return make([]byte, n)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(probe[0])
	s := b.String() // the buffer's address, if String shares it
	b.WriteString(probe[1:])
	if b.Cap() < n || string(unsafe.Slice(unsafe.StringData(s), len(probe))) != probe {
		return make([]byte, n)
	}
	return unsafe.Slice(unsafe.StringData(s), n)
}
