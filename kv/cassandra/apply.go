package cassandra

import (
	"bytes"
	"context"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/edgekit/edgekit/kv"
)

// maxTTL is Cassandra's limit on USING TTL: 20 years in seconds.
const maxTTL = 20 * 365 * 24 * time.Hour

// Apply writes muts to record id of ns. Every statement carries the
// mutation's timestamp (USING TIMESTAMP), so Cassandra's last-writer-wins
// merge — not arrival order — decides the outcome, and a retried or hedged
// Apply writes identical cells. Puts with a TTL use USING TTL, rounded up
// to whole seconds. Deletes are one tombstone each: a row tombstone for a
// key, a range tombstone for a key range, a partition tombstone for the
// record.
//
// One mutation is sent as a plain statement; several as one unlogged
// batch, which Cassandra applies to the partition as a single mutation
// (see AtomicApply).
func (s *Store) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := kv.CheckNamespace(ns); err != nil {
		return err
	}
	if err := kv.CheckID(id); err != nil {
		return err
	}
	if err := kv.CheckMutations(muts); err != nil {
		return err
	}
	for i := range muts {
		if muts[i].TTL > maxTTL {
			return fmt.Errorf("edgekit/kv/cassandra: mutation %d: %w: TTL %v exceeds Cassandra's 20 years", i, kv.ErrInvalid, muts[i].TTL)
		}
	}
	t := s.table(ns)
	entries := make([]gocql.BatchEntry, 0, len(muts))
	for i := range muts {
		if stmt, args := t.statement(id, &muts[i]); stmt != "" {
			entries = append(entries, gocql.BatchEntry{Stmt: stmt, Args: args, Idempotent: true})
		}
	}
	var err error
	switch len(entries) {
	case 0:
		return nil
	case 1:
		err = s.query(t, entries[0].Stmt, entries[0].Args...).ExecContext(ctx)
	default:
		b := s.session.Batch(gocql.UnloggedBatch).Consistency(t.consistency)
		// Each statement names its own timestamp; the batch must not
		// impose one (Cassandra refuses both at once).
		b = b.DefaultTimestamp(false)
		b.Entries = entries
		if s.hedge != nil {
			b = b.SpeculativeExecutionPolicy(s.hedge)
		}
		err = b.ExecContext(ctx)
	}
	return mapErr("apply to", ns, err)
}

// statement returns the CQL text and arguments of one validated mutation,
// or "" when it changes nothing (an empty key range).
func (t *table) statement(id string, m *kv.Mutation) (string, []any) {
	switch m.Op {
	case kv.OpPut:
		meta := m.Metadata
		if meta == nil {
			// An empty blob, not null: binding null would write a cell
			// tombstone on every put without metadata.
			meta = []byte{}
		}
		ttl := int((m.TTL + time.Second - 1) / time.Second)
		return t.insert, []any{id, keyArg(m.Key), m.Value, meta, m.Timestamp, ttl}
	case kv.OpDelete:
		return t.deleteKey, []any{m.Timestamp, id, keyArg(m.Key)}
	case kv.OpDeleteRecord:
		return t.deleteRecord, []any{m.Timestamp, id}
	case kv.OpDeleteRange:
		// The empty key is the smallest, so an empty Start is no bound.
		lower := lowerNone
		if len(m.Key) > 0 {
			lower = lowerIncl
		}
		hasUpper := m.End != nil
		if hasUpper && bytes.Compare(m.Key, m.End) >= 0 {
			return "", nil // [a, b) with a >= b holds no key: no tombstone
		}
		if lower == lowerNone && !hasUpper {
			// The whole key space: a partition tombstone is the same
			// deletion in less space.
			return t.deleteRecord, []any{m.Timestamp, id}
		}
		args := []any{m.Timestamp, id}
		if lower != lowerNone {
			args = append(args, m.Key)
		}
		upper := 0
		if hasUpper {
			upper = 1
			args = append(args, m.End)
		}
		return t.deleteRange[lower][upper], args
	}
	return "", nil // unreachable: kv.CheckMutations refused unknown ops
}

// keyArg binds a nil key as the empty blob (nil would bind null, which a
// clustering column refuses).
func keyArg(k []byte) []byte {
	if k == nil {
		return []byte{}
	}
	return k
}
