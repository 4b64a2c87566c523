package kvtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/edgekit/edgekit/kv"
)

// DefaultReadLimit is the number of items (and ids) MemStore returns per
// call when the caller passes no limit.
const DefaultReadLimit = 1000

// MemStore is an in-memory kv.Store for unit tests. It honours the whole
// Store contract — namespaces, last-writer-wins by timestamp with key, range
// and record tombstones, TTL against an injectable clock, opaque cursors
// bound to their query, Limit and MaxBytes, id listing — and applies each
// Apply call atomically (it implements kv.Atomic). It also implements
// kv.IntoReader, as kv/local does. It passes Run.
//
// Values are copied on the way in and out, so callers may reuse buffers.
// A MemStore is safe for concurrent use; create one with NewMemStore.
type MemStore struct {
	mu     sync.RWMutex // guards spaces, closed, now
	spaces map[string]*memSpace
	closed bool
	now    func() time.Time
}

// memSpace is one namespace: record id → record.
type memSpace struct {
	records map[string]*memRecord
}

var _ interface {
	kv.Store
	kv.Atomic
} = (*MemStore)(nil)

// NewMemStore returns an empty MemStore on the real clock.
func NewMemStore() *MemStore {
	return &MemStore{spaces: make(map[string]*memSpace), now: time.Now}
}

// SetClock makes the store read the time from now, which decides TTL
// expiry (a put's TTL counts from the now of its Apply). Tests use it to
// expire items without sleeping.
func (m *MemStore) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// AtomicApply reports true: every Apply call applies all its mutations at
// once under the store's lock.
func (m *MemStore) AtomicApply() bool { return true }

// CreateNamespace implements kv.Store.
func (m *MemStore) CreateNamespace(_ context.Context, ns string) error {
	if err := kv.CheckNamespace(ns); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return kv.ErrClosed
	}
	if m.spaces[ns] == nil {
		m.spaces[ns] = &memSpace{records: make(map[string]*memRecord)}
	}
	return nil
}

// DropNamespace implements kv.Store.
func (m *MemStore) DropNamespace(_ context.Context, ns string) error {
	if err := kv.CheckNamespace(ns); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return kv.ErrClosed
	}
	delete(m.spaces, ns)
	return nil
}

// Namespaces implements kv.Store.
func (m *MemStore) Namespaces(context.Context) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, kv.ErrClosed
	}
	names := make([]string, 0, len(m.spaces))
	for ns := range m.spaces {
		names = append(names, ns)
	}
	sort.Strings(names)
	return names, nil
}

// spaceLocked returns namespace ns, or an error if the store is closed or
// ns does not exist. m.mu must be held (read or write).
func (m *MemStore) spaceLocked(ns string) (*memSpace, error) {
	if m.closed {
		return nil, kv.ErrClosed
	}
	sp := m.spaces[ns]
	if sp == nil {
		return nil, fmt.Errorf("%w: %q", kv.ErrNoNamespace, ns)
	}
	return sp, nil
}

