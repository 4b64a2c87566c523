package liveorigin_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/kvopen"
	"github.com/edgekit/edgekit/examples/internal/liveorigin"
	"github.com/edgekit/edgekit/internal/peertest"
	"github.com/edgekit/edgekit/kv/kvtest"
	"github.com/edgekit/edgekit/timeseries"
)

// TestEventsInTimeseries: published, defect and late events land in the
// timeseries namespace, one series per channel and kind.
func TestEventsInTimeseries(t *testing.T) {
	ctx := context.Background()
	store := kvtest.NewMemStore()
	l := loop(t)
	now := l.Epoch().AvailabilityTime(live).Add(100 * time.Millisecond)
	ns, err := timeseries.Open(ctx, store, "origin_events", &timeseries.Options{NoBackground: true, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	f := newFixture(t, store, liveorigin.Config{Recorder: &liveorigin.TimeseriesRecorder{NS: ns, Now: func() time.Time { return now }}})
	f.clk.Set(now)
	f.pushInits("a", "0")
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live-3), f.seg("0", live-3), http.StatusCreated)  // late: 3 segments after availability
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live-1), f.seg("0", live-1), http.StatusAccepted) // gap
	f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", live), f.seg("0", live), http.StatusCreated)
	f.put("a", fmt.Sprintf("seg-0-%d.m4s", live+1), []byte("garbage")) // refused
	for _, tc := range []struct {
		kind string
		want int
	}{{liveorigin.EventPublished, 2}, {liveorigin.EventDefect, 2}, {liveorigin.EventLate, 2}} {
		pg, err := ns.Read(ctx, ch+"/"+tc.kind, now.Add(-time.Hour), now.Add(time.Hour), nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Events) != tc.want {
			t.Errorf("%s events: got %d want %d", tc.kind, len(pg.Events), tc.want)
		}
		for _, e := range pg.Events {
			if r, _ := e.Item("rendition"); string(r) != "0" {
				t.Errorf("%s event rendition: got %q", tc.kind, r)
			}
		}
	}
}

// TestOnCassandra runs ingest and serving with the distributed backend the
// -kv cassandra://... flag selects.
func TestOnCassandra(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	addr := peertest.TCP(t, "EDGEKIT_CASSANDRA", "127.0.0.1:9042", "scripts/cassandra.sh start")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	host := strings.Split(addr, ",")[0]
	store, where, err := kvopen.Open(ctx, "cassandra://"+host+"/edgekit_examples", "")
	if err != nil {
		t.Fatalf("open %s: %v", where, err)
	}
	defer store.Close()
	f := newFixture(t, store, liveorigin.Config{HoldOpen: 100 * time.Millisecond})
	f.pushInits("a", "0")
	for n := uint64(live - 1); n <= live; n++ {
		f.mustPut("a", fmt.Sprintf("seg-0-%d.m4s", n), f.seg("0", n), http.StatusCreated)
	}
	rec := f.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live), nil)
	if rec.Code != http.StatusOK || rec.Body.Len() != len(f.seg("0", live)) {
		t.Fatalf("GET on Cassandra: got %d (%d bytes)", rec.Code, rec.Body.Len())
	}
	// A second origin on the same keyspace (another node of an origin
	// fleet, or a restart) serves the same window.
	g := newFixture(t, store, liveorigin.Config{HoldOpen: 100 * time.Millisecond})
	g.clk.Set(f.clk.Now())
	if rec := g.do(http.MethodGet, fmt.Sprintf("/live/%s/0/%d.m4s", ch, live-1), nil); rec.Code != http.StatusOK {
		t.Fatalf("second origin on the same keyspace: got %d", rec.Code)
	}
}
