package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/outbuf"
)

// TestRunBriefly starts the command on kv/local in a temp dir, checks that
// it serves and refuses unauthenticated ingest, and that -duration stops it.
func TestRunBriefly(t *testing.T) {
	out := &outbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-listen", "127.0.0.1:0", "-data", t.TempDir(), "-token", "ch1=x", "-duration", "2s"}, out)
	}()
	base := strings.TrimSuffix(out.WaitAfter(t, "origin: serving ", 5*time.Second), "/live/<channel>/manifest.mpd,")
	req, _ := http.NewRequest(http.MethodPut, base+"/ingest/ch1/a/init-0.mp4", strings.NewReader("x"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("ingest without token: got %d want 401", resp.StatusCode)
	}
	resp, err = http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("healthz: got %d", resp.StatusCode)
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
		{"-listen", "127.0.0.1:0"}, // no token
		{"-token", "nochannel"},
		{"-token", "ch1=x", "-kv", "redis://x"},
		{"-token", "ch1=x", "-segment-duration", "1.5ms"},
	} {
		if err := run(context.Background(), append(args, "-data", t.TempDir()), &outbuf.Buffer{}); err == nil {
			t.Errorf("run(%v): got nil error", args)
		}
	}
}
