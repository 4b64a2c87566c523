package kvtest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/edgekit/edgekit/kv"
)

func (s *suite) testNamespaces(t *testing.T, e *env) {
	other := e.ns + "_b"
	e.must(e.s.DropNamespace(e.ctx, other))
	t.Cleanup(func() { _ = e.s.DropNamespace(e.ctx, other) })

	e.must(e.s.CreateNamespace(e.ctx, e.ns)) // idempotent
	e.must(e.s.CreateNamespace(e.ctx, other))
	names, err := e.s.Namespaces(e.ctx)
	e.must(err)
	if !slices.IsSorted(names) {
		t.Errorf("Namespaces() not in lexical order: %q", names)
	}
	for _, ns := range []string{e.ns, other} {
		if !slices.Contains(names, ns) {
			t.Errorf("Namespaces() = %q, missing %q", names, ns)
		}
	}

	e.apply("r", put("k", "v", e.next()))
	e.must(e.s.Apply(e.ctx, other, "r", []kv.Mutation{put("k", "other", e.next())}))
	e.expect("r", kv.Query{}, kvs("k", "v")) // namespaces are separate

	e.must(e.s.DropNamespace(e.ctx, other))
	e.must(e.s.DropNamespace(e.ctx, other)) // dropping a missing namespace is nil
	names, err = e.s.Namespaces(e.ctx)
	e.must(err)
	if slices.Contains(names, other) {
		t.Errorf("Namespaces() = %q after dropping %q", names, other)
	}
	for name, call := range map[string]func() error{
		"Apply": func() error { return e.s.Apply(e.ctx, other, "r", []kv.Mutation{put("k", "v", e.next())}) },
		"Read": func() error {
			_, err := e.s.Read(e.ctx, other, "r", kv.Query{})
			return err
		},
		"IDs": func() error {
			_, _, err := e.s.IDs(e.ctx, other, nil, 0)
			return err
		},
	} {
		if err := call(); !errors.Is(err, kv.ErrNoNamespace) {
			t.Errorf("%s on dropped namespace: got %v, want ErrNoNamespace", name, err)
		}
	}
	// A re-created namespace starts empty.
	e.must(e.s.CreateNamespace(e.ctx, other))
	res, err := e.s.Read(e.ctx, other, "r", kv.Query{})
	e.must(err)
	if len(res.Items) != 0 {
		t.Errorf("re-created namespace still holds %v", keysOf(res.Items))
	}
}

// orderKeys are chosen to catch signed-byte, length-first and string
// (UTF-8) orderings.
var orderKeys = []string{"", "\x00", "\x00\x00", "\x01", "A", "B", "a", "aa", "ab", "b", "\x7f", "\x80", "\xc3\xa9", "\xff", "\xff\x00", "\xff\xff"}

func (s *suite) testOrder(t *testing.T, e *env) {
	// Write in a scrambled order.
	ts := e.next()
	var muts []kv.Mutation
	for i := range orderKeys {
		k := orderKeys[(i*7)%len(orderKeys)]
		muts = append(muts, put(k, "v"+k, ts))
	}
	e.apply("r", muts...)
	sorted := slices.Clone(orderKeys)
	slices.Sort(sorted)
	var want []string
	for _, k := range sorted {
		want = append(want, kvs(k, "v"+k)...)
	}
	e.expect("r", kv.Query{}, want)
	slices.Reverse(want)
	e.expect("r", kv.Query{Reverse: true}, want)
	e.expect("absent", kv.Query{}, nil) // a missing record reads as empty
}

func (s *suite) testKeyList(t *testing.T, e *env) {
	ts := e.next()
	e.apply("r", put("a", "1", ts), put("b", "2", ts), put("c", "3", ts), put("d", "4", ts))
	for _, c := range []struct {
		name    string
		keys    []string
		reverse bool
		want    []string
	}{
		{"sorted", []string{"a", "c"}, false, kvs("a", "1", "c", "3")},
		{"unsorted", []string{"d", "b", "a"}, false, kvs("a", "1", "b", "2", "d", "4")},
		{"reverse", []string{"d", "b", "a"}, true, kvs("d", "4", "b", "2", "a", "1")},
		{"missing", []string{"zz", "b", "0"}, false, kvs("b", "2")},
		{"duplicates", []string{"c", "c", "a"}, false, kvs("a", "1", "c", "3")},
		{"none-present", []string{"x", "y"}, false, nil},
		{"empty-list", []string{}, false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := kv.Query{Keys: [][]byte{}, Reverse: c.reverse, Start: []byte("zzz")} // Start ignored with Keys
			for _, k := range c.keys {
				q.Keys = append(q.Keys, []byte(k))
			}
			e.expect("r", q, c.want)
		})
	}
}

