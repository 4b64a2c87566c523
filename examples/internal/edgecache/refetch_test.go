package edgecache_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
)

// endlessTransport answers every request with body and a Content-Length,
// then, like net/http's transport after its request's context is
// cancelled, fails the read that would have returned io.EOF — once the
// context is done. It counts round trips.
type endlessTransport struct {
	body  []byte
	trips atomic.Int64
}

func (tr *endlessTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tr.trips.Add(1)
	return &http.Response{
		StatusCode: 200, ContentLength: int64(len(tr.body)), Request: r,
		Header: http.Header{"Content-Type": {"video/mp4"}, edgecache.MaxAgeHeader: {"60000"}},
		Body:   io.NopCloser(io.MultiReader(bytes.NewReader(tr.body), ctxErrReader{r.Context()})),
	}, nil
}

type ctxErrReader struct{ ctx context.Context }

func (c ctxErrReader) Read([]byte) (int, error) {
	<-c.ctx.Done()
	return 0, c.ctx.Err()
}

// TestWholeBodyCachedWhenViewerLeaves: the only viewer of a miss reads the
// whole body and hangs up before the upstream body reports io.EOF; the
// body is complete, so it is cached and the next request is a hit with no
// second upstream fetch.
func TestWholeBodyCachedWhenViewerLeaves(t *testing.T) {
	tr := &endlessTransport{body: segmentBody("/live/ch1/0/3.m4s")}
	tier := newTier(t, "http://origin.invalid", 1, func(c *edgecache.Config) {
		c.Client = &http.Client{Transport: tr}
	})
	addr := tier.urls[0][len("http://"):]
	for i := 0; i < 3; i++ {
		p := fmt.Sprintf("/live/ch1/0/%d.m4s", 3+i)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		c.Close() // hang up as soon as the body is in
		if err != nil || n != int64(len(tr.body)) || resp.Header.Get("X-Cache") != "MISS" {
			t.Fatalf("%s: %d bytes, err %v, X-Cache %q", p, n, err, resp.Header.Get("X-Cache"))
		}
		want := int64(i + 1)
		deadline := time.Now().Add(2 * time.Second)
		for tier.edges[0].Stats().CacheEntries < i+1 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		code, b, h := get(t, tier.urls[0]+p)
		if code != 200 || h.Get("X-Cache") != "HIT" || !bytes.Equal(b, tr.body) || tr.trips.Load() != want {
			t.Fatalf("%s after the viewer left: got %d X-Cache %q (%d bytes), upstream fetches %d; want a HIT and %d fetches",
				p, code, h.Get("X-Cache"), len(b), tr.trips.Load(), want)
		}
	}
}
