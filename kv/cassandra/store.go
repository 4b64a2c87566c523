package cassandra

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
)

// Store is a kv.Store on an Apache Cassandra (or ScyllaDB) cluster. Create
// one with New; the zero value is not usable.
//
// A Store is safe for concurrent use by any number of goroutines, as the
// kv.Store contract requires. Close waits for the calls in progress.
type Store struct {
	session *gocql.Session
	set     *settings
	key     []byte       // HMAC key for cursors
	hedge   *hedgePolicy // nil: no speculative execution

	// tables caches one *table per namespace name: the statement texts and
	// per-namespace settings. An entry does not mean the table exists;
	// Cassandra's answer to each statement decides that.
	tables sync.Map

	// mu is a gate: every call holds it shared for its whole duration, and
	// Close takes it exclusively, so Close waits for calls in progress and
	// calls that start later see closed. No method takes it twice.
	mu     sync.RWMutex
	closed bool // guarded by mu
}

var _ kv.Store = (*Store)(nil)
var _ kv.Atomic = (*Store)(nil)

// New connects to the cluster whose contact points are hosts ("host" or
// "host:port"; port 9042 by default), creates the keyspace if it does not
// exist, and returns a Store. ctx bounds the keyspace creation; connecting
// is bounded by the driver's ConnectTimeout (11 s unless Configure changes
// it).
func New(ctx context.Context, hosts []string, opts *Options) (*Store, error) {
	set, err := opts.settings()
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: no contact points", ErrOptions)
	}
	cfg := gocql.NewCluster(hosts...)
	cfg.Consistency = gocql.LocalQuorum
	var fallback gocql.HostSelectionPolicy = gocql.RoundRobinHostPolicy()
	if set.localDC != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(set.localDC)
	}
	// Token-aware routing sends each statement to a replica of its record
	// id (one network hop less than a random coordinator); shuffling
	// spreads a hot id's load over all of its replicas.
	cfg.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback, gocql.ShuffleReplicas())
	cfg.Logger = slogLogger{set.logger}
	if set.retries > 0 {
		cfg.RetryPolicy = retryPolicy{retries: set.retries}
	}
	if set.configure != nil {
		set.configure(cfg)
	}
	session, err := cfg.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("edgekit/kv/cassandra: connect to %v: %w", hosts, err)
	}
	s := &Store{session: session, set: set, key: set.cursorKey}
	if set.hedgeDelay > 0 {
		s.hedge = &hedgePolicy{attempts: set.hedgeN, delay: set.hedgeDelay, session: session}
	}
	if s.key == nil {
		s.key = make([]byte, 32)
		_, _ = rand.Read(s.key) // crypto/rand.Read never fails (Go 1.24+)
	}
	if err := s.createKeyspace(ctx); err != nil {
		session.Close()
		return nil, err
	}
	return s, nil
}

// createKeyspace creates the Store's keyspace if it does not exist.
func (s *Store) createKeyspace(ctx context.Context) error {
	stmt := fmt.Sprintf(`CREATE KEYSPACE IF NOT EXISTS %q WITH replication = %s`, s.set.keyspace, s.set.replication)
	if err := s.session.Query(stmt).ExecContext(ctx); err != nil {
		return fmt.Errorf("edgekit/kv/cassandra: create keyspace %q: %w", s.set.keyspace, err)
	}
	return nil
}

// enter admits a call through the gate, or returns kv.ErrClosed. A nil
// return must be paired with s.mu.RUnlock.
func (s *Store) enter() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return kv.ErrClosed
	}
	return nil
}

// Close waits for calls in progress, then closes the driver session. Later
// calls, and a second Close, return kv.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return kv.ErrClosed
	}
	s.closed = true
	s.session.Close()
	return nil
}

// AtomicApply reports true: Apply sends all mutations of one call as one
// single-partition batch, which Cassandra applies on each replica as one
// mutation — atomically and in isolation (a reader on that replica sees
// all of it or none of it). See the package documentation for what this
// means when replicas disagree.
func (s *Store) AtomicApply() bool { return true }

// table returns the cached handle of namespace ns (valid name assumed).
func (s *Store) table(ns string) *table {
	if t, ok := s.tables.Load(ns); ok {
		return t.(*table)
	}
	t, _ := s.tables.LoadOrStore(ns, newTable(s.set.keyspace, ns, s.set.namespace(ns)))
	return t.(*table)
}

// query prepares a statement with the namespace's consistency level, marked
// idempotent (so the driver may retry and hedge it).
func (s *Store) query(t *table, stmt string, args ...any) *gocql.Query {
	q := s.session.Query(stmt, args...).Consistency(t.consistency).Idempotent(true)
	if s.hedge != nil {
		q = q.SetSpeculativeExecutionPolicy(s.hedge)
	}
	return q
}

// CreateNamespace creates the table of ns if it does not exist, with the
// clustering order and table options its Namespace settings name. The
// driver waits for schema agreement before it returns.
func (s *Store) CreateNamespace(ctx context.Context, ns string) error {
	create := func(t *table) string { return t.create }
	err := s.schemaChange(ctx, "create namespace", ns, create)
	if missingTable(err) {
		// The keyspace was dropped since New: make it again, once.
		if err := s.createKeyspace(ctx); err != nil {
			return err
		}
		err = s.schemaChange(ctx, "create namespace", ns, create)
	}
	return err
}

// DropNamespace drops the table of ns with everything in it. On a cluster
// with auto_snapshot enabled (Cassandra's default) the server keeps a
// snapshot of the dropped data until an operator clears it.
func (s *Store) DropNamespace(ctx context.Context, ns string) error {
	err := s.schemaChange(ctx, "drop namespace", ns, func(t *table) string { return t.drop })
	if missingTable(err) {
		return nil // the keyspace itself is gone: so is the namespace
	}
	return err
}

// schemaChange runs the DDL statement that stmt picks for namespace ns.
// DDL is not idempotent to the driver (no retries, no hedging): a CREATE
// retried after a timeout can race its own first attempt.
func (s *Store) schemaChange(ctx context.Context, op, ns string, stmt func(*table) string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := kv.CheckNamespace(ns); err != nil {
		return err
	}
	if err := s.session.Query(stmt(s.table(ns))).ExecContext(ctx); err != nil {
		return mapErr(op, ns, err)
	}
	return nil
}

// Namespaces lists the tables of the keyspace whose names are valid
// namespace names, in lexical order.
func (s *Store) Namespaces(ctx context.Context) ([]string, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	// system_schema is local to every node and kept in agreement by the
	// schema protocol, so ONE is enough.
	iter := s.session.Query(`SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?`, s.set.keyspace).
		Consistency(gocql.One).Idempotent(true).IterContext(ctx)
	var names []string
	var name string
	for iter.Scan(&name) {
		if kv.CheckNamespace(name) == nil {
			names = append(names, name)
		}
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("edgekit/kv/cassandra: list namespaces: %w", err)
	}
	slices.Sort(names)
	return names, nil
}
