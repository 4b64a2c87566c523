package cassandra_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/kv/cassandra"
)

// contactEnv names the environment variable with the contact points of the
// cluster the tests use: comma-separated host:port, e.g.
// EDGEKIT_CASSANDRA=10.0.0.5:9042,10.0.0.6:9042. Unset, the tests try
// 127.0.0.1:9042 (what scripts/cassandra.sh start opens).
const contactEnv = "EDGEKIT_CASSANDRA"

// hosts returns the contact points, or skips the test (fails it under
// EDGEKIT_REQUIRE_PEERS=1) when none answers.
func hosts(t testing.TB) []string {
	t.Helper()
	first := peertest.TCP(t, contactEnv, "127.0.0.1:9042", "scripts/cassandra.sh start")
	var hs []string
	for h := range strings.SplitSeq(os.Getenv(contactEnv), ",") {
		if h = strings.TrimSpace(h); h != "" {
			hs = append(hs, h)
		}
	}
	if len(hs) == 0 {
		hs = []string{first}
	}
	return hs
}

// testKeyspace is one fresh keyspace per test binary run, so runs never
// see each other's data; TestMain drops it at the end.
var testKeyspace = fmt.Sprintf("edgekit_test_%d_%d", time.Now().Unix(), os.Getpid())

var (
	usedMu sync.Mutex
	used   []string // keyspaces to drop at exit; guarded by usedMu
)

func TestMain(m *testing.M) {
	code := m.Run()
	dropKeyspaces()
	os.Exit(code)
}

// dropKeyspaces removes every keyspace the tests created.
func dropKeyspaces() {
	usedMu.Lock()
	defer usedMu.Unlock()
	if len(used) == 0 {
		return
	}
	hs := strings.Split(os.Getenv(contactEnv), ",")
	if os.Getenv(contactEnv) == "" {
		hs = []string{"127.0.0.1:9042"}
	}
	s, err := rawSession(hs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleanup:", err)
		return
	}
	defer s.Close()
	for _, ks := range used {
		if err := s.Query(fmt.Sprintf(`DROP KEYSPACE IF EXISTS %q`, ks)).Exec(); err != nil {
			fmt.Fprintln(os.Stderr, "cleanup: drop keyspace", ks, err)
		}
	}
}

func rawSession(hs []string) (*gocql.Session, error) {
	c := gocql.NewCluster(hs...)
	c.Consistency = gocql.LocalQuorum
	c.Timeout = 20 * time.Second
	return c.CreateSession()
}

// open returns a Store on keyspace ks (testKeyspace when empty) closed at
// the end of t.
func open(t testing.TB, opts *cassandra.Options) *cassandra.Store {
	t.Helper()
	hs := hosts(t)
	if opts == nil {
		opts = &cassandra.Options{}
	}
	if opts.Keyspace == "" {
		opts.Keyspace = testKeyspace
	}
	usedMu.Lock()
	if !contains(used, opts.Keyspace) {
		used = append(used, opts.Keyspace)
	}
	usedMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := cassandra.New(ctx, hs, opts)
	if err != nil {
		t.Fatalf("New(%v): %v", hs, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
