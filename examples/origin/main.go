// Command origin is a live origin: it takes DASH/CMAF ingest over HTTP PUT
// (ffmpeg's dash muxer is the reference client), inspects, epoch-locks and
// stores every segment in kv (kv/local in -data by default, Cassandra with
// -kv cassandra://host1,host2/keyspace), records events in timeseries, and
// serves DASH and HLS manifests and segments, holding the request for the
// next segment open until it arrives.
//
//	go run ./examples/origin -token ch1=SECRET
//	ffmpeg -re -f lavfi -i testsrc2=size=640x360:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
//	  -c:v libx264 -g 50 -keyint_min 50 -sc_threshold 0 -bf 0 -c:a aac -ar 48000 \
//	  -f dash -seg_duration 2 -streaming 1 -use_template 1 -use_timeline 0 \
//	  -init_seg_name 'init-$RepresentationID$.m4s' -media_seg_name 'seg-$RepresentationID$-$Number$.m4s' \
//	  -method PUT -http_opts 'headers=X-Ingest-Token\: SECRET' http://127.0.0.1:8080/ingest/ch1/a/manifest.mpd
//	ffplay http://127.0.0.1:8080/live/ch1/manifest.mpd
//
// See package examples/internal/liveorigin for the protocol, the epoch
// mapping of ffmpeg's decode times, and the storage layout.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/edgekit/edgekit/examples/internal/httpserve"
	"github.com/edgekit/edgekit/examples/internal/kvopen"
	"github.com/edgekit/edgekit/examples/internal/liveorigin"
	"github.com/edgekit/edgekit/timeseries"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
}

// tokens is a repeatable -token channel=secret flag.
type tokens map[string]string

func (t tokens) String() string { return fmt.Sprint(len(t), " tokens") }
func (t tokens) Set(v string) error {
	ch, tok, ok := strings.Cut(v, "=")
	if !ok || ch == "" || tok == "" {
		return fmt.Errorf("want channel=token, got %q", v)
	}
	t[ch] = tok
	return nil
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("origin", flag.ContinueOnError)
	fs.SetOutput(stdout)
	toks := tokens{}
	var (
		listen    = fs.String("listen", "127.0.0.1:8080", "address to listen on")
		dataDir   = fs.String("data", filepath.Join(os.TempDir(), "edgekit-origin"), "data directory for kv/local")
		kvSpec    = fs.String("kv", "local", "kv store: local, local:<path>, or cassandra://host1,host2/keyspace")
		pipelines = fs.String("pipelines", "a,b", "pipeline selection order, comma-separated")
		segDur    = fs.Duration("segment-duration", liveorigin.DefaultSegmentDuration, "segment duration of every channel")
		window    = fs.Duration("window", liveorigin.DefaultWindow, "DVR window (timeShiftBufferDepth)")
		maxBody   = fs.Int64("max-body", liveorigin.DefaultMaxBodySize, "largest ingest body in bytes")
		duration  = fs.Duration("duration", 0, "stop after this long (0: until SIGINT)")
		verbose   = fs.Bool("v", false, "log every stored segment")
	)
	fs.Var(toks, "token", "ingest token as channel=secret (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(toks) == 0 {
		return fmt.Errorf("no -token channel=secret given: no channel could ingest")
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: level}))

	store, where, err := kvopen.Open(ctx, *kvSpec, *dataDir)
	if err != nil {
		return fmt.Errorf("open kv: %w", err)
	}
	defer store.Close()
	events, err := timeseries.Open(ctx, store, "origin_events", &timeseries.Options{Coalesce: time.Second, Retention: 7 * 24 * time.Hour, Logger: log})
	if err != nil {
		return fmt.Errorf("open timeseries: %w", err)
	}
	defer events.Close()

	origin, err := liveorigin.New(ctx, liveorigin.Config{
		Store:           store,
		Tokens:          toks,
		Pipelines:       strings.Split(*pipelines, ","),
		SegmentDuration: *segDur,
		Window:          *window,
		MaxBodySize:     *maxBody,
		Recorder:        &liveorigin.TimeseriesRecorder{NS: events, Logger: log},
		Logger:          log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "origin: serving http://%s/live/<channel>/manifest.mpd, ingest at http://%s/ingest/<channel>/<pipeline>/, kv %s\n", ln.Addr(), ln.Addr(), where)
	return httpserve.Run(ctx, httpserve.New(origin), ln, nil)
}
