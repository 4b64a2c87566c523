// Package kvopen opens the kv.Store an example names on its command line:
// kv/local in a data directory by default, or a Cassandra cluster with
// "cassandra://host1,host2/keyspace".
package kvopen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/cassandra"
	"github.com/edgekit/edgekit/kv/local"
)

// Store is a kv.Store that can be closed.
type Store interface {
	kv.Store
	Close() error
}

// Open opens spec: "" or "local" for kv/local in dataDir, "local:<path>"
// for kv/local at path, or "cassandra://host1,host2[:port]/keyspace".
func Open(ctx context.Context, spec, dataDir string) (Store, string, error) {
	switch {
	case spec == "" || spec == "local":
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return nil, "", err
		}
		p := filepath.Join(dataDir, local.FileName)
		s, err := local.Open(p, nil)
		return s, "local:" + p, err
	case strings.HasPrefix(spec, "local:"):
		p := strings.TrimPrefix(spec, "local:")
		s, err := local.Open(p, nil)
		return s, spec, err
	case strings.HasPrefix(spec, "cassandra://"):
		hostsPart, ks, _ := strings.Cut(strings.TrimPrefix(spec, "cassandra://"), "/")
		hosts := strings.Split(hostsPart, ",")
		if hostsPart == "" {
			return nil, "", fmt.Errorf("kv %q: no hosts", spec)
		}
		opts := &cassandra.Options{}
		if ks != "" {
			opts.Keyspace = ks
		}
		s, err := cassandra.New(ctx, hosts, opts)
		return s, spec, err
	}
	return nil, "", fmt.Errorf("kv %q: want local, local:<path> or cassandra://host1,host2/keyspace", spec)
}
