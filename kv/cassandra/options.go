package cassandra

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Order is the clustering order of item keys on disk for one namespace.
// Reads in either direction work with either order; the order only decides
// which direction is the cheap, forward one for Cassandra. A plain value.
type Order uint8

const (
	// Ascending stores keys in bytes.Compare order (the default).
	Ascending Order = iota
	// Descending stores keys in reverse order: pick it for namespaces read
	// newest-first, such as time-ordered event keys.
	Descending
)

func (o Order) cql() string {
	if o == Descending {
		return "DESC"
	}
	return "ASC"
}

// Namespace holds the per-namespace settings: Netflix's namespace
// configuration, reduced to what a Cassandra table needs. It is a plain
// value, copied by New.
type Namespace struct {
	// Order is the clustering order used when the table is created. It is
	// not changed for a table that already exists.
	Order Order
	// Consistency is the consistency level of every read and write in the
	// namespace. Zero (gocql.Any, which reads cannot use) means
	// gocql.LocalQuorum: with replication factor 3, a LOCAL_QUORUM write
	// followed by a LOCAL_QUORUM read always sees the write.
	Consistency gocql.Consistency
	// TableOptions is appended to the CREATE TABLE statement after "WITH
	// CLUSTERING ORDER BY (...) AND", e.g.
	// "compaction = {'class': 'LeveledCompactionStrategy'}". Empty keeps
	// Cassandra's defaults. It is trusted CQL: never build it from user
	// input.
	TableOptions string
}

// Options configures New. A nil *Options means the defaults documented on
// each field. New copies what it needs, so the caller may reuse or change
// an Options value afterwards; it is a plain value, not for concurrent
// mutation.
type Options struct {
	// Keyspace holds one table per namespace. Default "edgekit". It is
	// created on New if it does not exist.
	Keyspace string
	// Replication is the replication map used when New creates the
	// keyspace, e.g. {"class": "NetworkTopologyStrategy", "dc1": "3"}.
	// Default {"class": "SimpleStrategy", "replication_factor": "1"}, fit
	// only for a single development node. An existing keyspace is not
	// altered.
	Replication map[string]string

	// Default applies to every namespace not listed in Namespaces.
	Default Namespace
	// Namespaces overrides Default per namespace name.
	Namespaces map[string]Namespace

	// LocalDC, when set, keeps requests in that datacenter
	// (DCAwareRoundRobinPolicy under the token-aware policy); LOCAL_QUORUM
	// then counts replicas there. Empty means round-robin over all hosts.
	LocalDC string

	// HedgeDelay turns on speculative execution (hedging): when a request
	// has not answered after HedgeDelay, the driver sends the same request
	// to the next replica, up to HedgeAttempts extra times, and takes the
	// first answer. Every statement the Store sends is idempotent (writes
	// carry their own timestamps), so hedging never changes the outcome.
	// Zero disables hedging.
	HedgeDelay time.Duration
	// HedgeAttempts is the number of extra requests hedging may send.
	// Default 1 when HedgeDelay is set.
	HedgeAttempts int

	// Retries is how many times a statement that failed for a reason
	// other than itself (lost connection, timeout, unavailable replicas) is
	// retried on the next host, with a short backoff. Default 3; -1
	// disables retries.
	Retries int

	// PageSize is the number of items a Read returns when Query.Limit is
	// 0, and the number of ids an IDs call returns when its limit is 0.
	// Default 1000.
	PageSize int

	// CursorKey signs the cursors that Read and IDs return (HMAC-SHA256),
	// so a forged or corrupted cursor is refused with kv.ErrBadCursor. Set
	// the same secret of at least 16 bytes in every process that serves
	// one logical store so their cursors are interchangeable. Default: a
	// random key per Store, so cursors are valid only on the Store value
	// that issued them.
	CursorKey []byte

	// Logger receives the driver's log lines. Default: discard them.
	Logger *slog.Logger

	// Configure, when set, is called with the driver configuration just
	// before the session is created: the place for authentication, TLS,
	// timeouts, compression or a different retry policy. It must not
	// change Keyspace (the Store qualifies every statement itself).
	Configure func(*gocql.ClusterConfig)
}

