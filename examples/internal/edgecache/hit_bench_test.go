package edgecache_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkHit measures a cached segment's GET through the whole server
// (net/http under ktls.Serve, the handler, sendfile) on loopback, one
// kept-alive connection per parallel client. ns/op and allocs/op include
// the client, which is kept minimal (a raw request, the head scanned for
// Content-Length, the body discarded), so they compare server versions;
// examples/edge under wrk (bench/edgebench) gives the absolute figures.
func BenchmarkHit(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10, 2 << 20} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			body := bytes.Repeat([]byte{'x'}, size)
			o := newFakeOrigin(b, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "video/mp4")
				w.Header().Set("Cache-Control", "max-age=3600")
				_, _ = w.Write(body)
			})
			tr := newTier(b, o.srv.URL, 1, nil)
			p := "/live/vod/seg.m4s"
			get(b, tr.urls[0]+p)
			addr := tr.urls[0][len("http://"):]
			req := []byte("GET " + p + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 64<<10)
				for pb.Next() {
					if _, err := c.Write(req); err != nil {
						b.Error(err)
						return
					}
					n, err := readHead(br)
					if err == nil && n != int64(size) {
						err = fmt.Errorf("Content-Length %d, want %d", n, size)
					}
					if err == nil {
						_, err = br.Discard(int(n))
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			if o.count(p) != 1 {
				b.Fatalf("origin fetches: got %d want 1", o.count(p))
			}
		})
	}
}

// readHead reads a 200 response head and returns its Content-Length.
func readHead(br *bufio.Reader) (int64, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return 0, fmt.Errorf("status line %q", line)
	}
	n := int64(-1)
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, err = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return 0, err
			}
		}
	}
	if n < 0 {
		return 0, io.ErrUnexpectedEOF
	}
	return n, nil
}
