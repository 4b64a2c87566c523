package edgecache

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

var laneHeadCases = []struct {
	name, head string
	ok         bool
	isHead     bool
	path       string
}{
	{"get", "GET /live/vod/a.m4s HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n\r\n", true, false, "/live/vod/a.m4s"},
	{"head", "HEAD /live/vod/a.m4s HTTP/1.1\r\nHost: x\r\n\r\n", true, true, "/live/vod/a.m4s"},
	{"player headers", "GET /live/c/1.m4s HTTP/1.1\r\nHost: edge\r\nUser-Agent: dash.js\r\nAccept: */*\r\nAccept-Encoding: gzip\r\nConnection: Keep-Alive\r\nOrigin: http://p\r\nReferer: http://p/\r\nEdgekit-Hop: 1\r\n\r\n", true, false, "/live/c/1.m4s"},
	{"header case and spaces", "GET /live/a HTTP/1.1\r\nhOsT:x\r\nuser-agent:   wrk  \r\n\r\n", true, false, "/live/a"},
	{"no host", "GET /live/a HTTP/1.1\r\n\r\n", false, false, ""},
	{"two hosts", "GET /live/a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false, false, ""},
	{"odd host", "GET /live/a HTTP/1.1\r\nHost: a b\r\n\r\n", false, false, ""},
	{"http/1.0", "GET /live/a HTTP/1.0\r\nHost: x\r\n\r\n", false, false, ""},
	{"post", "POST /live/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n", false, false, ""},
	{"range", "GET /live/a HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n", false, false, ""},
	{"if-none-match", "GET /live/a HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"x\"\r\n\r\n", false, false, ""},
	{"content-length", "GET /live/a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", false, false, ""},
	{"transfer-encoding", "GET /live/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", false, false, ""},
	{"connection close", "GET /live/a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, false, ""},
	{"absolute form", "GET http://x/live/a HTTP/1.1\r\nHost: x\r\n\r\n", false, false, ""},
	{"folded header", "GET /live/a HTTP/1.1\r\nHost: x\r\nAccept: a\r\n b\r\n\r\n", false, false, ""},
	{"bare LF", "GET /live/a HTTP/1.1\nHost: x\n\n", false, false, ""},
	{"control in value", "GET /live/a HTTP/1.1\r\nHost: x\r\nAccept: a\x00b\r\n\r\n", false, false, ""},
	{"empty hop", "GET /live/a HTTP/1.1\r\nHost: x\r\nEdgekit-Hop:\r\nEdgekit-Hop: 1\r\n\r\n", true, false, "/live/a"},
	{"two spaces", "GET  /live/a HTTP/1.1\r\nHost: x\r\n\r\n", false, false, ""},
	{"trailing bytes", "GET /live/a HTTP/1.1\r\nHost: x\r\n\r\nGET", false, false, ""},
	{"unterminated", "GET /live/a HTTP/1.1\r\nHost: x\r\n", false, false, ""},
}

func TestParseLaneHead(t *testing.T) {
	for _, tc := range laneHeadCases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := parseLaneHead([]byte(tc.head))
			if ok != tc.ok || ok && (r.head != tc.isHead || string(r.path) != tc.path) {
				t.Fatalf("got ok %v head %v path %q, want ok %v head %v path %q", ok, r.head, r.path, tc.ok, tc.isHead, tc.path)
			}
		})
	}
}

// FuzzLaneHead: whatever the lane answers itself (an accepted head with a
// path the edge serves), net/http parses as the same bodiless GET or HEAD
// of the same path, wanting the connection kept.
func FuzzLaneHead(f *testing.F) {
	for _, tc := range laneHeadCases {
		f.Add([]byte(tc.head))
	}
	f.Fuzz(func(t *testing.T, head []byte) {
		r, ok := parseLaneHead(head)
		if !ok || !validPath(string(r.path)) {
			return // handed to net/http
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("lane accepted %q; net/http: %v", head, err)
		}
		wantMethod := "GET"
		if r.head {
			wantMethod = "HEAD"
		}
		if r.hop != (req.Header.Get(HopHeader) != "") {
			t.Fatalf("lane read %q as hop %v; net/http read %s %q", head, r.hop, HopHeader, req.Header.Get(HopHeader))
		}
		if req.Method != wantMethod || req.URL.RawPath != "" || req.URL.Path != string(r.path) ||
			req.ContentLength != 0 || req.Close || len(req.TransferEncoding) != 0 {
			t.Fatalf("lane accepted %q as %s %q; net/http read %s %q, length %d, close %v, TE %v",
				head, wantMethod, r.path, req.Method, req.URL.Path, req.ContentLength, req.Close, req.TransferEncoding)
		}
		for k := range req.Header {
			if k == "Range" || len(k) > 3 && k[:3] == "If-" {
				t.Fatalf("lane accepted %q with %s", head, k)
			}
		}
	})
}
