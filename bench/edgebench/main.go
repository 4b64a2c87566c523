// Command edgebench measures examples/edge against nginx (proxy_cache_lock),
// Varnish (waiting list, streaming) and Apache Traffic Server
// (read-while-writer) on loopback, in one run, with the same synthetic
// origin and the same workloads: a thundering herd on one uncached
// segment, viewers following live channels, hit throughput with wrk, a
// soak, and faults during load. See README.md for the packages it needs
// and run.sh for the runs of record; results go to -out as report.md,
// results.json and SVG plots.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == originSubcommand {
		os.Exit(originMain())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
}

// originMain is `edgebench serve-origin`: the synthetic origin in a
// process of its own, driven over stdin/stdout (see originproc.go).
func originMain() int {
	if err := serveOrigin(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench serve-origin:", err)
		return 1
	}
	return 0
}

// Options is the whole run, as flags set it.
type Options struct {
	Settle    time.Duration // bound on the wait for an idle machine before each target's workload
	Mode      string
	Targets   []string
	Workloads []string
	Out, Work string
	EdgeBin   string
	Repo      string
	Workers   int
	Tier      int
	Seed      uint64
	Origin    OriginConfig
	// OriginInProc serves the origin from this process, as edgebench did
	// before it had a process of its own: for comparison only (the herd's
	// clients delay it).
	OriginInProc bool
	// PinServer and PinClient are CPU lists (taskset -c syntax), empty
	// for no pinning: the servers under test, and this process with the
	// origin and wrk it starts.
	PinServer, PinClient string
	Herd                 HerdConfig
	Live                 LiveConfig
	Soak                 LiveConfig
	SoakEvery            time.Duration
	SoakOn               []string
	Fault                LiveConfig
	Hits                 HitConfig
	HitTargets           []string
}

// modes are the presets; flags given explicitly override them.
var modes = map[string]map[string]string{
	"tiny":  {"hit-reps": "1", "herd": "50", "viewers": "18", "live-dur": "8s", "soak-dur": "10s", "soak-viewers": "18", "fault-viewers": "18", "hit-dur": "2s", "hit-conns": "10"},
	"short": {"hit-reps": "1", "herd": "1000", "viewers": "200", "live-dur": "30s", "soak-dur": "60s", "soak-viewers": "100", "fault-viewers": "90", "hit-dur": "5s", "hit-conns": "100,1000"},
	"full":  {"settle": "60s", "hit-reps": "3", "herd": "10000", "viewers": "2000", "live-dur": "5m", "soak-dur": "5m", "soak-viewers": "300", "fault-viewers": "300", "hit-dur": "10s", "hit-conns": "100,1000"},
	"long":  {"settle": "60s", "hit-reps": "3", "herd": "10000", "viewers": "2000", "live-dur": "5m", "soak-dur": "30m", "soak-viewers": "300", "fault-viewers": "300", "hit-dur": "10s", "hit-conns": "100,1000"},
}