func (s *suite) testRanges(t *testing.T, e *env) {
	ts := e.next()
	var muts []kv.Mutation
	for _, k := range orderKeys {
		muts = append(muts, put(k, "v", ts))
	}
	e.apply("r", muts...)
	sorted := slices.Clone(orderKeys)
	slices.Sort(sorted)
	b := func(s string) []byte { return []byte(s) }
	for _, c := range []struct {
		start, end []byte
	}{
		{nil, nil}, {b(""), nil}, {nil, b("")}, {b("a"), nil}, {nil, b("a")}, {b("a"), b("b")},
		{b("A"), b("aa")}, {b("\x00"), b("\x01")}, {b("\x80"), b("\xff\xff")}, {b("\xff"), nil},
		{b("m"), b("m")}, {b("zzz"), nil}, {b("0"), b("9")},
	} {
		for _, rev := range []bool{false, true} {
			t.Run(fmt.Sprintf("%q-%q-rev=%v", c.start, c.end, rev), func(t *testing.T) {
				var want []string
				for _, k := range sorted {
					if inRange([]byte(k), c.start, c.end) {
						want = append(want, kvs(k, "v")...)
					}
				}
				if rev {
					slices.Reverse(want)
				}
				e.expect("r", kv.Query{Start: c.start, End: c.end, Reverse: rev}, want)
			})
		}
	}
}

func (s *suite) testPagination(t *testing.T, e *env) {
	const n = 230
	var muts []kv.Mutation
	var all []string
	ts := e.next()
	for i := range n {
		k := fmt.Sprintf("k%04d", i)
		v := strings.Repeat("x", i%37) // varied sizes exercise MaxBytes
		muts = append(muts, put(k, v, ts))
		all = append(all, kvs(k, v)...)
	}
	// Several Apply calls, so no backend gets one huge batch.
	for i := 0; i < len(muts); i += 50 {
		e.apply("r", muts[i:min(i+50, len(muts))]...)
	}
	rev := slices.Clone(all)
	slices.Reverse(rev)
	sub := all[20:151] // keys k0020..k0150
	subRev := slices.Clone(sub)
	slices.Reverse(subRev)
	for _, c := range []struct {
		name string
		q    kv.Query
		want []string
	}{
		{"limit1", kv.Query{Limit: 1}, all},
		{"limit7", kv.Query{Limit: 7}, all},
		{"limit7-reverse", kv.Query{Limit: 7, Reverse: true}, rev},
		{"limit-exact", kv.Query{Limit: n}, all},
		{"limit-over", kv.Query{Limit: n + 1}, all},
		{"bytes100", kv.Query{MaxBytes: 100}, all},
		{"bytes1", kv.Query{MaxBytes: 1}, all},
		{"bytes-and-limit", kv.Query{MaxBytes: 300, Limit: 9, Reverse: true}, rev},
		{"range-limit11", kv.Query{Start: []byte("k0020"), End: []byte("k0151"), Limit: 11}, sub},
		{"range-limit11-reverse", kv.Query{Start: []byte("k0020"), End: []byte("k0151"), Limit: 11, Reverse: true}, subRev},
	} {
		t.Run(c.name, func(t *testing.T) { e.expect("r", c.q, c.want) })
	}
	t.Run("keys-limit3", func(t *testing.T) {
		q := kv.Query{Limit: 3}
		var want []string
		for i := 0; i < n; i += 10 {
			q.Keys = append(q.Keys, fmt.Appendf(nil, "k%04d", i))
			want = append(want, all[i])
		}
		e.expect("r", q, want)
	})
	t.Run("changing-page-size", func(t *testing.T) {
		// Limit and MaxBytes may change between pages of one query.
		q := kv.Query{Limit: 5}
		var got []kv.Item
		for page := 0; ; page++ {
			res, err := e.s.Read(e.ctx, e.ns, "r", q)
			e.must(err)
			got = append(got, res.Items...)
			if res.Cursor == nil || page > n {
				break
			}
			q = kv.Query{Cursor: res.Cursor, Limit: 1 + page%13, MaxBytes: 50 * (page % 3)}
		}
		if g := keysOf(got); !equalStrings(g, all) {
			t.Errorf("got %d items, want %d:\n got %v\nwant %v", len(g), len(all), g, all)
		}
	})
	t.Run("writes-between-pages", func(t *testing.T) {
		// A write behind the cursor does not disturb the rest of the scan.
		res, err := e.s.Read(e.ctx, e.ns, "r", kv.Query{Limit: 10})
		e.must(err)
		e.apply("r", put("k0000a", "new", e.next()))
		rest := e.readAll("r", kv.Query{Limit: 10, Cursor: res.Cursor})
		got := append(keysOf(res.Items), keysOf(rest)...)
		if !equalStrings(got, all) {
			t.Errorf("scan across a write:\n got %v\nwant %v", got, all)
		}
	})
}

