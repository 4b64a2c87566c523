package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// The synthetic origin in a process of its own.
//
// In a 10,000-request herd the clients' goroutines write their requests
// during the same ~100 ms in which the origin must accept the edge's one
// request and start its 200 ms timer; in one process they delay both
// (docs/bench/edge.md, "Herd after head-first misses"), and that delay was
// in every target's herd TTFB. So edgebench re-executes itself as
// `edgebench serve-origin`, which runs an InProcOrigin and answers control
// requests, and the workloads talk to it through ProcOrigin.
//
// Control protocol, over the child's stdin and stdout, one JSON value per
// line: the parent first writes an originHello; the child answers with a
// ctlReply holding the origin's address, then answers each ctlRequest
// with one ctlReply, in order. End of stdin means stop: the child closes
// its origin and exits. No port but the origin's is opened.

// originSubcommand is the first argument that makes edgebench (or its
// test binary, see TestMain) serve the origin instead of measuring.
const originSubcommand = "serve-origin"

// ctlTimeout bounds one control round trip: a child that does not
// answer within it is treated as dead.
const ctlTimeout = 10 * time.Second

type originHello struct {
	Listen string
	Config OriginConfig
}

type ctlRequest struct {
	Op    string // "fetches", "first", "cut", "fault", "stop", "start"
	Path  string `json:",omitempty"`
	Fault Fault  `json:",omitempty"`
}

type ctlReply struct {
	Err    string       `json:",omitempty"`
	Addr   string       `json:",omitempty"` // the hello's answer
	N      int          `json:",omitempty"`
	OK     bool         `json:",omitempty"`
	Paths  []string     `json:",omitempty"`
	Timing *FetchTiming `json:",omitempty"`
}

// serveOrigin is the child's side: it reads the hello from in, starts the
// origin, and answers control requests until in ends.
func serveOrigin(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	var h originHello
	if err := dec.Decode(&h); err != nil {
		return fmt.Errorf("reading the origin's configuration: %w", err)
	}
	o, err := NewOrigin(h.Listen, h.Config)
	if err != nil {
		_ = enc.Encode(ctlReply{Err: err.Error()})
		return err
	}
	defer o.Stop()
	if err := enc.Encode(ctlReply{Addr: o.Addr()}); err != nil {
		return err
	}
	for {
		var req ctlRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil // the parent closed stdin, or died
			}
			return err
		}
		if err := enc.Encode(o.control(req)); err != nil {
			return err
		}
	}
}

// control carries out one control request.
func (o *InProcOrigin) control(req ctlRequest) ctlReply {
	var rep ctlReply
	var err error
	switch req.Op {
	case "fetches":
		rep.N = o.Fetches(req.Path)
	case "first":
		ft, ok := o.FirstFetch(req.Path)
		rep.OK = ok
		if ok {
			rep.Timing = &ft
		}
	case "cut":
		rep.Paths = o.CutPaths()
	case "fault":
		err = o.SetFault(req.Fault)
	case "stop":
		err = o.Stop()
	case "start":
		err = o.Start()
	default:
		err = fmt.Errorf("unknown control op %q", req.Op)
	}
	if err != nil {
		rep.Err = err.Error()
	}
	return rep
}

// ProcOrigin is the synthetic origin running in a child process, seen
// through its control pipe. Safe for concurrent use: control round trips
// are serialized.
type ProcOrigin struct {
	liveClock
	addr string
	cmd  *exec.Cmd
	pgid int // the child leads its own process group (leftovers check it)

	mu     sync.Mutex // guards in, out, dec, closed, err
	in     *os.File   // the child's stdin
	out    *os.File   // the child's stdout
	dec    *json.Decoder
	closed bool
	err    error // the first control failure; every later call fails with it

	exited chan struct{} // closed when the child has been reaped
}

