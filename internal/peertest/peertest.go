// Package peertest finds the external peers that edgekit's integration tests
// use as oracles — executables such as sqlite3 and ffmpeg, and TCP services
// such as Cassandra — and decides what a test does when one is missing.
//
// On a developer machine that has only Go, a missing peer skips the test with
// one line naming what is missing and how to get it. When the environment
// variable EDGEKIT_REQUIRE_PEERS is "1" (as .ci/run sets it), a missing peer
// fails the test instead, so nothing skips silently in CI.
//
// The package is for tests only and keeps no state; every function is safe
// for concurrent use.
package peertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// RequireEnv is the environment variable that turns a missing peer from a
// skip into a failure.
const RequireEnv = "EDGEKIT_REQUIRE_PEERS"

// Required reports whether missing peers are failures (EDGEKIT_REQUIRE_PEERS=1).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Missing skips t — or fails it when peers are required — with one line:
// "peer missing: <what>: <why>".
func Missing(t testing.TB, what, why string) {
	t.Helper()
	msg := fmt.Sprintf("peer missing: %s: %s", what, why)
	if Required() {
		t.Fatalf("%s (%s=1)", msg, RequireEnv)
		return
	}
	t.Skip(msg)
}

// Exec returns the absolute path of the executable name found on PATH, or
// calls Missing. hint says how to install it, e.g. "apt-get install sqlite3".
func Exec(t testing.TB, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "not on PATH (install: "+hint+")")
		return ""
	}
	return p
}

// TCP returns the address of a TCP service that answers a connect within a
// few seconds, or calls Missing. The address is taken from the environment
// variable envVar when it is set (a comma-separated list is allowed; the
// first entry that answers wins), else from def. hint says how to start one.
func TCP(t testing.TB, envVar, def, hint string) string {
	t.Helper()
	addrs := def
	if v := os.Getenv(envVar); v != "" {
		addrs = v
	}
	lastErr := fmt.Errorf("no address given")
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if err := Dial(a, 3*time.Second); err != nil {
			lastErr = err
			continue
		}
		return a
	}
	Missing(t, fmt.Sprintf("TCP service at %s (set %s)", addrs, envVar), fmt.Sprintf("%v (start: %s)", lastErr, hint))
	return ""
}

// Dial reports whether a TCP connect to addr succeeds within timeout.
func Dial(addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}
