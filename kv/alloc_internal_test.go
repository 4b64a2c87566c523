package kv

import (
	"bytes"
	"runtime"
	"testing"
)

// TestMakeNoZero: the buffer has the asked length and capacity, is the
// caller's alone (two buffers never share memory), and keeps what was
// written through collections, as a make'd slice would.
func TestMakeNoZero(t *testing.T) {
	if b := makeNoZero(0); b == nil || len(b) != 0 {
		t.Fatalf("makeNoZero(0) = %v (nil %v), want an empty non-nil slice", b, b == nil)
	}
	for _, n := range []int{1, 7, 8, 9, 4096, 1 << 20, 16<<20 + 3} {
		a, b := makeNoZero(n), makeNoZero(n)
		if len(a) != n || cap(a) != n {
			t.Fatalf("makeNoZero(%d): len %d cap %d", n, len(a), cap(a))
		}
		for i := range a {
			a[i] = byte(i)
		}
		for i := range b {
			b[i] = ^byte(i)
		}
		runtime.GC()
		runtime.GC()
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i)
		}
		if !bytes.Equal(a, want) {
			t.Fatalf("makeNoZero(%d): contents changed after the second buffer was written and a GC ran", n)
		}
	}
}
