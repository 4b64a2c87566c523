package edgecache

import "strings"

// validPath reports whether p is something the edge proxies: the origin's
// /live/ tree, with names that cannot climb out of it. It accepts exactly
// the paths matching
//
//	^/live/[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*(\.(mpd|m3u8|mp4|m4s))?$
//
// (FuzzValidPath holds it to that regexp), by hand because it runs on every
// request and a regexp match cost more than the rest of a hit's handler.
// No dot can appear outside the extension, so ".." never passes.
func validPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/live/")
	if !ok {
		return false
	}
	if i := strings.LastIndexByte(rest, '.'); i >= 0 {
		switch rest[i+1:] {
		case "mpd", "m3u8", "mp4", "m4s":
		default:
			return false
		}
		rest = rest[:i]
	}
	// What is left: non-empty words of [A-Za-z0-9_] separated by single
	// slashes, with no slash at either end.
	word := 0
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '/':
			if word == 0 {
				return false
			}
			word = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
			word++
		default:
			return false
		}
	}
	return word > 0
}
