package edgecache

import "bytes"

// laneRequest is what the lane needs of a request it may answer.
type laneRequest struct {
	head bool   // HEAD rather than GET
	hop  bool   // carries HopHeader: a peer edge's request
	path []byte // aliases the read buffer: valid until the next read
}

// parseLaneHead parses a complete request head (through the blank line)
// and reports whether the lane may answer it: an HTTP/1.1 GET or HEAD
// of an origin-form path, one Host, only the headers laneHeaderName allows, and a
// Connection header (if any) of keep-alive. It never decides that a request
// is bad — anything unusual, malformed or not, is left to net/http, which
// answers it as it always did (FuzzLaneHead holds accepted heads to
// net/http's parser).
func parseLaneHead(head []byte) (laneRequest, bool) {
	var r laneRequest
	line, rest, ok := cutLine(head)
	if !ok {
		return r, false
	}
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		line = line[4:]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		line, r.head = line[5:], true
	default:
		return r, false
	}
	path, proto, ok := bytes.Cut(line, []byte(" "))
	if !ok || string(proto) != "HTTP/1.1" || len(path) == 0 || path[0] != '/' {
		return r, false
	}
	r.path = path
	hosts, hopSeen := 0, false
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return r, false
		}
		if len(line) == 0 {
			return r, hosts == 1 && len(rest) == 0
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !laneHeaderName(name) {
			return r, false
		}
		value = bytes.Trim(value, " \t")
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return r, false
			}
		}
		switch {
		case bytes.EqualFold(name, []byte("host")):
			hosts++
			if !laneHost(value) {
				return r, false
			}
		case bytes.EqualFold(name, []byte(HopHeader)):
			// As http.Header.Get reads it: the first one, if not empty.
			if !hopSeen {
				hopSeen, r.hop = true, len(value) > 0
			}
		case bytes.EqualFold(name, []byte("connection")):
			if !bytes.EqualFold(value, []byte("keep-alive")) {
				return r, false
			}
		}
	}
}

// cutLine splits off one CRLF-terminated line. A bare LF, a CR inside a
// line or a folded continuation line are not ours to interpret.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	line, rest = b[:i-1], b[i+1:]
	if bytes.IndexByte(line, '\r') >= 0 || len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return nil, nil, false
	}
	return line, rest, true
}

// laneHeaderName reports whether the lane tolerates a request header: what
// players, browsers and peer edges send with a segment GET, none of which
// changes the answer to one. Any other header (Range, If-*, Content-Length,
// Transfer-Encoding, Expect, Upgrade, ...) sends the connection to net/http.
func laneHeaderName(name []byte) bool {
	var low [24]byte
	if len(name) > len(low) {
		return false
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		low[i] = c
	}
	switch string(low[:len(name)]) {
	case "host", "user-agent", "accept", "accept-encoding", "accept-language",
		"connection", "origin", "referer", "cache-control", "pragma", "edgekit-hop",
		"sec-fetch-dest", "sec-fetch-mode", "sec-fetch-site", "sec-ch-ua",
		"sec-ch-ua-mobile", "sec-ch-ua-platform", "dnt":
		return true
	}
	return false
}

// laneHost accepts the Host values of plain names and addresses (letters,
// digits, '.', '-', ':', '[', ']'); net/http judges anything else.
func laneHost(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == ':', c == '[', c == ']':
		default:
			return false
		}
	}
	return true
}
