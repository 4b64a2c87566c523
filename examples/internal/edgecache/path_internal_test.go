package edgecache

import (
	"regexp"
	"testing"
)

// pathRE is the specification validPath implements by hand.
var pathRE = regexp.MustCompile(`^/live/[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*(\.(mpd|m3u8|mp4|m4s))?$`)

var pathCases = []struct {
	path string
	want bool
}{
	{"/live/ch1/0/5.m4s", true},
	{"/live/ch1/manifest.mpd", true},
	{"/live/ch1/master.m3u8", true},
	{"/live/vod/seg_65536.m4s", true},
	{"/live/ch1/init.mp4", true},
	{"/live/ch1", true},
	{"/live/a", true},
	{"/live/A_b/C9", true},
	{"/live/", false},
	{"/live", false},
	{"/live//x.m4s", false},
	{"/live/ch1/", false},
	{"/live/ch1/.m4s", false},
	{"/live/.m4s", false},
	{"/live/../etc/passwd", false},
	{"/live/ch1/..%2f..%2fetc/passwd", false},
	{"/live/ch1/0/1.exe", false},
	{"/live/ch1/0/1.m4s.m4s", false},
	{"/live/ch1/0/1.", false},
	{"/live/ch1/0/1.M4S", false},
	{"/live/ch-1/0.m4s", false},
	{"/live/ch1/0/1.m4s/", false},
	{"/etc/passwd", false},
	{"/livex/ch1.m4s", false},
	{"/live/ch 1.m4s", false},
	{"/live/ch\x001.m4s", false},
	{"/live/é.m4s", false},
	{"", false},
}

func TestValidPath(t *testing.T) {
	for _, tc := range pathCases {
		t.Run(tc.path, func(t *testing.T) {
			if got := validPath(tc.path); got != tc.want {
				t.Errorf("validPath(%q): got %v want %v", tc.path, got, tc.want)
			}
			if re := pathRE.MatchString(tc.path); re != tc.want {
				t.Errorf("the regexp disagrees with the table on %q: %v", tc.path, re)
			}
		})
	}
}

// FuzzValidPath holds the hand-written matcher to the regexp.
func FuzzValidPath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add(tc.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := validPath(p), pathRE.MatchString(p); got != want {
			t.Fatalf("validPath(%q): got %v, regexp says %v", p, got, want)
		}
	})
}

func BenchmarkValidPath(b *testing.B) {
	const p = "/live/vod/seg_65536.m4s"
	b.Run("hand", func(b *testing.B) {
		for b.Loop() {
			validPath(p)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			pathRE.MatchString(p)
		}
	})
}
