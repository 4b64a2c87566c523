package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgekit/edgekit/internal/peertest"
)

// TestLeftovers: the check TestPeers relies on sees a server's port and
// every process of its group, including a child that outlives its
// leader (as nginx's workers would if only the master were killed), and
// nothing once the target is stopped.
func TestLeftovers(t *testing.T) {
	sh := peertest.Exec(t, "sh", "the base system")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tg, err := startSingle("fake", ln.Addr().String(), filepath.Join(t.TempDir(), "log"), sh, "-c", "sleep 60 & exec sleep 60")
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Stop()
	env := &Env{started: []*Target{tg}}
	pg := tg.PGIDs()[0]
	for deadline := time.Now().Add(10 * time.Second); sampleGroup(pg).Procs < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("process group %d: %d processes after 10 s, want 2", pg, sampleGroup(pg).Procs)
		}
		time.Sleep(20 * time.Millisecond)
	}

	count := func(left []Leftover) (procs, ports int) {
		for _, l := range left {
			if l.Target != "fake" {
				t.Errorf("leftover of target %q, want fake: %s", l.Target, l)
			}
			switch {
			case strings.Contains(l.What, "process group"):
				procs++
			case strings.Contains(l.What, "accepts connections"):
				ports++
			}
		}
		return
	}
	if p, n := count(env.leftovers(0)); p != 2 || n != 1 {
		t.Fatalf("running: got %d processes and %d ports left, want 2 and 1: %v", p, n, env.leftovers(0))
	}
	// Kill only the leader: its background child keeps the group.
	if err := syscall.Kill(pg, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-tg.members[0].exited
	ln.Close()
	if p, n := count(env.leftovers(300 * time.Millisecond)); p != 1 || n != 0 {
		t.Fatalf("leader killed: got %d processes and %d ports left, want 1 and 0: %v", p, n, env.leftovers(0))
	}
	tg.Stop()
	if left := env.leftovers(5 * time.Second); len(left) != 0 {
		t.Fatalf("stopped: got %v, want nothing left", left)
	}
}

// TestOriginProcLeftovers: the origin's child process and its port are
// seen by the leftover check while it runs, and are gone once Close
// returns; a second Close is harmless, and a closed origin answers no
// control request.
func TestOriginProcLeftovers(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := StartOriginProc(exe, testOriginConfig(time.Second), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	env := &Env{originProc: p}
	if p.PID() == os.Getpid() || sampleGroup(p.PID()).Procs != 1 {
		t.Fatalf("origin pid %d: %d processes in its group, want a child of its own (this is %d)", p.PID(), sampleGroup(p.PID()).Procs, os.Getpid())
	}
	left := env.leftovers(0)
	var procs, ports int
	for _, l := range left {
		switch {
		case l.Target != "origin":
			t.Errorf("leftover of target %q, want origin: %s", l.Target, l)
		case strings.Contains(l.What, "process group"):
			procs++
		case strings.Contains(l.What, "accepts connections"):
			ports++
		}
	}
	if procs != 1 || ports != 1 {
		t.Fatalf("running: got %d processes and %d ports left, want 1 and 1: %v", procs, ports, left)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if left := env.leftovers(5 * time.Second); len(left) != 0 {
		t.Fatalf("closed: got %v, want nothing left", left)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := p.Fetches("/x"); n != -1 {
		t.Fatalf("Fetches after Close: got %d, want -1", n)
	}
	if err := p.SetFault(FaultNone); err == nil {
		t.Fatal("SetFault after Close succeeded")
	}
}

// TestPinServer: with -pin-server a server and the children it forks
// run confined to the CPUs given, and Stop still kills the whole group
// (taskset execs the server, so the group is the server's).
func TestPinServer(t *testing.T) {
	sh := peertest.Exec(t, "sh", "the base system")
	peertest.Exec(t, "taskset", "apt-get install util-linux")
	env := &Env{PinServer: "0"}
	tg, err := startSingle("fake", "127.0.0.1:1", filepath.Join(t.TempDir(), "log"), env.argv(sh, "-c", "sleep 60 & exec sleep 60")...)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Stop()
	pg := tg.PGIDs()[0]
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n := sampleGroup(pg).Procs; n == 2 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("process group %d: %d processes after 10 s, want 2", pg, n)
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f, ok := readStat(pid); !ok || f.pgrp != pg {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
				seen++
				if v = strings.TrimSpace(v); v != "0" {
					t.Errorf("pid %d: Cpus_allowed_list %q, want \"0\"", pid, v)
				}
			}
		}
	}
	if seen != 2 {
		t.Fatalf("checked %d processes, want 2", seen)
	}
	tg.Stop()
	if left := (&Env{started: []*Target{tg}}).leftovers(5 * time.Second); len(left) != 0 {
		t.Fatalf("stopped: got %v, want nothing left", left)
	}
}
