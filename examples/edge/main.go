// Command edge is one member of a caching edge tier in front of a live
// origin. Members share one consistent-hash ring (-peers), so each object is
// fetched from the origin by its owner only; other members fetch it from
// the owner, and from the next member in the key's LocateN list when the
// owner is down. Misses are coalesced and streamed to every waiting viewer
// as the bytes arrive; complete bodies are cached in memory or on disk, and
// disk hits leave by sendfile (kernel TLS with -tls-cert/-tls-key where the
// kernel supports it), on node-local workers when the machine has several
// NUMA nodes. Plain GETs of /live/ objects, hits and misses, are answered
// by the cache's lane without net/http's per-request work (-hit-lane=false
// turns it off); everything else goes through net/http. /metrics serves Prometheus text.
//
//	go run ./examples/edge -listen 127.0.0.1:9001 -origin http://127.0.0.1:8080 \
//	  -peers http://127.0.0.1:9001,http://127.0.0.1:9002,http://127.0.0.1:9003
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/edgekit/edgekit/examples/internal/edgecache"
	"github.com/edgekit/edgekit/examples/internal/httpserve"
	"github.com/edgekit/edgekit/ktls"
	"github.com/edgekit/edgekit/numa"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	fs.SetOutput(stdout)
	var (
		listen   = fs.String("listen", "127.0.0.1:9001", "address to listen on")
		origin   = fs.String("origin", "http://127.0.0.1:8080", "origin base URL")
		self     = fs.String("self", "", "this member's id as peers reach it (default http://<listen>)")
		peers    = fs.String("peers", "", "comma-separated member ids of the tier, this one included (default: a tier of one)")
		cacheDir = fs.String("cache-dir", "", "directory for cached bodies (default: a fresh temp dir)")
		memory   = fs.Int64("cache-bytes", edgecache.DefaultMemoryBytes, "cache budget in bytes")
		certFile = fs.String("tls-cert", "", "TLS certificate (PEM); with -tls-key serves HTTPS, kernel TLS where possible")
		keyFile  = fs.String("tls-key", "", "TLS key (PEM)")
		useNUMA  = fs.Bool("numa", true, "serve disk hits on node-local workers when the machine has several NUMA nodes")
		duration = fs.Duration("duration", 0, "stop after this long (0: until SIGINT)")
		cpuProf  = fs.String("cpuprofile", "", "write a CPU profile (pprof) of the whole run to this file")
		hitLane  = fs.Bool("hit-lane", true, "answer plain GETs of /live/ objects (hits and misses) without net/http's per-request work (false: every request through net/http)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))
	if *cpuProf != "" {
		// A file written at exit rather than an HTTP endpoint: nothing extra
		// is exposed on the serving port, and a profile is opt-in per run.
		stopProf, err := startCPUProfile(*cpuProf)
		if err != nil {
			return err
		}
		defer stopProf()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	scheme := "http"
	if *certFile != "" || *keyFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			ln.Close()
			return err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
	}
	if *self == "" {
		*self = scheme + "://" + ln.Addr().String()
	}
	var members []string
	for _, p := range strings.Split(*peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			members = append(members, p)
		}
	}
	dir := *cacheDir
	if dir == "" {
		d, err := os.MkdirTemp("", "edgekit-edge-")
		if err != nil {
			ln.Close()
			return err
		}
		defer os.RemoveAll(d)
		dir = filepath.Join(d, "cache")
	}
	cfg := edgecache.Config{Origin: *origin, Self: *self, Peers: members, CacheDir: dir, MemoryBytes: *memory, Logger: log}
	if *useNUMA {
		if topo, err := numa.Load(""); err == nil && topo.NumNodes() > 1 {
			pool, err := numa.NewPool(topo, &numa.PoolOptions{Workers: 16, Logger: log})
			if err == nil {
				defer pool.Close()
				cfg.Pool, cfg.Policy = pool, numa.DiskSilo(topo)
				log.Info("serving disk hits on node-local workers", "nodes", topo.NumNodes())
			}
		}
	}
	edge, err := edgecache.New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer edge.Close()
	srv := httpserve.New(edge)
	fmt.Fprintf(stdout, "edge: %s serving %s://%s (origin %s, %d members)\n", *self, scheme, ln.Addr(), *origin, max(1, len(members)))
	if !*hitLane {
		return httpserve.Run(ctx, srv, ln, func(l net.Listener) error {
			return ktls.Serve(srv, l, tlsConfig, &ktls.Options{Logger: log})
		})
	}
	// The lane answers plain hits and misses itself and hands every other
	// request's connection to srv, with the same timeouts.
	lane := edge.Lane(ktls.NewListener(ln, tlsConfig, &ktls.Options{Logger: log}), httpserve.IdleTimeout, httpserve.ReadHeaderTimeout)
	srv.ConnContext = lane.ConnContext
	return httpserve.Run(ctx, srv, lane, nil)
}

// startCPUProfile profiles the process into name until the returned
// function is called.
func startCPUProfile(name string) (stop func(), err error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

var _ http.Handler = (*edgecache.Edge)(nil)
