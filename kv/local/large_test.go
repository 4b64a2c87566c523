package local_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/edgekit/edgekit/kv"
	"github.com/edgekit/edgekit/kv/local"
	"github.com/edgekit/edgekit/wal"
)

// TestLargerThanCache writes a data set many times the page cache, reads
// it back at random and in order, deletes half, and checks that the cache
// never holds more than its budget and that freed pages are reused.
func TestLargerThanCache(t *testing.T) {
	ctx := context.Background()
	const cache = 64 * 4096 // 64 pages
	items := 8000
	if longMode() {
		items = 100000
	}
	dir := t.TempDir()
	// SyncNormal: this test is about the cache, not fsync; it writes one
	// item per commit so that every commit dirties a random leaf.
	s, err := local.Open(dir, &local.Options{CacheSize: cache, SweepInterval: -1, Sync: wal.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.CreateNamespace(ctx, "ns")
	seed := testSeed(t, "KVLOCAL_LARGE_SEED")
	r := rand.New(rand.NewPCG(seed, 0))
	key := func(i int) (string, string) { return fmt.Sprintf("rec%03d", i%500), fmt.Sprintf("item%06d", i) }
	size := func(i int) int {
		if i%50 == 0 {
			return 6000 // some overflow chains
		}
		return 100 + i%200
	}
	// Records in random order, each record's items in random order, one
	// commit per record: the inserts land all over the tree.
	byRec := map[string][]int{}
	for _, i := range r.Perm(items) {
		id, _ := key(i)
		byRec[id] = append(byRec[id], i)
	}
	for _, rec := range r.Perm(500) {
		id := fmt.Sprintf("rec%03d", rec)
		var muts []kv.Mutation
		for _, i := range byRec[id] {
			_, k := key(i)
			muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: []byte(k), Value: crashValue(k, size(i)), Timestamp: 1})
		}
		if err := s.Apply(ctx, "ns", id, muts); err != nil {
			t.Fatal(err)
		}
	}
	vs := mustVerify(t, s)
	st, _ := s.Stats()
	data := int64(vs.Pages) * int64(st.PageSize)
	t.Logf("file %d pages (%.1f MiB), cache %d bytes: %.1fx the cache", vs.Pages, float64(data)/(1<<20), st.CacheLimit, float64(data)/cache)
	if data < 10*cache {
		t.Fatalf("data set %d bytes is under 10x the %d-byte cache", data, cache)
	}
	var ms runtime.MemStats
	for range 3000 {
		i := r.IntN(items)
		id, k := key(i)
		res, err := s.Read(ctx, "ns", id, kv.Query{Keys: [][]byte{[]byte(k)}})
		if err != nil || len(res.Items) != 1 || !intact(k, res.Items[0].Value) || len(res.Items[0].Value) != size(i) {
			t.Fatalf("read %s/%s: %d items, err %v", id, k, len(res.Items), err)
		}
	}
	st, _ = s.Stats()
	if st.CacheBytes > st.CacheLimit {
		t.Fatalf("cache holds %d bytes, limit %d", st.CacheBytes, st.CacheLimit)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	t.Logf("after random reads: cache %d pages, %d of %d bytes, %d hits %d misses; heap in use %.1f MiB", st.CachePages, st.CacheBytes, st.CacheLimit, st.CacheHits, st.CacheMisses, float64(ms.HeapInuse)/(1<<20))
	// A full scan of one record in order.
	res, err := s.Read(ctx, "ns", "rec007", kv.Query{})
	if err != nil || len(res.Items) != items/500 {
		t.Fatalf("scan: %d items, want %d (%v)", len(res.Items), items/500, err)
	}
	// Delete half the records; the freed pages come back for new writes.
	for i := 0; i < 500; i += 2 {
		if err := s.Apply(ctx, "ns", fmt.Sprintf("rec%03d", i), []kv.Mutation{{Op: kv.OpDeleteRange, Timestamp: 2}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SweepNow(ctx); err != nil {
		t.Fatal(err)
	}
	after := mustVerify(t, s)
	t.Logf("after deleting half: %d entries, %d free pages of %d", after.Entries, after.FreePages, after.Pages)
	if after.FreePages < int(vs.Pages)/4 {
		t.Fatalf("only %d of %d pages freed after deleting half the data", after.FreePages, vs.Pages)
	}
	for lo := 0; lo < items/2; lo += 50 {
		var muts []kv.Mutation
		for i := lo; i < lo+50; i++ {
			k := fmt.Sprintf("new%06d", i)
			muts = append(muts, kv.Mutation{Op: kv.OpPut, Key: []byte(k), Value: crashValue(k, 150), Timestamp: 3})
		}
		if err := s.Apply(ctx, "ns", "fresh", muts); err != nil {
			t.Fatal(err)
		}
	}
	// Compare with the file after the deletes, not before them: writing
	// the tombstones may split a leaf before the sweeper has freed
	// anything, and whether it does depends on the sweeper's timing.
	final := mustVerify(t, s)
	t.Logf("after refilling: %d pages (was %d before deleting, %d after), %d free", final.Pages, vs.Pages, after.Pages, final.FreePages)
	if final.Pages > after.Pages {
		t.Fatalf("file grew from %d to %d pages although %d were free", after.Pages, final.Pages, after.FreePages)
	}
	if used := after.FreePages - final.FreePages; used <= 0 {
		t.Fatalf("refill took no free pages (%d free before, %d after)", after.FreePages, final.FreePages)
	}
}
