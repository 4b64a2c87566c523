package cassandra

import (
	"context"
	"fmt"

	"github.com/edgekit/edgekit/kv"
)

// idsIdentity binds an IDs cursor to its namespace.
func idsIdentity(ns string) []byte { return appendField([]byte("ids"), []byte(ns)) }

// IDs lists the record ids of ns that have at least one live item, in
// token order (Cassandra's ring order), up to limit per call. The cursor
// holds the token and id of the last id returned; the next call reads
// from that token on and skips what it already returned, so ids that share
// a token (a Murmur3 collision) are neither lost nor repeated.
func (s *Store) IDs(ctx context.Context, ns string, cursor []byte, limit int) ([]string, []byte, error) {
	if err := s.enter(); err != nil {
		return nil, nil, err
	}
	defer s.mu.RUnlock()
	if err := kv.CheckNamespace(ns); err != nil {
		return nil, nil, err
	}
	if limit < 0 {
		return nil, nil, fmt.Errorf("%w: negative limit %d", kv.ErrInvalid, limit)
	}
	if limit == 0 {
		limit = s.set.pageSize
	}
	limit = min(limit, maxIDs)
	qid := idsIdentity(ns)
	t := s.table(ns)
	var pos idsPos
	resume := cursor != nil
	ask := limit
	stmt, args := t.idsFirst, []any{ask}
	if resume {
		var err error
		if pos, err = s.openIDs(qid, cursor); err != nil {
			return nil, nil, err
		}
		// One more row than wanted: the last id returned comes back first.
		ask = limit + 1
		stmt, args = t.idsFrom, []any{pos.token, ask}
	}
	iter := s.query(t, stmt, args...).IterContext(ctx)
	var (
		ids     []string
		rows    int
		tok     int64
		id      string
		scanned idsPos // last row seen
		last    idsPos // last id returned
	)
	for iter.Scan(&tok, &id) {
		rows++
		scanned = idsPos{token: tok, lastID: id}
		// Within one token Cassandra orders partitions by key bytes, which
		// for text is Go's string order.
		if resume && tok == pos.token && id <= pos.lastID {
			continue
		}
		if len(ids) == limit {
			break
		}
		ids = append(ids, id)
		last = scanned
	}
	if err := iter.Close(); err != nil {
		return nil, nil, mapErr("list ids of", ns, err)
	}
	if rows < ask {
		return ids, nil, nil // fewer rows than asked: the ring is exhausted
	}
	if len(ids) == 0 {
		// Every row was one already returned (only possible when many ids
		// share a token): step past them all.
		last = scanned
	}
	return ids, s.sealIDs(qid, last), nil
}
