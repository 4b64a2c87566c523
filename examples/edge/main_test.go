package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/outbuf"
)

// TestRunBriefly proxies a fake origin through the command for a moment.
func TestRunBriefly(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Edgekit-Max-Age-Ms", "60000")
		io.WriteString(w, "segment "+r.URL.Path)
	}))
	defer origin.Close()
	out := &outbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-listen", "127.0.0.1:0", "-origin", origin.URL, "-duration", "2s", "-cache-dir", t.TempDir()}, out)
	}()
	base := out.WaitAfter(t, " serving ", 5*time.Second)
	for i, want := range []string{"MISS", "HIT"} {
		resp, err := http.Get(base + "/live/ch1/0/5.m4s")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "segment /live/ch1/0/5.m4s" || resp.Header.Get("X-Cache") != want {
			t.Fatalf("request %d: got %q X-Cache %q, want X-Cache %s", i, b, resp.Header.Get("X-Cache"), want)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-origin", "ftp://x"},
		{"-self", "http://a", "-peers", "http://b,http://c"},
		{"-tls-cert", "/nonexistent", "-tls-key", "/nonexistent"},
	} {
		if err := run(context.Background(), append(args, "-listen", "127.0.0.1:0"), io.Discard); err == nil {
			t.Errorf("run(%v): got nil error", args)
		}
	}
}