// Defaults for the zero fields of Options.
const (
	DefaultKeyspace = "edgekit"
	DefaultPageSize = 1000
)

// settings is Options with defaults applied and inputs checked.
type settings struct {
	keyspace    string
	replication string // CQL map literal
	def         Namespace
	namespaces  map[string]Namespace
	localDC     string
	hedgeDelay  time.Duration // 0: no hedging
	hedgeN      int
	retries     int
	pageSize    int
	cursorKey   []byte
	logger      *slog.Logger
	configure   func(*gocql.ClusterConfig)
}

func (o *Options) settings() (*settings, error) {
	if o == nil {
		o = &Options{}
	}
	s := &settings{
		keyspace:   o.Keyspace,
		def:        o.Default,
		namespaces: maps.Clone(o.Namespaces),
		localDC:    o.LocalDC,
		pageSize:   o.PageSize,
		cursorKey:  slices.Clone(o.CursorKey),
		logger:     o.Logger,
		configure:  o.Configure,
	}
	if s.keyspace == "" {
		s.keyspace = DefaultKeyspace
	}
	// The keyspace name goes into CQL text, so it gets the same strict
	// check as a namespace (Cassandra allows 48 characters).
	if !validIdent(s.keyspace, 48) {
		return nil, fmt.Errorf("%w: keyspace %q must match ^[a-z][a-z0-9_]*$ and be at most 48 bytes", ErrOptions, s.keyspace)
	}
	repl := o.Replication
	if len(repl) == 0 {
		repl = map[string]string{"class": "SimpleStrategy", "replication_factor": "1"}
	}
	lit, err := cqlMap(repl)
	if err != nil {
		return nil, err
	}
	s.replication = lit
	switch {
	case o.Retries == 0:
		s.retries = 3
	case o.Retries > 0:
		s.retries = o.Retries
	case o.Retries < -1:
		return nil, fmt.Errorf("%w: Retries %d (use -1 to disable)", ErrOptions, o.Retries)
	}
	if s.pageSize == 0 {
		s.pageSize = DefaultPageSize
	}
	if s.pageSize < 0 {
		return nil, fmt.Errorf("%w: negative PageSize %d", ErrOptions, s.pageSize)
	}
	if o.HedgeDelay < 0 || o.HedgeAttempts < 0 {
		return nil, fmt.Errorf("%w: negative HedgeDelay or HedgeAttempts", ErrOptions)
	}
	if o.HedgeDelay > 0 {
		s.hedgeDelay, s.hedgeN = o.HedgeDelay, max(1, o.HedgeAttempts)
	}
	if s.cursorKey != nil && len(s.cursorKey) < 16 {
		return nil, fmt.Errorf("%w: CursorKey of %d bytes is shorter than 16", ErrOptions, len(s.cursorKey))
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// namespace returns the settings of ns with defaults applied.
func (s *settings) namespace(ns string) Namespace {
	n, ok := s.namespaces[ns]
	if !ok {
		n = s.def
	}
	if n.Consistency == gocql.Any {
		n.Consistency = gocql.LocalQuorum
	}
	return n
}

// cqlMap renders a replication map as a CQL map literal with sorted keys.
// Keys and values are quoted; a quote inside either is refused rather than
// escaped, since no replication setting contains one.
func cqlMap(m map[string]string) (string, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if strings.ContainsAny(k+v, `'\`) {
			return "", fmt.Errorf("%w: replication entry %q: %q holds a quote", ErrOptions, k, v)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s': '%s'", k, v)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// validIdent reports whether s matches ^[a-z][a-z0-9_]*$ and fits in max
// bytes: such a name is a valid unquoted CQL identifier that quoting does
// not change.
func validIdent(s string, max int) bool {
	if s == "" || len(s) > max || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}
