package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ, the unit of utime/stime in /proc/<pid>/stat; it is
// 100 on every Linux architecture Go supports.
const clockTick = 100

// ProcSample is the resource use of one process group at one moment.
type ProcSample struct {
	At      time.Duration // since the start of the run
	CPU     time.Duration // user + system of every live process in the group
	RSS     int64         // bytes, summed over the group
	FDs     int           // open file descriptors, summed
	Threads int
	Procs   int
	// Write-type system calls (write, writev, sendmsg, sendfile...) and
	// the bytes they moved, from /proc/<pid>/io: how a server sends.
	SysCW int64
	WChar int64
}

// sampleGroup reads /proc for every process whose process group is pgid.
// Processes that exit between the directory scan and the reads are skipped.
func sampleGroup(pgid int) ProcSample {
	var s ProcSample
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return s
	}
	page := int64(os.Getpagesize())
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, ok := readStat(pid)
		if !ok || f.pgrp != pgid {
			continue
		}
		s.Procs++
		s.CPU += time.Duration(f.utime+f.stime) * time.Second / clockTick
		s.RSS += f.rssPages * page
		s.Threads += f.threads
		if fds, err := os.ReadDir(filepath.Join("/proc", e.Name(), "fd")); err == nil {
			s.FDs += len(fds)
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "io")); err == nil {
			cw, wc := parseIO(string(b))
			s.SysCW += cw
			s.WChar += wc
		}
	}
	return s
}

// sampleGroups sums sampleGroup over several groups (an edgekit tier).
func sampleGroups(pgids []int) ProcSample {
	var s ProcSample
	for _, g := range pgids {
		x := sampleGroup(g)
		s.CPU += x.CPU
		s.RSS += x.RSS
		s.FDs += x.FDs
		s.Threads += x.Threads
		s.Procs += x.Procs
		s.SysCW += x.SysCW
		s.WChar += x.WChar
	}
	return s
}

type statFields struct {
	state        byte // R, S, D, Z (zombie: exited, not yet reaped)...
	pgrp         int
	utime, stime int64
	threads      int
	rssPages     int64
}

// readStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after the last ')'.
func readStat(pid int) (statFields, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return statFields{}, false
	}
	return parseStat(string(b))
}

func parseStat(s string) (statFields, bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return statFields{}, false
	}
	// f[0] is field 3 (state).
	f := strings.Fields(s[i+1:])
	if len(f) < 22 {
		return statFields{}, false
	}
	num := func(k int) int64 { // k is the 1-based field number of proc(5)
		v, _ := strconv.ParseInt(f[k-3], 10, 64)
		return v
	}
	return statFields{
		state:    f[0][0],
		pgrp:     int(num(5)),
		utime:    num(14),
		stime:    num(15),
		threads:  int(num(20)),
		rssPages: num(24),
	}, true
}

// parseIO reads syscw and wchar from /proc/<pid>/io.
func parseIO(s string) (syscw, wchar int64) {
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		switch k {
		case "syscw":
			syscw = n
		case "wchar":
			wchar = n
		}
	}
	return
}
