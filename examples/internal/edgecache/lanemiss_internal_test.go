package edgecache

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// TestLaneMissHerdHeadsFromFill: lane viewers waiting on one flight get
// their response heads written by the fill, for all of them before any
// wakes, while the origin still holds the body; then each gets the whole
// body, and exactly one is the MISS that started the flight.
func TestLaneMissHerdHeadsFromFill(t *testing.T) {
	const p, viewers = "/live/herd/0/1.m4s", 40
	body := bytes.Repeat([]byte("herd"), 20<<10)
	release, bodyGo := make(chan struct{}), make(chan struct{})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set(MaxAgeHeader, "60000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-bodyGo
		_, _ = w.Write(body)
	}))
	t.Cleanup(origin.Close)
	t.Cleanup(func() {
		select {
		case <-bodyGo:
		default:
			close(bodyGo)
		}
	})
	e, err := New(Config{Origin: origin.URL, Self: "http://127.0.0.1:1", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	addr := serveLane(t, e)[len("http://"):]
	var conns []*bufio.Reader
	for range viewers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := io.WriteString(c, "GET "+p+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, bufio.NewReader(c))
	}
	// Every viewer is on the flight (and registers its head right after).
	deadline := time.Now().Add(10 * time.Second)
	for st := e.flight.Stats(); st.Flights+st.Joins < viewers; st = e.flight.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d viewers on the flight after 10 s", st.Flights+st.Joins, viewers)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	var resps []*http.Response
	for i, br := range conns {
		resp, err := http.ReadResponse(br, nil) // the head, while the body is held
		if err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		resps = append(resps, resp)
	}
	// A hook's write deadline can pass before the write is tried when the
	// goroutine is descheduled (under -race on a busy machine); that
	// viewer then writes its own head. Nearly all must come from the fill.
	if n := e.Stats().MissHeadsByFill; n < viewers*9/10 {
		t.Errorf("heads written by the fill: %d, want (nearly) all %d", n, viewers)
	}
	close(bodyGo)
	misses := 0
	for i, resp := range resps {
		b, err := io.ReadAll(io.LimitReader(resp.Body, int64(len(body))))
		if err != nil || !bytes.Equal(b, body) {
			t.Fatalf("viewer %d: %d body bytes, %v", i, len(b), err)
		}
		if resp.Header.Get("X-Cache") == "MISS" {
			misses++
		} else if got := resp.Header.Get("X-Cache"); got != "MISS-COALESCED" {
			t.Errorf("viewer %d: X-Cache %q", i, got)
		}
	}
	if misses != 1 {
		t.Errorf("%d MISS answers, want 1 (the rest MISS-COALESCED)", misses)
	}
}