// Apply implements kv.Store. All of muts apply atomically.
func (m *MemStore) Apply(ctx context.Context, ns, id string, muts []kv.Mutation) error {
	if err := firstErr(kv.CheckNamespace(ns), kv.CheckID(id), kv.CheckMutations(muts)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	sp, err := m.spaceLocked(ns)
	if err != nil {
		return err
	}
	rec := sp.records[id]
	if rec == nil {
		rec = newMemRecord()
		sp.records[id] = rec
	}
	now := m.now()
	for i := range muts {
		rec.apply(&muts[i], now)
	}
	return nil
}

// Read implements kv.Store.
func (m *MemStore) Read(ctx context.Context, ns, id string, q kv.Query) (kv.Result, error) {
	if err := firstErr(kv.CheckNamespace(ns), kv.CheckID(id), kv.CheckQuery(q)); err != nil {
		return kv.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return kv.Result{}, err
	}
	qh := queryHash(ns, id, q)
	after, err := decodeCursor(q.Cursor, qh)
	if err != nil {
		return kv.Result{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	sp, err := m.spaceLocked(ns)
	if err != nil {
		return kv.Result{}, err
	}
	rec := sp.records[id]
	if rec == nil {
		return kv.Result{}, nil
	}
	cand := candidates(rec, q)
	limit := q.Limit
	if limit == 0 {
		limit = DefaultReadLimit
	}
	now := m.now()
	var res kv.Result
	size := 0
	for i, k := range cand {
		if after != nil && !beyond(k, *after, q.Reverse) {
			continue
		}
		c := rec.live(k, now)
		if c == nil {
			continue
		}
		res.Items = append(res.Items, kv.Item{Key: []byte(k), Value: clone(c.value), Metadata: clone(c.meta), Timestamp: c.ts})
		size += len(k) + len(c.value) + len(c.meta)
		full := len(res.Items) >= limit || (q.MaxBytes > 0 && size >= q.MaxBytes)
		if full && i < len(cand)-1 {
			res.Cursor = encodeCursor(qh, k)
			break
		}
	}
	return res, nil
}

// candidates returns the keys q may select, in the order q reads them.
func candidates(rec *memRecord, q kv.Query) []string {
	var keys []string
	if q.Keys != nil {
		for _, k := range q.Keys {
			keys = append(keys, string(k))
		}
		sort.Strings(keys)
		keys = slices.Compact(keys)
	} else {
		// rec.keys is sorted: binary-search the range bounds.
		lo, hi := 0, len(rec.keys)
		if q.Start != nil {
			lo = sort.SearchStrings(rec.keys, string(q.Start))
		}
		if q.End != nil {
			hi = max(lo, sort.SearchStrings(rec.keys, string(q.End)))
		}
		keys = rec.keys[lo:hi:hi] // the caller only reads (and may reverse a copy)
	}
	if q.Reverse {
		keys = slices.Clone(keys)
		slices.Reverse(keys)
	}
	return keys
}

// beyond reports whether k comes after the cursor position in read order.
func beyond(k, pos string, reverse bool) bool {
	if reverse {
		return k < pos
	}
	return k > pos
}

// IDs implements kv.Store. Ids come in byte order.
func (m *MemStore) IDs(ctx context.Context, ns string, cursor []byte, limit int) ([]string, []byte, error) {
	if err := kv.CheckNamespace(ns); err != nil {
		return nil, nil, err
	}
	if limit < 0 {
		return nil, nil, fmt.Errorf("%w: negative limit %d", kv.ErrInvalid, limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	qh := idsHash(ns)
	after, err := decodeCursor(cursor, qh)
	if err != nil {
		return nil, nil, err
	}
	if limit == 0 {
		limit = DefaultReadLimit
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	sp, err := m.spaceLocked(ns)
	if err != nil {
		return nil, nil, err
	}
	all := make([]string, 0, len(sp.records))
	for id := range sp.records {
		if after == nil || id > *after {
			all = append(all, id)
		}
	}
	sort.Strings(all)
	now := m.now()
	var ids []string
	for i, id := range all {
		if !sp.records[id].hasLive(now) {
			continue
		}
		ids = append(ids, id)
		if len(ids) >= limit && i < len(all)-1 {
			return ids, encodeCursor(qh, id), nil
		}
	}
	return ids, nil, nil
}

// Close implements kv.Store: it waits for calls in progress (they hold the
// lock) and fails later calls with kv.ErrClosed. Closing twice is a no-op.
func (m *MemStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	m.spaces = nil
	return nil
}

// Cursor format (private to MemStore, but drawn for readers of the fake):
//
//	+------+----------------------+-------------------+
//	| 0x6d | query hash (8, BE)   | last key / id ... |
//	+------+----------------------+-------------------+
//
// The query hash binds the cursor to the namespace, id and selection, so a
// cursor replayed against another query is kv.ErrBadCursor.
const cursorVersion = 0x6d

func encodeCursor(qh uint64, last string) []byte {
	b := make([]byte, 9, 9+len(last))
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:], qh)
	return append(b, last...)
}

// decodeCursor returns the position in c, or nil for a nil cursor.
func decodeCursor(c []byte, qh uint64) (*string, error) {
	if c == nil {
		return nil, nil
	}
	if len(c) < 9 || c[0] != cursorVersion || binary.BigEndian.Uint64(c[1:]) != qh {
		return nil, fmt.Errorf("%w: cursor does not belong to this query", kv.ErrBadCursor)
	}
	s := string(c[9:])
	return &s, nil
}

// queryHash digests everything that selects items (not Limit, MaxBytes or
// the cursor, which may change from page to page).
func queryHash(ns, id string, q kv.Query) uint64 {
	d := xxhash.New()
	field := func(b []byte, present bool) {
		var n [9]byte
		if present {
			n[0] = 1
		}
		binary.BigEndian.PutUint64(n[1:], uint64(len(b)))
		d.Write(n[:])
		d.Write(b)
	}
	field([]byte("read"), true)
	field([]byte(ns), true)
	field([]byte(id), true)
	field(nil, q.Reverse)
	field(nil, q.Keys != nil)
	for _, k := range q.Keys {
		field(k, true)
	}
	field(q.Start, q.Start != nil)
	field(q.End, q.End != nil)
	return d.Sum64()
}

func idsHash(ns string) uint64 {
	return xxhash.Sum64String("ids\x00" + ns)
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
