package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

//go:embed configs
var configFS embed.FS

// Target is one edge under test: a single server, or (edgekit) a tier of
// several members. Its processes run in their own process group so that
// Stop kills exactly what was started. Not safe for concurrent use except
// for Addr, PIDs and Member.
type Target struct {
	Name    string
	addrs   []string
	members []*member
}

// member is one server process (a process group: nginx's master and
// workers, varnishd's manager and child).
type member struct {
	addr    string
	pgids   []int // every process group this member has led (one per start), for leftovers
	argv    []string
	env     []string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Addr is the front address of member i.
func (t *Target) Addr(i int) string { return t.addrs[i%len(t.addrs)] }

// Members is the number of front addresses.
func (t *Target) Members() int { return len(t.addrs) }

// PGIDs returns the process groups of the running members.
func (t *Target) PGIDs() []int {
	var p []int
	for _, m := range t.members {
		if m.cmd != nil {
			p = append(p, m.cmd.Process.Pid)
		}
	}
	return p
}

func (m *member) start() error {
	lf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(m.argv[0], m.argv[1:]...)
	cmd.Env = append(os.Environ(), m.env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("start %s: %w", m.argv[0], err)
	}
	m.cmd = cmd
	m.pgids = append(m.pgids, cmd.Process.Pid)
	m.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		lf.Close()
		close(m.exited)
	}()
	return nil
}

// kill sends SIGKILL to the member's process group and waits for the
// leader to exit.
func (m *member) kill() {
	if m.cmd == nil {
		return
	}
	_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
	}
	m.cmd = nil
}

// Kill kills member i (the "edge killed" fault).
func (t *Target) Kill(i int) { t.members[i].kill() }

// Restart starts member i again and waits until it answers.
func (t *Target) Restart(ctx context.Context, i int) error {
	m := t.members[i]
	if err := m.start(); err != nil {
		return err
	}
	return waitReady(ctx, m, 60*time.Second)
}

// Stop kills every member.
func (t *Target) Stop() {
	for _, m := range t.members {
		m.kill()
	}
}

