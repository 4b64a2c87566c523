package liveorigin_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/edgekit/edgekit/examples/internal/liveorigin"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/segment"
)

// An encoder pushes an init segment and one media segment of a looping
// channel; a player then reads the segment back. Without the token the
// push is refused.
func Example() {
	asset, _ := segment.LoadDASH(os.DirFS("../../../segment/testdata/vod"), "manifest.mpd")
	l, _ := segment.NewLoop(asset, nil)
	n := uint64(1_000_000)
	now := l.Epoch().AvailabilityTime(n) // segment n just became available
	origin, err := liveorigin.New(context.Background(), liveorigin.Config{
		Store:  kvtest.NewMemStore(),
		Tokens: map[string]string{"ch1": "secret"},
		Now:    func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	do := func(method, path, token string, body []byte) int {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		if token != "" {
			req.Header.Set("X-Ingest-Token", token)
		}
		rec := httptest.NewRecorder()
		origin.ServeHTTP(rec, req)
		return rec.Code
	}
	initB, _ := l.Init("0")
	seg, _ := l.Segment("0", n)
	fmt.Println(do(http.MethodPut, "/ingest/ch1/a/init-0.mp4", "", initB))
	fmt.Println(do(http.MethodPut, "/ingest/ch1/a/init-0.mp4", "secret", initB))
	fmt.Println(do(http.MethodPut, fmt.Sprintf("/ingest/ch1/a/seg-0-%d.m4s", n), "secret", seg))
	fmt.Println(do(http.MethodGet, fmt.Sprintf("/live/ch1/0/%d.m4s", n), "", nil))
	fmt.Println(do(http.MethodGet, "/live/ch1/manifest.mpd", "", nil))
	// Output:
	// 401
	// 201
	// 201
	// 200
	// 200
}
