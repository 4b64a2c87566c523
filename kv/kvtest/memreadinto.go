package kvtest

import (
	"context"

	"github.com/edgekit/edgekit/kv"
)

var _ kv.IntoReader = (*MemStore)(nil)

// ReadInto implements kv.IntoReader: it copies each live value of the
// right length into its buffer, all under one read lock (one point in
// time), so a Client on a MemStore assembles chunked values the way it
// does on kv/local.
func (m *MemStore) ReadInto(ctx context.Context, ns, id string, keys, dsts [][]byte) ([]int, error) {
	if err := kv.CheckReadInto(ns, id, keys, dsts); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	sp, err := m.spaceLocked(ns)
	if err != nil {
		return nil, err
	}
	lens := make([]int, len(keys))
	rec := sp.records[id]
	now := m.now()
	for i, k := range keys {
		lens[i] = -1
		if rec == nil {
			continue
		}
		if c := rec.live(string(k), now); c != nil {
			lens[i] = len(c.value)
			if len(c.value) == len(dsts[i]) {
				copy(dsts[i], c.value)
			}
		}
	}
	return lens, nil
}
