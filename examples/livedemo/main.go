// Command livedemo runs a whole live system in one process: a looping test
// channel (segment.Loop over the committed segment/testdata/vod asset) pushed
// into an origin by HTTP PUT as an encoder would, the origin, a tier of three
// edges sharing one hash ring, and a web page with a player reading the
// channel through an edge next to live counters (viewers, origin fetches per
// segment, hit ratio).
//
//	go run ./examples/livedemo            # then open the URL it prints
//
// The page plays with dash.js when examples/livedemo/node_modules holds it
// (`npm ci` in examples/livedemo); otherwise it falls back to a small
// built-in MSE player, so the page works offline either way. Everything
// listens on loopback; data goes to a temp directory removed on exit.
// SIGINT (or -duration) stops it cleanly.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/edgekit/edgekit/examples/internal/httpserve"
	"github.com/edgekit/edgekit/segment"
)

//go:embed web
var webFS embed.FS

const channel = "demo"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "livedemo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("livedemo", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		listen   = fs.String("listen", "127.0.0.1:8000", "address of the demo page")
		duration = fs.Duration("duration", 0, "stop after this long (0: until SIGINT)")
		assetDir = fs.String("asset", "", "DASH VoD asset to loop (default: segment/testdata/vod of this checkout)")
		dashjs   = fs.String("dashjs", "", "path of dash.all.min.js (default: examples/livedemo/node_modules/dashjs/dist/modern/umd/dash.all.min.js)")
		player   = fs.String("player", "auto", "page player: auto (dash.js if found), dashjs, or mini (built-in MSE player)")
		verbose  = fs.Bool("v", false, "log at debug level")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: level}))

	if *assetDir == "" {
		d, err := findAsset()
		if err != nil {
			return err
		}
		*assetDir = d
	}
	asset, err := segment.LoadDASH(os.DirFS(*assetDir), "manifest.mpd")
	if err != nil {
		return fmt.Errorf("load asset %s: %w", *assetDir, err)
	}
	loop, err := segment.NewLoop(asset, nil)
	if err != nil {
		return err
	}
	if *dashjs == "" {
		*dashjs = findDashJS()
	}
	script, name, err := pickPlayer(*player, *dashjs)
	if err != nil {
		return err
	}
	if name != "dash.js" {
		fmt.Fprintf(stdout, "livedemo: dash.js not found at %s (run `npm ci` in examples/livedemo); the page uses the built-in MSE player\n", *dashjs)
	}

	dataDir, err := os.MkdirTemp("", "edgekit-livedemo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dataDir)
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	t, err := startTier(ctx, tierOptions{dataDir: dataDir, edges: 3, token: hex.EncodeToString(tok[:]), logger: log})
	if err != nil {
		return err
	}
	defer t.close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mpd := t.edgeURLs[0] + "/live/" + channel + "/manifest.mpd"
	page, err := newPage(t, mpd, name, script)
	if err != nil {
		ln.Close()
		return err
	}
	psrv := httpserve.New(page)
	pageDone := make(chan error, 1)
	go func() { pageDone <- httpserve.Run(ctx, psrv, ln, nil) }()

	p := &pusher{loop: loop, base: t.originURL + "/ingest/" + channel + "/a/", token: t.token, client: &http.Client{Timeout: 30 * time.Second}, backfill: 4}
	pushDone := make(chan error, 1)
	go func() { pushDone <- p.run(ctx) }()

	fmt.Fprintf(stdout, "livedemo: open http://%s/ (player %s; origin %s; edges %v)\n", ln.Addr(), name, t.originURL, t.edgeURLs)
	var runErr error
	select {
	case runErr = <-pushDone:
		if runErr != nil {
			runErr = fmt.Errorf("channel push: %w", runErr)
		}
	case <-ctx.Done():
		runErr = <-pushDone
	}
	t.cancel()
	perr := <-pageDone
	if runErr == nil && perr != nil {
		runErr = perr
	}
	if cerr := t.close(); runErr == nil && cerr != nil {
		runErr = cerr
	}
	s := t.stats()
	fmt.Fprintf(stdout, "livedemo: stopped; %d segments published, edge hits %d misses %d coalesced %d, origin fetches %d\n",
		t.origin.Stats().Published, s.Hits, s.Misses, s.Coalesced, s.OriginFetches)
	return runErr
}

// pickPlayer returns the player script bytes and its name.
func pickPlayer(mode, dashjsPath string) ([]byte, string, error) {
	if mode == "auto" || mode == "dashjs" {
		b, err := os.ReadFile(dashjsPath)
		if err == nil {
			return b, "dash.js", nil
		}
		if mode == "dashjs" {
			return nil, "", fmt.Errorf("dash.js: %w (run `npm ci` in examples/livedemo)", err)
		}
	} else if mode != "mini" {
		return nil, "", fmt.Errorf("-player %q: want auto, dashjs or mini", mode)
	}
	b, err := webFS.ReadFile("web/miniplayer.js")
	return b, "built-in MSE player", err
}

// page serves the demo page, the player script and /stats.
type page struct {
	t      *tier
	index  []byte
	script []byte
}

func newPage(t *tier, mpd, player string, script []byte) (*page, error) {
	tpl, err := template.ParseFS(webFS, "web/index.html")
	if err != nil {
		return nil, err
	}
	cfg, _ := json.Marshal(map[string]string{"mpd": mpd, "player": player})
	var b bytes.Buffer
	err = tpl.Execute(&b, map[string]any{"Config": template.JS(cfg), "PlayerScript": "/player.js"})
	return &page{t: t, index: b.Bytes(), script: script}, err
}

func (p *page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(p.index)
	case "/player.js":
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(p.script)
	case "/favicon.ico":
		w.WriteHeader(http.StatusNoContent)
	case "/stats":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(p.stats())
	default:
		http.NotFound(w, r)
	}
}

// demoStats is what the page shows.
type demoStats struct {
	Viewers                 int     `json:"viewers"`
	Published               int64   `json:"published"`
	OriginFetchesPerSegment float64 `json:"originFetchesPerSegment"`
	HitRatio                float64 `json:"hitRatio"`
	Hits                    int64   `json:"hits"`
	Misses                  int64   `json:"misses"`
	Coalesced               int64   `json:"coalesced"`
	OriginFetches           int64   `json:"originFetches"`
	PeerFetches             int64   `json:"peerFetches"`
}

func (p *page) stats() demoStats {
	s := p.t.stats()
	o := p.t.origin.Stats()
	d := demoStats{Viewers: s.Viewers, Published: o.Published, Hits: s.Hits, Misses: s.Misses, Coalesced: s.Coalesced,
		OriginFetches: s.OriginFetches, PeerFetches: s.PeerFetches}
	if o.Published > 0 {
		d.OriginFetchesPerSegment = float64(o.SegmentGets) / float64(o.Published)
	}
	if r := s.HitRatio(); !math.IsNaN(r) {
		d.HitRatio = r
	}
	return d
}
