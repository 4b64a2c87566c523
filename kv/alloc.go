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
func makeNoZero(n int) []byte {
	if n == 0 {
		return []byte{}
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(0) // so String has the buffer's address
	return unsafe.Slice(unsafe.StringData(b.String()), n)
}
