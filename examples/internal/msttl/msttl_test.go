package msttl_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/edgekit/edgekit/examples/internal/msttl"
)

func TestSetGet(t *testing.T) {
	for _, tc := range []struct {
		set        time.Duration
		header, cc string
	}{
		{1500 * time.Millisecond, "1500", "public, max-age=2"},
		{time.Microsecond, "1", "public, max-age=1"},
		{24 * time.Hour, "86400000", "public, max-age=86400"},
		{0, "", "no-store"},
		{-time.Second, "", "no-store"},
	} {
		h := http.Header{}
		msttl.Set(h, tc.set)
		if h.Get(msttl.Header) != tc.header || h.Get("Cache-Control") != tc.cc {
			t.Errorf("Set(%v): got %q / %q, want %q / %q", tc.set, h.Get(msttl.Header), h.Get("Cache-Control"), tc.header, tc.cc)
		}
	}
}

func TestGet(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"ms-wins", map[string]string{msttl.Header: "250", "Cache-Control": "max-age=5"}, 250 * time.Millisecond},
		{"max-age", map[string]string{"Cache-Control": "public, max-age=5"}, 5 * time.Second},
		{"no-store", map[string]string{msttl.Header: "250", "Cache-Control": "no-store"}, 0},
		{"private", map[string]string{"Cache-Control": "private, max-age=5"}, 0},
		{"bad-ms", map[string]string{msttl.Header: "-3", "Cache-Control": "max-age=2"}, 2 * time.Second},
		{"garbage", map[string]string{msttl.Header: "x", "Cache-Control": "max-age=y"}, 0},
		{"none", nil, 0},
		{"huge-max-age", map[string]string{"Cache-Control": "max-age=18446744074"}, (1 << 31) * time.Second},
		{"overflowing-max-age", map[string]string{"Cache-Control": "max-age=9223372036"}, (1 << 31) * time.Second},
		{"huge-ms", map[string]string{msttl.Header: "9223372036854775807"}, (1 << 31) * time.Second},
	} {
		h := http.Header{}
		for k, v := range tc.header {
			h.Set(k, v)
		}
		if got := msttl.Get(h); got != tc.want {
			t.Errorf("%s: got %v want %v", tc.name, got, tc.want)
		}
	}
}