// waitReady polls addr until an HTTP request through the proxy to the
// origin succeeds (ATS needs seconds to open its cache).
func waitReady(ctx context.Context, m *member, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-m.exited:
			return fmt.Errorf("%s exited during start-up; log %s:\n%s", m.argv[0], m.logPath, tail(m.logPath))
		default:
		}
		c := &Conn{addr: m.addr}
		res := c.Get(ctx, VODPath("ready", 8), 8, 2*time.Second, true)
		c.Close()
		if res.OK() {
			return nil
		}
		last = res.Err
		if last == nil {
			last = fmt.Errorf("status %d", res.Status)
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	return fmt.Errorf("%s at %s not ready after %v: %v; log %s:\n%s", m.argv[0], m.addr, limit, last, m.logPath, tail(m.logPath))
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tmplData fills the config templates.
type tmplData struct {
	Work, Listen, Origin, OriginHost, OriginPort, Port string
	Workers                                            int
}

func newTmplData(work, listen, origin string, workers int) tmplData {
	oh, op, _ := net.SplitHostPort(origin)
	_, lp, _ := net.SplitHostPort(listen)
	return tmplData{Work: work, Listen: listen, Origin: origin, OriginHost: oh, OriginPort: op, Port: lp, Workers: workers}
}

// render writes configs/<name> (a template) to dst.
func render(name, dst string, d tmplData) error {
	src, err := configFS.ReadFile("configs/" + name)
	if err != nil {
		return err
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, d); err != nil {
		return err
	}
	return os.WriteFile(dst, b.Bytes(), 0o644)
}

// TargetSpec says how to start one kind of target.
type TargetSpec struct {
	Name    string
	Need    []string // executables that must be on PATH
	Package string   // the Debian package that installs Need
	start   func(ctx context.Context, env *Env, work string, n int) (*Target, error)
}

// Env is what the starters share: the origin and the edgekit binary.
type Env struct {
	Origin  string // host:port
	EdgeBin string // built examples/edge
	Workers int    // worker processes/threads for the peers
	Logs    io.Writer
	// started is every target Start launched, kept so that leftovers can
	// check after the run that each one is gone. Start appends to it, so
	// targets are started from one goroutine at a time.
	started []*Target
	// originProc is the origin's child process, if it has one; the
	// leftover check covers it like a target.
	originProc *ProcOrigin
	// PinServer, if set, is a CPU list (taskset -c syntax) every server
	// process is confined to: the command runs under taskset, and its
	// children (nginx's workers, varnishd's child) inherit the mask.
	PinServer string
}

// argv is the command line of a server process, under taskset if the
// servers are pinned. taskset execs the server, so the pid, and with it
// the process group Stop kills, stay the server's.
func (env *Env) argv(a ...string) []string {
	if env.PinServer == "" {
		return a
	}
	return append([]string{"taskset", "-c", env.PinServer}, a...)
}

// Specs are the four targets in report order.
var Specs = []TargetSpec{
	{Name: "edgekit", start: startEdgekit},
	{Name: "nginx", Need: []string{"nginx"}, Package: "nginx", start: startNginx},
	{Name: "varnish", Need: []string{"varnishd"}, Package: "varnish", start: startVarnish},
	{Name: "ats", Need: []string{"traffic_server"}, Package: "trafficserver", start: startATS},
}

// Missing reports which executables spec needs and cannot find.
func (s TargetSpec) Missing(env *Env) []string {
	var miss []string
	for _, n := range s.Need {
		if _, err := exec.LookPath(n); err != nil {
			miss = append(miss, n)
		}
	}
	if s.Name == "edgekit" && env.EdgeBin == "" {
		miss = append(miss, "examples/edge binary")
	}
	return miss
}

// Start starts n members of the target (n > 1 only for edgekit).
func (s TargetSpec) Start(ctx context.Context, env *Env, work string, n int) (*Target, error) {
	if n > 1 && s.Name != "edgekit" {
		return nil, errors.New("edgebench: only edgekit runs as a tier")
	}
	dir := filepath.Join(work, s.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	t, err := s.start(ctx, env, dir, n)
	if err != nil {
		return nil, err
	}
	env.started = append(env.started, t)
	for _, m := range t.members {
		if err := waitReady(ctx, m, 90*time.Second); err != nil {
			t.Stop()
			return nil, err
		}
	}
	return t, nil
}

func startEdgekit(ctx context.Context, env *Env, work string, n int) (*Target, error) {
	t := &Target{Name: "edgekit"}
	for i := 0; i < n; i++ {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		t.addrs = append(t.addrs, a)
	}
	var peers []string
	for _, a := range t.addrs {
		peers = append(peers, "http://"+a)
	}
	for i, a := range t.addrs {
		dir := filepath.Join(work, "edge"+strconv.Itoa(i))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		m := &member{addr: a, logPath: filepath.Join(dir, "edge.log"), argv: env.argv(edgeArgs(env, a, peers, filepath.Join(dir, "cache"))...)}
		if err := m.start(); err != nil {
			t.Stop()
			return nil, err
		}
		t.members = append(t.members, m)
	}
	return t, nil
}

// edgeArgs is the examples/edge command line: the same cache budget as
// the peers (1 GiB), bodies on disk in the temp dir so hits go out by
// sendfile like nginx's.
func edgeArgs(env *Env, addr string, peers []string, cacheDir string) []string {
	return []string{env.EdgeBin,
		"-listen", addr,
		"-origin", "http://" + env.Origin,
		"-self", "http://" + addr,
		"-peers", strings.Join(peers, ","),
		"-cache-dir", cacheDir,
		"-cache-bytes", strconv.Itoa(1 << 30),
	}
}

func startNginx(ctx context.Context, env *Env, work string, n int) (*Target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d := newTmplData(work, addr, env.Origin, env.Workers)
	conf := filepath.Join(work, "nginx.conf")
	if err := render("nginx.conf.tmpl", conf, d); err != nil {
		return nil, err
	}
	return startSingle("nginx", addr, filepath.Join(work, "stderr.log"), env.argv(
		"nginx", "-p", work, "-e", filepath.Join(work, "error.log"), "-c", conf, "-g", "daemon off;")...)
}

// startSingle starts a one-process target listening on addr.
func startSingle(name, addr, logPath string, argv ...string) (*Target, error) {
	m := &member{addr: addr, logPath: logPath, argv: argv}
	if err := m.start(); err != nil {
		return nil, err
	}
	return &Target{Name: name, addrs: []string{addr}, members: []*member{m}}, nil
}

func startVarnish(ctx context.Context, env *Env, work string, n int) (*Target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// varnishd drops privileges to the varnish user for the working
	// directory and VCL compilation: the dirs must be reachable.
	if err := chmodUp(work); err != nil {
		return nil, err
	}
	d := newTmplData(work, addr, env.Origin, env.Workers)
	vcl := filepath.Join(work, "edge.vcl")
	if err := render("varnish.vcl.tmpl", vcl, d); err != nil {
		return nil, err
	}
	return startSingle("varnish", addr, filepath.Join(work, "varnishd.log"), env.argv(
		"varnishd", "-F", "-n", filepath.Join(work, "n"), "-a", addr, "-f", vcl,
		"-s", "malloc,1g",
		"-p", "thread_pool_min=200", "-p", "thread_pool_max=6000", "-p", "thread_queue_limit=2000",
		"-p", "first_byte_timeout=10", "-p", "between_bytes_timeout=5")...)
}

func startATS(ctx context.Context, env *Env, work string, n int) (*Target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// A runroot whose every writable directory is under work: Debian's
	// "traffic_layout init" keeps /etc/trafficserver and /var paths, so the
	// layout is written here instead, with Debian's default configs copied
	// in and ours over them.
	root := filepath.Join(work, "root")
	dirs := map[string]string{"sysconfdir": "etc", "localstatedir": "var", "runtimedir": "run", "logdir": "log", "cachedir": "cache", "datadir": "share"}
	var layout strings.Builder
	fmt.Fprintf(&layout, "prefix: %s\nexec_prefix: %s\nbindir: /usr/bin\nsbindir: /usr/sbin\nincludedir: /usr/include\nlibdir: /usr/lib/trafficserver\nlibexecdir: /usr/lib/trafficserver/modules\n", root, root)
	for k, d := range dirs {
		p := filepath.Join(root, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
		fmt.Fprintf(&layout, "%s: %s\n", k, p)
	}
	if err := os.WriteFile(filepath.Join(root, "runroot.yaml"), []byte(layout.String()), 0o644); err != nil {
		return nil, err
	}
	etc := filepath.Join(root, "etc")
	if err := os.CopyFS(etc, os.DirFS("/etc/trafficserver")); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("copy /etc/trafficserver: %w", err)
	}
	d := newTmplData(work, addr, env.Origin, env.Workers)
	for _, f := range []string{"records.config", "remap.config", "storage.config"} {
		if err := render("ats/"+f+".tmpl", filepath.Join(etc, f), d); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(work, "cache"), 0o755); err != nil {
		return nil, err
	}
	return startSingle("ats", addr, filepath.Join(work, "traffic_server.log"), env.argv(
		"traffic_server", "--run-root="+filepath.Join(root, "runroot.yaml"))...)
}

// chmodUp makes dir and its parents up to the temp root world-searchable.
func chmodUp(dir string) error {
	for d := dir; d != "/" && d != "." && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// metric reads one unlabelled value from a Prometheus text page.
func metric(ctx context.Context, url, name string) (float64, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}