func (s *suite) testBadCursor(t *testing.T, e *env) {
	ts := e.next()
	for i := range 20 {
		e.apply("r", put(fmt.Sprintf("k%02d", i), "v", ts))
		e.apply("r2", put(fmt.Sprintf("k%02d", i), "v", ts))
	}
	res, err := e.s.Read(e.ctx, e.ns, "r", kv.Query{Limit: 3})
	e.must(err)
	if res.Cursor == nil {
		t.Fatal("Read(Limit 3 of 20) returned no cursor")
	}
	good := res.Cursor
	garbage := []byte("this is not a cursor at all, not even close")
	flipped := slices.Clone(good)
	flipped[len(flipped)/2] ^= 0x55
	for _, c := range []struct {
		name   string
		id     string
		q      kv.Query
		cursor []byte
	}{
		{"garbage", "r", kv.Query{Limit: 3}, garbage},
		{"empty-non-nil", "r", kv.Query{Limit: 3}, []byte{}},
		{"one-byte", "r", kv.Query{Limit: 3}, []byte{1}},
		{"truncated", "r", kv.Query{Limit: 3}, good[:len(good)/2]},
		{"bit-flipped", "r", kv.Query{Limit: 3}, flipped},
		{"other-id", "r2", kv.Query{Limit: 3}, good},
		{"other-range", "r", kv.Query{Limit: 3, Start: []byte("k10")}, good},
		{"other-direction", "r", kv.Query{Limit: 3, Reverse: true}, good},
		{"ids-cursor", "r", kv.Query{Limit: 3}, s.idsCursor(e)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.cursor == nil {
				t.Skip("no IDs cursor to replay")
			}
			c.q.Cursor = c.cursor
			res, err := e.s.Read(e.ctx, e.ns, c.id, c.q)
			// A backend that cannot tell a flipped bit from a valid position
			// must at least not return items from outside the query.
			if c.name == "bit-flipped" && err == nil {
				if perr := pageCheck(c.q, res); perr != nil {
					t.Errorf("bit-flipped cursor: %v", perr)
				}
				return
			}
			if !errors.Is(err, kv.ErrBadCursor) {
				t.Errorf("Read with %s cursor: got %v (%d items), want ErrBadCursor", c.name, err, len(res.Items))
			}
		})
	}
	t.Run("ids-garbage", func(t *testing.T) {
		if _, _, err := e.s.IDs(e.ctx, e.ns, garbage, 1); !errors.Is(err, kv.ErrBadCursor) {
			t.Errorf("IDs with garbage cursor: got %v, want ErrBadCursor", err)
		}
	})
}

// idsCursor returns a cursor from IDs, or nil if the store returned none.
func (s *suite) idsCursor(e *env) []byte {
	_, next, err := e.s.IDs(e.ctx, e.ns, nil, 1)
	e.must(err)
	return next
}

func (s *suite) testEmpty(t *testing.T, e *env) {
	ts := e.next()
	e.apply("r",
		kv.Mutation{Op: kv.OpPut, Key: nil, Value: []byte("nil-key"), Timestamp: ts},
		kv.Mutation{Op: kv.OpPut, Key: []byte("empty-value"), Value: []byte{}, Timestamp: ts},
		kv.Mutation{Op: kv.OpPut, Key: []byte("meta"), Value: []byte("v"), Metadata: []byte{0, 1, 2}, Timestamp: ts},
	)
	items := e.readAll("r", kv.Query{})
	if len(items) != 3 {
		t.Fatalf("got %v, want 3 items", keysOf(items))
	}
	if len(items[0].Key) != 0 || string(items[0].Value) != "nil-key" {
		t.Errorf("empty key: got %q=%q", items[0].Key, items[0].Value)
	}
	if string(items[1].Key) != "empty-value" || len(items[1].Value) != 0 {
		t.Errorf("empty value: got %q=%#v, want an empty value", items[1].Key, items[1].Value)
	}
	if string(items[2].Metadata) != "\x00\x01\x02" || len(items[0].Metadata) != 0 {
		t.Errorf("metadata: got %q and %q, want \"\\x00\\x01\\x02\" and empty", items[2].Metadata, items[0].Metadata)
	}
	for _, it := range items {
		if it.Timestamp != ts {
			t.Errorf("item %q timestamp = %d, want %d", it.Key, it.Timestamp, ts)
		}
	}
	// The empty key is addressable by key list and deletable.
	e.expect("r", kv.Query{Keys: [][]byte{{}}}, kvs("", "nil-key"))
	e.apply("r", del("", e.next()))
	e.expect("r", kv.Query{Keys: [][]byte{nil}}, nil)
}
