package ktls

import (
	"bytes"
	"crypto/tls"
	"testing"
)

// FuzzParseClientHello: the sniffer reads untrusted bytes before crypto/tls
// does; it must never panic and must report the random where it says ok.
func FuzzParseClientHello(f *testing.F) {
	hello := append([]byte{22, 3, 1, 0, 60, 1, 0, 0, 56, 3, 3}, bytes.Repeat([]byte{7}, 32)...)
	hello = append(hello, 0, 0, 2, 0x13, 0x01, 1, 0, 0, 8, 0, 35, 0, 4, 1, 2, 3, 4)
	f.Add(hello)
	f.Add([]byte{22, 3, 1, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ch, ok := parseClientHello(b)
		if ok && !bytes.Equal(ch.random[:], b[11:43]) {
			t.Fatalf("random %x, want %x", ch.random, b[11:43])
		}
		if ok && len(ch.ticket) > 0 && !bytes.Contains(b, ch.ticket) {
			t.Fatalf("ticket not taken from the input")
		}
	})
}

func TestParseClientHelloTicket(t *testing.T) {
	hello := append([]byte{22, 3, 1, 0, 60, 1, 0, 0, 56, 3, 3}, bytes.Repeat([]byte{7}, 32)...)
	hello = append(hello, 0, 0, 2, 0x13, 0x01, 1, 0, 0, 8, 0, 35, 0, 4, 1, 2, 3, 4)
	hello[4] = byte(len(hello) - 5)
	ch, ok := parseClientHello(hello)
	if !ok || !bytes.Equal(ch.ticket, []byte{1, 2, 3, 4}) || ch.random[0] != 7 {
		t.Fatalf("got %+v ok=%v, want random 07.. and ticket 01020304", ch, ok)
	}
}

// FuzzKeyLogLine: key-log parsing never panics and round-trips valid lines.
func FuzzKeyLogLine(f *testing.F) {
	f.Add([]byte("CLIENT_RANDOM 0707070707070707070707070707070707070707070707070707070707070707 aabb\n"))
	f.Add([]byte("X 00 00"))
	f.Fuzz(func(t *testing.T, line []byte) {
		label, _, secret, ok := parseKeyLogLine(line)
		if ok && (label == "" || len(secret) == 0) {
			t.Fatalf("ok with empty label or secret")
		}
	})
}

// FuzzDeriveTX: arbitrary server flights must be rejected or accounted,
// never panic.
func FuzzDeriveTX(f *testing.F) {
	f.Add([]byte{22, 3, 3, 0, 4, 2, 0, 0, 0, 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Add([]byte{23, 3, 3, 0, 0}, true)
	secret := bytes.Repeat([]byte{1}, 48)
	f.Fuzz(func(t *testing.T, out []byte, v13 bool) {
		s, _ := lookupSuite(tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
		hr := handshakeRecord{out: out, secrets: map[string][][]byte{labelMaster12: {secret}}}
		if v13 {
			s, _ = lookupSuite(tls.VersionTLS13, tls.TLS_AES_128_GCM_SHA256)
			hr.secrets = map[string][][]byte{labelServerTraffic13: {secret[:32]}, labelServerHandshake13: {secret[:32]}}
		}
		if st, err := deriveTX(s, hr); err == nil && st.seq > uint64(len(out)) {
			t.Fatalf("seq %d from %d bytes", st.seq, len(out))
		}
	})
}