// StartOriginProc starts `exe serve-origin` (exe: this program) with
// cfg, listening on 127.0.0.1 on a free port. The child's stderr goes to
// logw. Close stops it.
func StartOriginProc(exe string, cfg OriginConfig, logw io.Writer) (*ProcOrigin, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd := exec.Command(exe, originSubcommand)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, logw
	// Its own process group, so the leftover check can find it; killed
	// with its parent even if the parent dies before closing the pipe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start %s %s: %w", exe, originSubcommand, err)
	}
	p := &ProcOrigin{liveClock: liveClock{cfg}, cmd: cmd, pgid: cmd.Process.Pid, in: inW, out: outR,
		dec: json.NewDecoder(outR), exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	rep, err := p.roundTrip(originHello{Listen: "127.0.0.1:0", Config: cfg})
	if err == nil && rep.Addr == "" {
		err = errors.New("no address in its answer")
	}
	if err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("origin process %d: %w", p.pgid, err)
	}
	p.addr = rep.Addr
	return p, nil
}

// roundTrip writes v and reads one reply, within ctlTimeout. A failed
// round trip leaves the pipe out of step, so it fails every later one.
func (p *ProcOrigin) roundTrip(v any) (ctlReply, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ctlReply{}, errors.New("origin process closed")
	}
	if p.err != nil {
		return ctlReply{}, p.err
	}
	var rep ctlReply
	deadline := time.Now().Add(ctlTimeout)
	_ = p.in.SetWriteDeadline(deadline)
	_ = p.out.SetReadDeadline(deadline)
	b, err := json.Marshal(v)
	if err == nil {
		_, err = p.in.Write(append(b, '\n'))
	}
	if err == nil {
		err = p.dec.Decode(&rep)
	}
	if err != nil {
		p.err = fmt.Errorf("origin process %d control: %w", p.pgid, err)
		return rep, p.err
	}
	if rep.Err != "" {
		return rep, errors.New(rep.Err)
	}
	return rep, nil
}

func (p *ProcOrigin) call(req ctlRequest) (ctlReply, error) { return p.roundTrip(req) }

// Addr is host:port of the origin.
func (p *ProcOrigin) Addr() string { return p.addr }

// PID is the child's process id (and process group id).
func (p *ProcOrigin) PID() int { return p.pgid }

// Fetches is how many requests the origin received for path, or -1 if
// the child could not be asked (Err says why).
func (p *ProcOrigin) Fetches(path string) int {
	rep, err := p.call(ctlRequest{Op: "fetches", Path: path})
	if err != nil {
		return -1
	}
	return rep.N
}

// FirstFetch is the origin's timing of the first request for path.
func (p *ProcOrigin) FirstFetch(path string) (FetchTiming, bool) {
	rep, err := p.call(ctlRequest{Op: "first", Path: path})
	if err != nil || !rep.OK || rep.Timing == nil {
		return FetchTiming{}, false
	}
	return *rep.Timing, true
}

// CutPaths returns every path whose body the origin cut mid-stream,
// sorted; nil if the child could not be asked (Err says why).
func (p *ProcOrigin) CutPaths() []string {
	rep, err := p.call(ctlRequest{Op: "cut"})
	if err != nil {
		return nil
	}
	slices.Sort(rep.Paths)
	return rep.Paths
}

// SetFault switches what the origin does to new requests.
func (p *ProcOrigin) SetFault(f Fault) error {
	_, err := p.call(ctlRequest{Op: "fault", Fault: f})
	return err
}

// Stop closes the child's listener and every connection it has open (the
// process stays, with its counts).
func (p *ProcOrigin) Stop() error {
	_, err := p.call(ctlRequest{Op: "stop"})
	return err
}

// Start listens again on the same address after Stop.
func (p *ProcOrigin) Start() error {
	_, err := p.call(ctlRequest{Op: "start"})
	return err
}

// Err is the control failure that broke the pipe, if any.
func (p *ProcOrigin) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close ends the child: it closes its stdin (the child stops its origin
// and exits), and kills the child's process group if it has not exited
// within 5 s. It waits for the child to be reaped. Idempotent.
func (p *ProcOrigin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.exited
		return nil
	}
	p.closed = true
	p.in.Close()
	p.mu.Unlock()
	var err error
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		err = fmt.Errorf("origin process %d did not exit within 5 s of its stdin closing; killed", p.pgid)
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
		<-p.exited
	}
	p.out.Close()
	return err
}
