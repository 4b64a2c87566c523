package msttl_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/edgekit/edgekit/examples/internal/msttl"
)

func Example() {
	// The origin: a live manifest may be cached for half a 2 s segment.
	h := http.Header{}
	msttl.Set(h, time.Second)
	fmt.Println(h.Get(msttl.Header), h.Get("Cache-Control"))

	// A 404 for a segment due in 1.25 s: Cache-Control alone would say 2 s.
	h = http.Header{}
	msttl.Set(h, 1250*time.Millisecond)
	fmt.Println(h.Get(msttl.Header), h.Get("Cache-Control"), msttl.Get(h))
	// Output:
	// 1000 public, max-age=1
	// 1250 public, max-age=2 1.25s
}
