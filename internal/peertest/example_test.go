package peertest_test

import (
	"os/exec"
	"testing"

	"github.com/edgekit/edgekit/internal/peertest"
)

// A test that uses sqlite3 as an oracle asks for it first: on a machine
// without it the test skips with one line, and in CI (EDGEKIT_REQUIRE_PEERS=1)
// it fails instead.
func ExampleExec() {
	// In a real test this is the test's own t.
	test := func(t *testing.T) {
		sqlite := peertest.Exec(t, "sqlite3", "apt-get install sqlite3")
		out, err := exec.Command(sqlite, ":memory:", "select 6*7").Output()
		if err != nil {
			t.Fatal(err)
		}
		_ = out // "42\n"
	}
	_ = test
}

// A TCP service comes from an environment variable, or a default address.
func ExampleTCP() {
	test := func(t *testing.T) {
		addr := peertest.TCP(t, "EDGEKIT_CASSANDRA", "127.0.0.1:9042", "scripts/cassandra.sh start")
		_ = addr // dial the service here
	}
	_ = test
}