func parseFlags(args []string, stdout io.Writer) (*Options, error) {
	fs := flag.NewFlagSet("edgebench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	o := &Options{}
	mode := fs.String("mode", "short", "preset: tiny, short (minutes), full (the run of record), long (30 min soak)")
	targets := fs.String("targets", "edgekit,nginx,varnish,ats", "targets to measure, in report order")
	workloads := fs.String("workloads", "herd,live,hits,soak,faults", "workloads to run")
	fs.StringVar(&o.Out, "out", "edgebench-out", "directory for report.md, results.json and the SVG plots")
	fs.StringVar(&o.Work, "work", "", "working directory for peer configs, caches and logs (default: a new temp dir, removed at the end)")
	fs.StringVar(&o.EdgeBin, "edge-bin", "", "examples/edge binary (default: go build it from -repo)")
	fs.StringVar(&o.Repo, "repo", "", "edgekit repository root (default: found above the current directory)")
	fs.IntVar(&o.Workers, "workers", 2, "nginx worker processes")
	fs.IntVar(&o.Tier, "tier", 3, "edgekit members in the fault workload (hashring fallback needs >= 2)")
	seed := fs.Uint64("seed", 0, "seed of the viewers' arrival jitter (0: from the clock; printed)")
	fs.BoolVar(&o.OriginInProc, "origin-in-process", false, "serve the synthetic origin from this process instead of a child process (the old way; the herd's clients then delay it)")
	fs.StringVar(&o.PinServer, "pin-server", "", "CPU list (taskset -c syntax) to confine every server under test to; empty: no pinning")
	fs.DurationVar(&o.Settle, "settle", 0, "before each target's workload, wait up to this long for a second in which the CPUs are less than 25% busy (full and long modes: 60s)")
	fs.StringVar(&o.PinClient, "pin-client", "", "CPU list to confine edgebench itself to (its clients, and the origin process and wrk it starts); empty: no pinning")
	fs.DurationVar(&o.Origin.TTFB, "ttfb", 200*time.Millisecond, "origin time to first byte for herd and hit objects")
	rate := fs.Float64("rate", 8, "origin streaming rate, MiB/s, for herd and hit objects")
	fs.DurationVar(&o.Origin.LiveTTFB, "live-ttfb", 10*time.Millisecond, "origin time to first byte of a published live segment")
	liveRate := fs.Float64("live-rate", 64, "origin streaming rate for live segments, MiB/s")
	fs.DurationVar(&o.Origin.LiveMaxAge, "live-max-age", 30*time.Second, "Cache-Control max-age of live segments (the live window; whole seconds)")
	fs.DurationVar(&o.Origin.SegDur, "seg", 2*time.Second, "live segment duration")
	bitrates := fs.String("bitrates", "400000,1200000,3000000", "bits/s of the renditions (segment size = bitrate × seg / 8)")
	fs.DurationVar(&o.Origin.Stall, "stall", 7*time.Second, "how long the stall fault holds a half-sent body before cutting it (above every target's 5 s upstream stall timeout, so the proxy must cut it itself)")
	size := fs.Int64("herd-size", 2<<20, "herd object size, bytes")
	herd := fs.Int("herd", 0, "herd size (concurrent requests; connections opened first)")
	fs.IntVar(&o.Herd.VerifyEvery, "herd-verify-every", 20, "check every byte of 1 in N herd bodies (the rest by length)")
	viewers := fs.Int("viewers", 0, "live viewers")
	liveDur := fs.Duration("live-dur", 0, "live workload duration")
	fs.DurationVar(&o.Live.Spread, "spread", 100*time.Millisecond, "spread of viewers' arrivals around publication")
	soakDur := fs.Duration("soak-dur", 0, "soak duration")
	soakViewers := fs.Int("soak-viewers", 0, "soak viewers")
	fs.DurationVar(&o.SoakEvery, "soak-every", 0, "soak sampling interval (default: duration/60, at least 1s)")
	soakOn := fs.String("soak-targets", "edgekit", "targets to soak (soaking every peer multiplies the run time)")
	faultViewers := fs.Int("fault-viewers", 0, "viewers during the fault workload")
	hitDur := fs.Duration("hit-dur", 0, "wrk duration per run")
	hitConns := fs.String("hit-conns", "", "wrk connection counts")
	hitReps := fs.Int("hit-reps", 0, "rounds of wrk runs (each target in turn per configuration); the median is reported")
	hitSizes := fs.String("hit-sizes", "65536,2097152", "cached object sizes for wrk")
	hitTargets := fs.String("hit-targets", "edgekit,nginx,varnish,ats", "targets for the hit-throughput workload")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	preset, ok := modes[*mode]
	if !ok {
		return nil, fmt.Errorf("unknown -mode %q", *mode)
	}
	o.Mode = *mode
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for k, v := range preset {
		if !set[k] {
			if err := fs.Set(k, v); err != nil {
				return nil, err
			}
		}
	}
	o.Targets, o.Workloads = splitList(*targets), splitList(*workloads)
	o.SoakOn, o.HitTargets = splitList(*soakOn), splitList(*hitTargets)
	o.Seed = *seed
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	o.Origin.Rate = int64(*rate * (1 << 20))
	o.Origin.LiveRate = int64(*liveRate * (1 << 20))
	o.Origin.HoldOpen = 2 * o.Origin.SegDur
	for _, b := range splitList(*bitrates) {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 8 {
			return nil, fmt.Errorf("bad -bitrates entry %q", b)
		}
		o.Origin.Bitrates = append(o.Origin.Bitrates, n)
	}
	o.Herd = HerdConfig{N: *herd, Size: *size &^ 7, Lone: 5, Timeout: 2 * time.Minute, VerifyEvery: o.Herd.VerifyEvery, DialPar: 128}
	base := LiveConfig{Channels: 3, Renditions: len(o.Origin.Bitrates), Spread: o.Live.Spread,
		Timeout: 10 * time.Second, Retry: 250 * time.Millisecond, Verify: true, Seed: o.Seed}
	o.Live, o.Soak, o.Fault = base, base, base
	o.Live.Viewers, o.Live.Duration = *viewers, *liveDur
	o.Soak.Viewers, o.Soak.Duration = *soakViewers, *soakDur
	o.Fault.Viewers = *faultViewers
	if o.SoakEvery == 0 {
		o.SoakEvery = max(time.Second, o.Soak.Duration/60)
	}
	o.Hits = HitConfig{Duration: *hitDur, Threads: 2, Reps: *hitReps}
	for _, s := range splitList(*hitSizes) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad -hit-sizes entry %q", s)
		}
		o.Hits.Sizes = append(o.Hits.Sizes, n&^7)
	}
	for _, s := range splitList(*hitConns) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad -hit-conns entry %q", s)
		}
		o.Hits.Conns = append(o.Hits.Conns, n)
	}
	return o, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	opt, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	rep, err := measure(ctx, opt, "edgebench "+strings.Join(args, " "), stdout)
	if err != nil {
		return err
	}
	if len(rep.Leftovers) > 0 {
		return fmt.Errorf("%d servers or ports left after their workload (see report.md)", len(rep.Leftovers))
	}
	return nil
}

