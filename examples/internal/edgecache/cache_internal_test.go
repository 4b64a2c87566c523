package edgecache

import (
	"bytes"
	"testing"
	"time"
)

// TestCacheEvictsLeastRecentlyUsed: past the byte budget the entry nobody
// read for longest goes, not the oldest stored.
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c := newCache("", 1<<20, 4000, func() time.Time { return now })
	defer c.close()
	body := bytes.Repeat([]byte{1}, 1000)
	for _, k := range []string{"/a", "/b", "/c", "/d"} { // exactly the budget
		c.put(k, 200, "video/mp4", body, time.Minute)
	}
	if e := c.get("/a"); e == nil { // /a, stored first, is now the most recent
		t.Fatal("/a missing before any eviction")
	} else {
		e.release()
	}
	c.put("/e", 200, "video/mp4", body, time.Minute) // over budget: one must go
	for k, want := range map[string]bool{"/a": true, "/b": false, "/c": true, "/d": true, "/e": true} {
		e := c.get(k)
		if (e != nil) != want {
			t.Errorf("%s cached %v, want %v", k, e != nil, want)
		}
		if e != nil {
			e.release()
		}
	}
}
