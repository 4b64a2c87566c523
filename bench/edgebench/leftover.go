package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Leftover is something of a stopped target that is still there: a
// process in one of its process groups, or a front address that still
// accepts connections. run.sh promises that every server it starts is
// killed at the end of its workload; a leftover breaks that promise and
// would skew every later measurement on the machine.
type Leftover struct {
	Target string
	What   string
}

func (l Leftover) String() string { return l.Target + ": " + l.What }

// leftovers checks every target env started (all of which must have been
// stopped), and the origin's child process if it had one, and returns
// what is still running. Stop waits only for each
// group's leader, so the rest of a group (nginx's workers, varnishd's
// child) gets up to wait to be reaped before it counts.
func (env *Env) leftovers(wait time.Duration) []Leftover {
	deadline := time.Now().Add(wait)
	for {
		left := env.leftoversNow()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (env *Env) leftoversNow() []Leftover {
	groups := map[int]string{} // process group → target name
	var left []Leftover
	if p := env.originProc; p != nil {
		groups[p.PID()] = "origin"
		if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
			c.Close()
			left = append(left, Leftover{"origin", p.Addr() + " still accepts connections"})
		}
	}
	for _, t := range env.started {
		for _, m := range t.members {
			for _, g := range m.pgids {
				groups[g] = t.Name
			}
		}
		for _, a := range t.addrs {
			// Nothing may listen on a stopped target's port. (Another
			// program binding the same free port within seconds would be
			// reported too; on loopback with random ports it does not.)
			if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				c.Close()
				left = append(left, Leftover{t.Name, a + " still accepts connections"})
			}
		}
	}
	if len(groups) == 0 {
		return left
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return append(left, Leftover{"all", "cannot list processes: " + err.Error()})
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, ok := readStat(pid)
		// A zombie has exited and holds no port, file or memory; it only
		// waits for its parent (here possibly an init that does not
		// reap), so it is not a leftover.
		if !ok || f.state == 'Z' {
			continue
		}
		if name, ok := groups[f.pgrp]; ok {
			comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm")
			left = append(left, Leftover{name, fmt.Sprintf("pid %d (%s, state %c) still in process group %d",
				pid, strings.TrimSpace(string(comm)), f.state, f.pgrp)})
		}
	}
	return left
}