// measure runs every workload of opt against every target, writes the
// report to opt.Out after each workload, and checks at the end that every
// server it started is gone (Report.Leftovers). The error is for a run
// that could not go on (a cancelled ctx, an unwritable -out); a target
// that failed is in Report.NotMeasured instead. TestPeers calls it as
// run.sh does, at a tiny scale.
func measure(ctx context.Context, opt *Options, command string, stdout io.Writer) (*Report, error) {
	if opt.Work == "" {
		d, err := os.MkdirTemp("", "edgebench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		opt.Work = d
	}
	// The servers are started with their own working directories
	// (nginx -p, ATS's runroot), so a relative -work would be resolved
	// twice.
	abs, err := filepath.Abs(opt.Work)
	if err != nil {
		return nil, err
	}
	opt.Work = abs
	if err := os.MkdirAll(opt.Out, 0o755); err != nil {
		return nil, err
	}
	rep := &Report{Options: opt, Started: time.Now().UTC(), Machine: machine(), NotMeasured: map[string]string{}, Command: command}
	fmt.Fprintf(stdout, "edgebench: mode %s, seed %d, work %s\n", opt.Mode, opt.Seed, opt.Work)

	env := &Env{Workers: opt.Workers, EdgeBin: opt.EdgeBin, PinServer: opt.PinServer}
	if opt.PinServer != "" {
		if _, err := exec.LookPath("taskset"); err != nil {
			return nil, fmt.Errorf("-pin-server needs taskset (util-linux): %w", err)
		}
	}
	if opt.PinClient != "" {
		// Before the origin starts, so that it inherits the mask.
		if err := pinSelf(opt.PinClient); err != nil {
			return nil, err
		}
	}
	if slices.Contains(opt.Targets, "edgekit") && env.EdgeBin == "" {
		bin, err := buildEdge(ctx, opt)
		if err != nil {
			rep.NotMeasured["edgekit"] = "examples/edge did not build: " + err.Error()
			fmt.Fprintln(stdout, "edgebench: edgekit not measured:", err)
		}
		env.EdgeBin = bin
	}
	// The origin's epoch is now, so segment numbers stay small.
	opt.Origin.Epoch = time.Now().Truncate(opt.Origin.SegDur)
	org, closeOrigin, err := startOrigin(opt, env, stdout)
	if err != nil {
		return nil, err
	}
	defer closeOrigin()
	env.Origin = org.Addr()

	var specs []TargetSpec
	for _, name := range opt.Targets {
		spec, ok := specByName(name)
		if !ok {
			return nil, fmt.Errorf("unknown target %q", name)
		}
		if _, done := rep.NotMeasured[name]; done {
			continue
		}
		if miss := spec.Missing(env); len(miss) > 0 {
			hint := "see README.md"
			if spec.Package != "" {
				hint = "apt-get install " + spec.Package + "; " + hint
			}
			rep.NotMeasured[name] = "missing: " + strings.Join(miss, ", ") + " (" + hint + ")"
			fmt.Fprintf(stdout, "edgebench: %s not measured: %s\n", name, rep.NotMeasured[name])
			continue
		}
		specs = append(specs, spec)
	}
	// Workload by workload, every target in turn, so that the targets of
	// one workload are measured close together in time on a shared machine.
	for _, w := range []string{"herd", "live", "hits", "soak", "faults"} {
		if !slices.Contains(opt.Workloads, w) {
			continue
		}
		if err := runWorkload(ctx, w, opt, env, org, specs, rep, stdout); err != nil {
			return rep, err
		}
		// Write what is measured so far: a later failure loses nothing.
		rep.Finished, rep.LoadEnd = time.Now().UTC(), loadavg()
		if err := rep.Write(opt.Out); err != nil {
			return rep, err
		}
	}
	// A control round trip that failed (the origin process died or hung)
	// made fetch counts read -1: say so in the report.
	if p := env.originProc; p != nil && p.Err() != nil {
		rep.NotMeasured["origin"] = "origin fetch counts from the failure on are -1: " + p.Err().Error()
	}
	if err := closeOrigin(); err != nil {
		fmt.Fprintln(stdout, "edgebench:", err)
	}
	rep.Leftovers = env.leftovers(5 * time.Second)
	for _, l := range rep.Leftovers {
		fmt.Fprintln(stdout, "edgebench: left running:", l)
	}
	rep.Finished = time.Now().UTC()
	rep.LoadEnd = loadavg()
	return rep, rep.Write(opt.Out)
}

// startOrigin starts the synthetic origin as opt says, on loopback, and
// returns it with its idempotent stop. A child process is recorded in
// env so that the leftover check covers it too.
func startOrigin(opt *Options, env *Env, stdout io.Writer) (Origin, func() error, error) {
	if opt.OriginInProc {
		o, err := NewOrigin("127.0.0.1:0", opt.Origin)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(stdout, "edgebench: origin in this process at %s\n", o.Addr())
		return o, o.Stop, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	p, err := StartOriginProc(exe, opt.Origin, os.Stderr)
	if err != nil {
		return nil, nil, err
	}
	env.originProc = p
	fmt.Fprintf(stdout, "edgebench: origin in process %d at %s\n", p.PID(), p.Addr())
	return p, p.Close, nil
}

// pinSelf confines every thread of this process to the CPUs of list;
// threads and processes started later inherit the mask.
func pinSelf(list string) error {
	out, err := exec.Command("taskset", "-a", "-c", "-p", list, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -c -p %s %d: %v: %s", list, os.Getpid(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

func specByName(name string) (TargetSpec, bool) {
	for _, s := range Specs {
		if s.Name == name {
			return s, true
		}
	}
	return TargetSpec{}, false
}

// buildEdge builds examples/edge from the repository into the work dir.
func buildEdge(ctx context.Context, opt *Options) (string, error) {
	root := opt.Repo
	if root == "" {
		var err error
		if root, err = findRepo(); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(opt.Work, "bin", "edge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/edge")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./examples/edge: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return bin, nil
}

// findRepo walks up from the current directory to the edgekit module root.
func findRepo() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/edgekit/edgekit\n") {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("edgekit repository not found above the current directory (use -repo)")
		}
		d = p
	}
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// writeJSON writes v to path, indented.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// firstN is at most n leading elements of s.
func firstN(s []string, n int) []string { return s[:min(n, len(s))] }
