package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/outbuf"
	"github.com/edgekit/edgekit/segment"
)

// TestRunBriefly is what CI runs of the demo: it starts with its defaults
// (the built-in player, loopback ports), serves the page and the channel
// through an edge, and stops cleanly at -duration.
func TestRunBriefly(t *testing.T) {
	out := &outbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-listen", "127.0.0.1:0", "-duration", "10s", "-player", "mini"}, out)
	}()
	pageURL := out.WaitAfter(t, "livedemo: open ", 15*time.Second)
	page := mustGet(t, pageURL)
	if !strings.Contains(page, "window.EDGEKIT") || !strings.Contains(page, "/live/demo/manifest.mpd") {
		t.Fatalf("page lacks the player config:\n%s", page)
	}
	if js := mustGet(t, pageURL+"player.js"); !strings.Contains(js, "edgekitMiniPlayer") {
		t.Fatalf("player.js is not the built-in player")
	}
	// The MPD the page points at answers through the edge.
	_, rest, _ := strings.Cut(page, `"mpd":"`)
	mpd, _, _ := strings.Cut(rest, `"`)
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(mpd)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && bytes.Contains(b, []byte(`type="dynamic"`)) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("MPD %s never served: %v", mpd, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if stats := mustGet(t, pageURL+"stats"); !strings.Contains(stats, `"published"`) {
		t.Fatalf("stats: %s", stats)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop after -duration")
	}
	if !strings.Contains(out.String(), "livedemo: stopped;") {
		t.Fatalf("no stop line:\n%s", out.String())
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-player", "vlc"}, {"-nope"}, {"-asset", t.TempDir()}} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("run(%v): got nil error", args)
		}
	}
}

func mustGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// testLoop loads the committed asset as a live loop.
func testLoop(t testing.TB) *segment.Loop {
	t.Helper()
	dir, err := findAsset()
	if err != nil {
		t.Fatal(err)
	}
	a, err := segment.LoadDASH(os.DirFS(dir), "manifest.mpd")
	if err != nil {
		t.Fatal(err)
	}
	l, err := segment.NewLoop(a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// startTestTier starts an origin and n edges for a test.
func startTestTier(t *testing.T, edges int) (*tier, *outbuf.Buffer) {
	t.Helper()
	logs := &outbuf.Buffer{}
	tr, err := startTier(context.Background(), tierOptions{dataDir: t.TempDir(), edges: edges, token: "tok", logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tr.close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return tr, logs
}
