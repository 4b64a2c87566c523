package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/outbuf"
	"github.com/edgekit/edgekit/internal/peertest"
)

// TestDashJSInChromium plays the livedemo page with dash.js in headless
// Debian chromium for 20 s: both codecs the page uses (H.264 High
// avc1.64001f and AAC-LC mp4a.40.2) must be supported by MediaSource,
// currentTime must advance, and no error event may fire. The screenshot is
// kept in $CI_WORK/artifacts (or the test's temp dir).
func TestDashJSInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	chromium := peertest.Exec(t, "chromium", "apt-get install chromium")
	node := peertest.Exec(t, "node", "apt-get install nodejs")
	if _, err := os.Stat("node_modules/playwright-core"); err != nil {
		peertest.Missing(t, "examples/livedemo/node_modules", "run `npm ci` in examples/livedemo (the .ci/peers.d/60-browser.sh hook does)")
	}
	if _, err := os.Stat("node_modules/dashjs/dist/modern/umd/dash.all.min.js"); err != nil {
		peertest.Missing(t, "dash.js", "run `npm ci` in examples/livedemo")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &outbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-player", "dashjs", "-duration", "90s"}, out)
	}()
	pageURL := out.WaitAfter(t, "livedemo: open ", 10*time.Second)
	// Let a few segments exist behind the live edge before the player joins.
	time.Sleep(4 * time.Second)

	artifacts := os.Getenv("CI_WORK")
	if artifacts != "" {
		artifacts = filepath.Join(artifacts, "artifacts")
	} else {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "livedemo-chromium.png")
	cmd := exec.CommandContext(ctx, node, "testdata/play.js", pageURL, "20", shot, t.TempDir())
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node play.js: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	var res struct {
		Support struct{ Video, Audio bool }
		T0, T1  float64
		Paused  bool
		Error   string
		Console []string
		Status  struct {
			Player string
			Errors []string
		}
	}
	line := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("play.js output %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	t.Logf("chromium: MediaSource avc1.64001f=%v mp4a.40.2=%v, player %s, currentTime %.1f -> %.1f over 20 s, screenshot %s",
		res.Support.Video, res.Support.Audio, res.Status.Player, res.T0, res.T1, shot)
	if res.Error != "" {
		t.Fatalf("play.js: %s", res.Error)
	}
	if !res.Support.Video || !res.Support.Audio {
		t.Fatalf("MediaSource support: %+v", res.Support)
	}
	if res.Status.Player != "dash.js" {
		t.Errorf("player: got %q want dash.js", res.Status.Player)
	}
	if adv := res.T1 - res.T0; adv < 15 {
		t.Errorf("currentTime advanced %.1f s in 20 s, want >= 15", adv)
	}
	if len(res.Status.Errors) > 0 {
		t.Errorf("player errors: %v", res.Status.Errors)
	}
	if len(res.Console) > 0 {
		t.Logf("console errors (not failing): %v", res.Console)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Errorf("screenshot missing: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
